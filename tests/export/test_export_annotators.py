"""Every export format names the people behind the human actions it carries (issue 15: provenance);
the formats issue 15 added give the same bytes when run again (as test_export_formats checks for the others)."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest

from studio.core.domain import RunSettings
from studio.export import FORMATS, export


def _text(folder) -> str:
    """Every written value as text: JSON and JSONL files as they are, parquet cells decoded."""
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".json", ".jsonl", ".md"):
            parts.append(path.read_text(encoding="utf-8"))
        elif path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
            parts.append(
                json.dumps(rows, default=lambda v: "<bytes>" if isinstance(v, bytes) else str(v))
            )
    return "\n".join(parts)


def _judged(runner, scripted, prompt="a cat and a dog", seed=4):
    scripted.fail_rounds = {1}
    t = runner.new_session(prompt, engine="scripted", seed=seed, settings=RunSettings(max_rounds=3))
    runner.edit_plan(t, runner.advance(t).id, instruction="draw a grey cat", by="zoe")
    sketch = runner.advance(t)
    redraw = runner.reject(t, sketch.id, note="too small", by="zoe")
    runner.accept(t, redraw.id, by="yan")
    runner.override(
        t, runner.advance(t).id, plan_passed=False, plan_critique="the dog is missing", by="yan"
    )
    runner.refine_with(t, t.head().id, "show the whole cat", by="zoe")
    runner.prefer(t, sketch.id, redraw.id, "right", by="zoe")
    runner.rate(t, redraw.id, "4", by="yan")
    runner.run(t)
    return t


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_names_the_annotators(store, runner, scripted, tmp_path, name):
    _judged(runner, scripted)
    out = tmp_path / name
    export(store, name, out, val_fraction=0.0)
    text = _text(out)
    if name == "trl-pref":
        # zoe's text pair would be her plan edit, which yan then failed: a chosen is learned, so no pair
        assert not re.search(r"\bzoe\b", text)
    else:
        assert re.search(r"\bzoe\b", text)  # no prompt, note or instruction holds the names
    if name in (
        "bagel",
        "think-trace",
        "vlm-sft",
        "hf",
        "folder",
        "pickapic",
        "trl-pref",
    ):
        # the accept, or the override (unified_edit: the scripted engine does not say it read the
        # reject's reason, so the redraw yan accepted is no edit)
        assert re.search(r"\byan\b", text)
    if name in (
        "bagel",
        "think-trace",
        "hf",
        "folder",
    ):  # the trajectory rows say who acted, row by row
        assert '"annotators": ["yan", "zoe"]' in text or "'annotators': ['yan', 'zoe']" in text


@pytest.mark.parametrize("name", ["unified_edit", "pickapic", "trl-pref"])
def test_the_new_formats_give_byte_identical_exports(store, runner, scripted, tmp_path, name):
    from .test_export_support import tree

    for seed in range(3):
        _judged(runner, scripted, f"a cat and a dog number {seed}", seed=seed)
    out = tmp_path / name
    export(store, name, out, val_fraction=0.5)
    first = tree(out)
    assert any(
        path.endswith(".parquet") for path in first
    )  # rows were written, not just a card and a manifest
    export(store, name, out, val_fraction=0.5, force=True)
    assert tree(out) == first
