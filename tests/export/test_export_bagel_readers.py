"""The `unified_edit` and `vlm-sft` exports, read by BAGEL's own training-data code in BAGEL's environment.

tests/kits/bagel_read_exports.py runs in `.bagel-env` (tests/kits/bagel_kit.py builds it) with BAGEL's clone
on its path: `UnifiedEditIterableDataset` directly and through DATASET_INFO + PackedDataset (what
BAGEL's pretrain_unified_navit.py builds), and `SftJSONLIterableDataset` over the vlm-sft lines.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from studio.export import export

from ..kits import bagel_kit
from .test_export_support import steered


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


def test_unified_edit_rows_are_read_by_bagels_edit_dataset(store, session, tmp_path, bagel_python):
    out = tmp_path / "edit"
    export(store, "unified_edit", out, val_fraction=0.0)
    result = read_with_bagel(bagel_python, "unified_edit", out)
    assert result["errors"] == []
    assert result["total_rows"] == 3  # two refine runs and the noted redraw
    rows = result["rows"]
    assert sorted(tuple(r["data_indexes"]) for r in rows) == [
        (0, 0),
        (0, 1),
        (0, 2),
    ]  # each row once
    texts = sorted(t for r in rows for t in r["texts"])
    assert texts == sorted(["fix what is missing", "remove the word WRONG", "too dark"])
    for (
        r
    ) in rows:  # the before image conditions (vae + vit), the after image is the generation target
        assert r["plan"] == [["vae_image", 0], ["vit_image", 0], ["text", 0], ["vae_image", 1]]
        assert len(r["image_shapes"]) == 3
    packed = result["packed"]
    assert packed["samples"] >= 1 and packed["mse_tokens"] > 0 and packed["vae_images"][1] == 3


def test_vlm_sft_lines_are_read_by_bagels_sft_dataset(store, session, tmp_path, bagel_python):
    out = tmp_path / "sft"
    export(store, "vlm-sft", out, val_fraction=0.0)
    result = read_with_bagel(bagel_python, "vlm_sft", out)
    assert "Traceback" not in result["stderr"]
    for name in ("alignment", "conflict"):
        got = result[name]
        assert [r["data_indexes"] for r in got["rows"]] == list(range(got["lines"]))  # none skipped
        for row in got["rows"]:
            assert row["plan"][-1] == ["text", 1]  # the answer is learned, the question is not
            assert all(loss == 0 for _, loss in row["plan"][:-1])
    alignment = result["alignment"]["rows"]
    assert all(r["plan"][0] == ["vit_image", 0] and len(r["image_shapes"]) == 1 for r in alignment)
    assert all(r["image_shapes"] == [] for r in result["conflict"]["rows"])
