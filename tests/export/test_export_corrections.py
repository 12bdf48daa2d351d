"""Every human correction reaches the training subsets it belongs to, once (issue 15's export gap).

A person accepts a sketch; the model's inspect then judges that sketch and someone else overrides
the verdict. Both are people's labels of the same image against the same instruction: the
de-duplication used to keep only the first (the accept), so the override reached neither
`vlm-sft` nor `trl-pref`. Real store, real runner, the scripted engine (tests/kits/fakes.py).
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from studio.core.domain import RunSettings, Stage
from studio.export import export
from studio.export.roundtrip import renumbered

pytestmark = pytest.mark.backends


def _accepted_then_overridden(runner, prompt="a red apple"):
    t = runner.new_session(prompt, engine="scripted", seed=3, settings=RunSettings(max_rounds=3))
    runner.advance(t)  # plan
    sketch = runner.advance(t)
    assert sketch.stage is Stage.SKETCH
    runner.accept(t, sketch.id, by="ana")
    inspect = runner.advance(t)
    assert inspect.stage is Stage.INSPECT and inspect.sketch_check.passed
    runner.override(
        t, inspect.id, sketch_passed=False, sketch_critique="the apple is green", by="ben"
    )
    runner.run(t)
    return t, sketch, inspect


def _jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _labels_of(rows, sketch_id):
    """(source, label, verdict_annotator) of every alignment row about the sketch's image."""
    return sorted(
        (r["source"], r["label"], r["verdict_annotator"])
        for r in rows
        if r["image_step_id"] == sketch_id
    )


def test_an_override_after_an_accept_reaches_every_subset_format(store, runner, scripted, tmp_path):
    t, sketch, inspect = _accepted_then_overridden(runner)
    both = [("inspect", "negative", "ben"), ("review", "positive", "ana")]

    export(store, "folder", tmp_path / "folder", val_fraction=0.0)
    assert _labels_of(_jsonl(tmp_path / "folder/train/alignment.jsonl"), sketch.id) == both

    export(store, "hf", tmp_path / "hf", val_fraction=0.0)
    rows = pq.read_table(tmp_path / "hf/alignment/train-00000-of-00001.parquet").to_pylist()
    assert _labels_of(rows, sketch.id) == both

    export(store, "vlm-sft", tmp_path / "sft", val_fraction=0.0)
    sft = _jsonl(tmp_path / "sft/train/inspect.jsonl")
    answers = [r["conversations"][1]["value"] for r in sft if "ben" in r.get("annotators", [])]
    assert len(answers) == 1 and "the apple is green" in answers[0]
    assert any("ana" in r.get("annotators", []) for r in sft)

    export(store, "trl-pref", tmp_path / "trl", val_fraction=0.0)
    vision = pq.read_table(tmp_path / "trl/vision/train-00000-of-00001.parquet").to_pylist()
    assert [(r["source"], r["step_id"], r["annotator"]) for r in vision] == [
        ("sketch-critique", inspect.id, "ben")
    ]


def test_the_same_correction_is_counted_once(store, runner, scripted, tmp_path):
    """The same session stored twice (a copy under fresh ids, as an import of a taken id makes) and
    reached through two branches: each correction is one row, not two or four."""
    t, sketch, inspect = _accepted_then_overridden(runner)
    store.insert_trajectory(renumbered(store.load(t.session.id)))
    report = export(store, "folder", tmp_path / "folder", val_fraction=0.0, all_branches=True)
    rows = _jsonl(tmp_path / "folder/train/alignment.jsonl")
    human = [(r["source"], r["label"], r["verdict_annotator"]) for r in rows if r["annotators"]]
    assert sorted(human) == sorted(set(human))  # no correction twice
    assert ("inspect", "negative", "ben") in human and ("review", "positive", "ana") in human
    assert report.duplicates["alignment"] >= 2  # the copy's rows were dropped, not written


@pytest.mark.parametrize("name", ["bagel", "think-trace"])
def test_the_trajectory_formats_carry_both_people(store, runner, scripted, tmp_path, name):
    """The accept and the override sit in one trajectory, so the trajectory formats never lost either."""
    from .test_export_annotators import _text

    _accepted_then_overridden(runner)
    export(store, name, tmp_path / name, val_fraction=0.0)
    text = _text(tmp_path / name)
    assert '"annotators": ["ana", "ben"]' in text or "'annotators': ['ana', 'ben']" in text


def test_a_copy_someone_else_reviewed_is_a_trajectory_of_its_own(store, runner, scripted, tmp_path):
    """Two trajectories with the same texts and images differ in who reviewed what: both are kept
    (cy's accept of the sketch is a correction the other copy lacks)."""
    from studio.runner import Runner

    t, _, _ = _accepted_then_overridden(runner)
    copy = renumbered(store.load(t.session.id))
    store.insert_trajectory(copy)
    again = store.load(copy.session.id)
    sketch = next(s for s in again.steps.values() if s.stage is Stage.SKETCH)
    Runner(store).accept(again, sketch.id, by="cy")  # cy accepts it again in the copy
    report = export(store, "folder", tmp_path / "folder", val_fraction=0.0)
    rows = _jsonl(tmp_path / "folder/train/multi_turn.jsonl")
    assert sorted(r["annotators"] for r in rows) == [["ana", "ben"], ["ben", "cy"]]
    assert report.duplicates["multi_turn"] == 0
