"""The `unified_edit` rows themselves: which images and instructions, in which order, from whom.

(BAGEL's own reader takes them in test_export_bagel_readers.py, in BAGEL's environment.)
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from studio.core.domain import RunSettings
from studio.export import export

pytestmark = pytest.mark.backends


@pytest.fixture
def edited(runner, scripted):
    """sketch → eve refines twice in a row (the second redrawn once: rejected "blurry", then accepted by
    fay) → final."""
    t = runner.new_session(
        "a red apple", engine="scripted", seed=5, settings=RunSettings(max_rounds=3)
    )
    runner.advance(t)
    sketch = runner.advance(t)
    first = runner.refine_with(t, sketch.id, "make the apple redder", by="eve")
    blurry = runner.refine_with(t, first.id, "add a leaf", by="eve")
    second = runner.reject(t, blurry.id, note="blurry", by="eve")
    runner.accept(t, second.id, by="fay")
    runner.run(t)
    steps = t.steps
    return t, steps[sketch.id], steps[first.id], steps[blurry.id], steps[second.id]


def test_a_run_of_refines_is_one_row_and_a_redraw_that_did_not_read_the_reason_none(
    store, edited, tmp_path
):
    t, sketch, first, blurry, second = edited
    out = tmp_path / "edit"
    export(store, "unified_edit", out, val_fraction=0.0)
    table = pq.read_table(out / "train" / "part-00000.parquet")
    assert table.column_names[:2] == [
        "image_list",
        "instruction_list",
    ]  # what BAGEL's parse_row reads
    rows = {r["source"]: r for r in table.to_pylist()}
    run = rows["refine"]
    assert run["step_ids"] == [sketch.id, first.id, second.id]  # the rejected refine is left out
    assert run["instruction_list"] == [["make the apple redder"], ["add a leaf"]]
    assert run["image_list"] == [
        store.image_path(s.image.sha256).read_bytes() for s in (sketch, first, second)
    ]
    assert run["annotators"] == ["eve", "fay"] and run["annotator"] == "eve,fay"
    # the scripted engine does not say it read "blurry": the redraw was a fresh sample, no edit
    # (tests/export/test_export_provenance.py has an engine that does)
    assert "redraw" not in rows
    # every path relative to the folder, as BAGEL joins them (os.path.join(data_dir, name))
    info = json.loads((out / "parquet_info.json").read_text())
    assert info == {"train/part-00000.parquet": {"num_row_groups": 1, "num_rows": 1}}
    entry = json.loads((out / "dataset_info.json").read_text())["unified_edit"][
        "stroke_studio_edit_train"
    ]
    assert entry == {
        "data_dir": "train",
        "num_files": 1,
        "num_total_samples": 1,
        "parquet_info_path": "parquet_info.json",
    }


def test_a_redraw_without_a_note_or_an_accept_is_no_edit(store, runner, scripted, tmp_path):
    t = runner.new_session(
        "a red apple", engine="scripted", seed=5, settings=RunSettings(max_rounds=1)
    )
    runner.advance(t)
    redraw = runner.reject(t, runner.advance(t).id)  # no note: nothing says what the redraw fixes
    runner.accept(t, redraw.id)
    runner.run(t)
    out = tmp_path / "edit"
    report = export(store, "unified_edit", out, val_fraction=0.0)
    assert report.files == [
        "parquet_info.json",
        "train/inspect.jsonl",  # the verdicts beside the edits: BAGEL's trainer needs text loss
        "dataset_info.json",
        "data.yaml",
        "TRAIN.md",
        "manifest.json",
    ]
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["unified_edit"] == {} and list(info["vlm_sft"]) == ["stroke_studio_inspect_train"]
