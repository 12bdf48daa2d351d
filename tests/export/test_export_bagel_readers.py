"""The exports read by the training-data code of the models they are for, in BAGEL's environment.

`unified_edit` and `vlm-sft` by BAGEL's own classes, `bagel` by IRG's `MultiThinkInterleaveT2IDataset`
and `think-trace` by Zebra-CoT's `ThinkTraceJSONLIterableDataset` (both BAGEL forks, same pins). Each
test asserts what the reader trains on (its sequence plan's loss flags and texts), not only that rows load.

tests/kits/bagel_read_exports.py runs in `.bagel-env` (tests/kits/bagel_kit.py builds it) with BAGEL's clone
on its path: `UnifiedEditIterableDataset` directly and through DATASET_INFO + PackedDataset (what
BAGEL's pretrain_unified_navit.py builds), and `SftJSONLIterableDataset` over the vlm-sft lines.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pyarrow.parquet as pq
import pytest

from studio.core import protocol
from studio.engines.bagel import transcript
from studio.export import export

from ..kits import bagel_kit
from ..kits.upstream import IRG, ZEBRA_COT
from .test_export_support import jsonl, steered


@pytest.fixture(scope="module")
def bagel_python():
    return bagel_kit.bagel_python()


def read_with_bagel(python: str, kind: str, root, clone=None) -> dict:
    """Run tests/kits/bagel_read_exports.py KIND ROOT in BAGEL's environment with `clone` (BAGEL's, or
    a fork of it: IRG, Zebra-CoT) on the path, from inside the export folder."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(clone or bagel_kit.CLONE), str(bagel_kit.STANDINS)]),
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


def _bagel_elements(out):
    """(type, need_loss, need_vae, need_vit, content or None) of the one train row's assistant parts."""
    (row,) = pq.read_table(out / "train" / "part-00000.parquet").to_pylist()
    return [
        (
            e["type"],
            e["need_loss"],
            e.get("need_vae"),
            e.get("need_vit"),
            e["content"] if e["type"] == "text" else None,
        )
        for e in json.loads(row["conversation"])[-1]["content"]
    ]


def test_a_copied_bagel_export_is_read_by_irgs_dataset_with_loss_only_on_the_targets(
    store, session, tmp_path, bagel_python
):
    clone = IRG.require()
    written = tmp_path / "bagel"
    export(store, "bagel", written, val_fraction=0.0)
    out = tmp_path / "elsewhere" / "copy"
    shutil.copytree(written, out)
    shutil.rmtree(written)
    result = read_with_bagel(bagel_python, "irg_bagel", out, clone=clone)
    assert result["errors"] == []
    (row,) = result["rows"]
    parts = _bagel_elements(out)
    # IRG's plan, element by element: user turns and requests not learned; a target image is a
    # generation target then conditions what follows (vae loss, vae, vit); the rejected draft is
    # only seen (vit)
    expected = [["text", 0], ["text", 0]]  # system text, "Prompt: ..."
    for kind, loss, vae, vit, _ in parts:
        if kind == "text":
            expected.append(["text", int(loss)])
        else:
            expected += (
                [["vae_image", 1]] * loss + [["vae_image", 0]] * vae + [["vit_image", 0]] * vit
            )
    assert row["plan"] == expected  # IRG skips an image it cannot decode: none was skipped
    images = [p for p in parts if p[0] == "image"]
    assert [(loss, vae, vit) for _, loss, vae, vit, _ in images] == [
        (False, False, True),  # the rejected "too dark" draft
        (True, True, True),  # its redraw, accepted by bob
        (True, True, True),  # the model's refine
        (True, True, True),  # sketch2, accepted
        (True, True, True),  # the person's own refine
    ]
    learned = [
        text for (kind, loss), text in zip(row["plan"], _texts_in(row)) if kind == "text" and loss
    ]
    assert transcript.SYSTEM == row["texts"][0] and row["texts"][1] == "Prompt: a cat and a dog"
    assert learned == [p[4] for p in parts if p[0] == "text" and p[1]]
    assert "<ins>draw a dog</ins><des>a cat, a dog, WRONG</des><done>yes</done>" not in learned
    assert "<plan>yes</plan><sketch>no: too dark</sketch>" in learned
    assert not any(
        t.startswith(("Inspect the image", "Plan step", "Refine the image")) for t in learned
    )


def _texts_in(row):
    """The texts of a row aligned with its text plan entries (None for image entries)."""
    texts = iter(row["texts"])
    return [next(texts) if kind == "text" else None for kind, _ in row["plan"]]


def test_think_trace_is_read_by_zebra_cots_dataset_with_the_final_image_as_the_answer(
    store, session, tmp_path, bagel_python
):
    clone = ZEBRA_COT.require()
    out = tmp_path / "trace"
    export(store, "think-trace", out, val_fraction=0.0)
    result = read_with_bagel(bagel_python, "zebra_think_trace", out, clone=clone)
    (line,) = jsonl(out / "train" / "think_trace.jsonl")
    (row,) = result["rows"]  # none skipped (a missing image or a text/image mismatch skips a row)
    assert result["lines"] == 1
    images = [k for k in line if k.startswith("reasoning_image_")]
    # Zebra-CoT learns every thought and every image of the trace: only targets are in it
    assert row["plan"][:2] == [["text", 0], ["text", 0]]  # its system prompt, "Question: PROMPT"
    assert row["texts"][1] == "Question: a cat and a dog"
    body = row["plan"][2:]
    # redraw, refine, sketch2, own refine, and the final image the trace ends with
    assert body.count(["vae_image", 1]) == len(images) == 5
    assert all(loss == 1 for kind, loss in body if kind == "text")
    assert body[-1] == ["text", 1] and row["texts"][-1] == "<answer>Final Answer: <final/></answer>"
    assert body[-4:-1] == [["vae_image", 1], ["vae_image", 0], ["vit_image", 0]]  # ends on an image
    thoughts = " ".join(row["texts"][2:-1])
    assert "no: too dark" in thoughts  # the person's reason, as a verdict
    assert "WRONG</des>" not in thoughts  # the plan a person failed is left out
    assert "Inspect the image" not in thoughts  # no request
