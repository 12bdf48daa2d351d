"""The `unified_edit` and `vlm-sft` exports, read by BAGEL's own training-data code in BAGEL's environment.

tests/kits/bagel_read_exports.py runs in `.bagel-env` (tests/kits/bagel_kit.py builds it) with BAGEL's clone
on its path: `UnifiedEditIterableDataset` directly and through DATASET_INFO + PackedDataset (what
BAGEL's pretrain_unified_navit.py builds), and `SftJSONLIterableDataset` over the vlm-sft lines.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from studio.core import protocol
from studio.engines.bagel import transcript
from studio.export import export

from ..kits import bagel_kit
from .test_export_support import jsonl, steered


@pytest.fixture(scope="module")
def bagel_python():
    return bagel_kit.bagel_python()


def read_with_bagel(python: str, kind: str, root) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(bagel_kit.CLONE), str(bagel_kit.STANDINS)]),
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [python, str(bagel_kit.ROOT / "tests" / "kits" / "bagel_read_exports.py"), kind, str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=str(root),
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(text for text in done.stdout.splitlines() if text.startswith("RESULT "))
    return {**json.loads(line[len("RESULT ") :]), "stderr": done.stderr}


@pytest.fixture
def session(runner, scripted):
    s = steered(runner, scripted)
    runner.accept(s.trajectory, s.sketch1.id, by="bob")  # the redraw of the "too dark" sketch
    return s


def test_a_copied_unified_edit_export_is_read_by_bagels_edit_dataset(
    store, session, tmp_path, bagel_python
):
    written = tmp_path / "edit"
    export(store, "unified_edit", written, val_fraction=0.0)
    out = tmp_path / "elsewhere" / "copy"
    shutil.copytree(written, out)  # every path is relative to the folder: a copy still loads
    shutil.rmtree(written)
    result = read_with_bagel(bagel_python, "unified_edit", out)
    assert result["errors"] == []
    # the two refine runs; the redraw of "too dark" is no edit: the scripted engine does not say it
    # read the reason (a fresh sample, a pickapic preference)
    assert result["total_rows"] == 2
    rows = result["rows"]
    assert sorted(tuple(r["data_indexes"]) for r in rows) == [(0, 0), (0, 1)]  # each row once
    texts = sorted(t for r in rows for t in r["texts"])
    assert texts == sorted(["fix what is missing", "remove the word WRONG"])
    for r in rows:  # the before image conditions (vae + vit), the after image is the target
        assert r["plan"] == [["vae_image", 0], ["vit_image", 0], ["text", 0], ["vae_image", 1]]
        assert len(r["image_shapes"]) == 3
    packed = result["packed"]
    assert packed["samples"] >= 1 and packed["mse_tokens"] > 0 and packed["vae_images"][1] == 3


def test_vlm_sft_lines_are_read_by_bagels_sft_dataset_with_the_loss_on_the_full_verdict(
    store, session, tmp_path, bagel_python
):
    out = tmp_path / "sft"
    export(store, "vlm-sft", out, val_fraction=0.0)
    result = read_with_bagel(bagel_python, "vlm_sft", out)
    assert "Traceback" not in result["stderr"]
    assert set(result) - {"stderr"} == {"inspect"}
    got = result["inspect"]
    lines = jsonl(out / "train" / "inspect.jsonl")
    assert [r["data_indexes"] for r in got["rows"]] == list(range(got["lines"]))  # none skipped
    assert got["lines"] == len(lines) > 0
    for row in got["rows"]:  # (BAGEL shuffles the lines by epoch: compared as a set below)
        # the engine's inspect context, not learned: the texts up to the plan, the image (seen through
        # the ViT) where the engine shows it, the inspect request; then the answer, learned
        assert row["plan"] == [["text", 0], ["vit_image", 0], ["text", 0], ["text", 1]]
        assert row["texts"][1] == transcript.INSPECT_REQUEST
        assert len(row["image_shapes"]) == 1
        protocol.read_verdict(row["texts"][-1], strict=True)  # the engine's reader reads it
        assert row["texts"][0].startswith(transcript.SYSTEM)  # the question: the engine's context
    # what is learned is each line's full verdict, once
    assert sorted(row["texts"][-1] for row in got["rows"]) == sorted(
        line["conversations"][1]["value"] for line in lines
    )
