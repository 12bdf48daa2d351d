"""Ratings and preferences travel with their session: `studio export --format folder|hf` then
`studio import` restores every judgement (person, steps, value, note, time), once however often it
is imported, never over a newer judgement of the same person on the same subject, and a forged one
is refused in one line with nothing written. Real store, real runner, the scripted engine; the
stores on SQLite and on PostgreSQL (a second database on the same server for the destination).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from studio.core.domain import RunSettings, StudioError
from studio.export import export, import_path
from studio.runner import Runner
from studio.store import Store

from ..kits import hostile_kit as kit
from ..kits.cli_support import studio

pytestmark = pytest.mark.backends


@pytest.fixture
def fresh(tmp_path, backend, request):
    """An empty destination store on the test's backend."""
    url = None
    if backend == "postgresql":
        databases = request.getfixturevalue("pg_databases")
        url = databases.create()
    other = Store(url, data_dir=tmp_path / "fresh")
    yield other
    other.close()
    if url:
        databases.drop(url)


def _judged(runner, prompt="a cat and a dog", seed=4):
    """A session with a rejected sketch and its redraw, rated and compared by two people."""
    t = runner.new_session(prompt, engine="scripted", seed=seed, settings=RunSettings(max_rounds=2))
    runner.advance(t)
    sketch = runner.advance(t)
    redraw = runner.reject(t, sketch.id, note="too small", by="zoe")
    runner.rate(t, sketch.id, "down", note="the cat is tiny", by="zoe")
    runner.rate(t, sketch.id, "up", by="yan")
    runner.rate(t, redraw.id, "4", note="better", by="yan")
    runner.prefer(t, sketch.id, redraw.id, "right", note="bigger cat", by="zoe")
    runner.run(t)
    runner.rate(t, t.head().id, "5", by="zoe")
    return t, sketch, redraw


@pytest.mark.parametrize("name", ["folder", "hf"])
def test_judgements_travel_with_their_session(store, runner, scripted, fresh, tmp_path, name):
    first, _, _ = _judged(runner)
    second, _, _ = _judged(runner, "a red apple", seed=7)
    export(store, name, tmp_path / name, val_fraction=0.5)
    report = import_path(fresh, tmp_path / name)
    assert report.judgements == 10
    for t in (first, second):
        carried = fresh.judgements(t.session.id)
        assert carried == store.judgements(t.session.id)  # every field, created_at to the bit
        assert {j.annotator for j in carried} == {"zoe", "yan"}
        assert {j.kind for j in carried} == {"rating", "preference"}

    again = import_path(fresh, tmp_path / name)
    assert again.judgements == 0 and sorted(again.present) == sorted(report.imported)
    assert len(fresh.judgements()) == 10  # one copy of each


def test_an_import_adds_what_a_present_session_lacks_and_never_an_older_judgement(
    store, runner, scripted, fresh, tmp_path
):
    t, sketch, redraw = _judged(runner)
    export(store, "folder", tmp_path / "one")
    import_path(fresh, tmp_path / "one")
    here = fresh.load(t.session.id)
    Runner(fresh).rate(here, sketch.id, "up", by="zoe")  # zoe changes her mind on this machine
    runner.prefer(t, redraw.id, sketch.id, "tie", by="yan")  # yan judges there meanwhile
    export(store, "folder", tmp_path / "two")

    report = import_path(fresh, tmp_path / "two")
    assert report.present == [t.session.id] and report.judgements == 1  # only yan's new one
    by = {(j.kind, j.annotator, j.step_id): j.value for j in fresh.judgements(t.session.id)}
    assert by[("rating", "zoe", sketch.id)] == "up"  # her newer rating here stays
    assert by[("preference", "yan", redraw.id)] == "tie"
    assert len(fresh.judgements(t.session.id)) == len(store.judgements(t.session.id))
    assert fresh.load(t.session.id).session == here.session  # the tree is left as it was


def test_an_export_from_before_judgements_imports(store, runner, scripted, fresh, tmp_path):
    t, _, _ = _judged(runner)
    export(store, "folder", tmp_path / "folder")
    path = tmp_path / "folder" / "sessions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "judgements"}) + "\n" for r in rows)
    )
    export(store, "hf", tmp_path / "hf")
    [shard] = (tmp_path / "hf" / "sessions").glob("*.parquet")
    table = pq.read_table(shard)
    pq.write_table(table.drop_columns(["judgements"]), shard)
    for source in ("folder", "hf"):
        report = import_path(fresh, tmp_path / source)
        assert report.judgements == 0
    assert fresh.load(t.session.id).session == store.load(t.session.id).session
    assert fresh.judgements() == []
    assert isinstance(table.schema.field("judgements").type, type(pa.string()))


def test_a_judgement_id_another_session_uses_is_refused_with_nothing_written(
    store, runner, scripted, fresh, tmp_path
):
    t, _, _ = _judged(runner)
    other, _, _ = _judged(Runner(fresh), "a blue cup", seed=9)
    taken = fresh.judgements(other.session.id)[0].id
    export(store, "folder", tmp_path / "out")
    path = tmp_path / "out" / "sessions.jsonl"
    [row] = [json.loads(line) for line in path.read_text().splitlines()]
    row["judgements"][0]["id"] = taken
    path.write_text(json.dumps(row) + "\n")
    images_before = sorted(p.name for p in fresh.images_dir.rglob("*.png"))
    with pytest.raises(StudioError, match="another session here uses; nothing was imported"):
        import_path(fresh, tmp_path / "out")
    assert not fresh.has_session(t.session.id)
    assert sorted(p.name for p in fresh.images_dir.rglob("*.png")) == images_before
    assert len(fresh.judgements()) == 5


def _forge(judgement: dict, sketch_id: str, plan_id: str) -> dict[str, tuple[object, str]]:
    """A rating forged each way it can be wrong: (the forged item, what the refusal names)."""
    return {
        "value not a rating": ({**judgement, "value": "7"}, "is not valid"),
        "value as a number": ({**judgement, "value": 4}, "is not valid"),
        "value not as stored": ({**judgement, "value": " UP"}, "is not valid"),
        "unknown kind": ({**judgement, "kind": "vote"}, "unknown kind"),
        "step not in the tree": ({**judgement, "step_id": "0" * 32}, "not an image of this"),
        "step without an image": ({**judgement, "step_id": plan_id}, "not an image of this"),
        "step id missing": ({**judgement, "step_id": None}, "not an image of this"),
        "rating of two steps": ({**judgement, "other_step_id": sketch_id}, "rating of two"),
        "preference of one image with itself": (
            {**judgement, "kind": "preference", "value": "left", "other_step_id": sketch_id},
            "with itself",
        ),
        "another session": ({**judgement, "session_id": "f" * 32}, "another session"),
        "id not hex": ({**judgement, "id": "../../etc"}, "not lowercase hex"),
        "annotator with a control character": (
            {**judgement, "annotator": "zoe\x1b[2J"},
            "control character",
        ),
        "annotator not text": ({**judgement, "annotator": ["zoe"]}, "annotator of the wrong"),
        "note too long": ({**judgement, "note": "x" * 5000}, "the limit is 4,000"),
        "created_at a boolean": ({**judgement, "created_at": True}, "created_at of the wrong"),
        "created_at in the far future": ({**judgement, "created_at": 1e300}, "out of range"),
        "not an object": ("up", "is not an object"),
    }


def test_a_forged_judgement_is_refused_in_one_line_with_nothing_written(
    capsys, store, runner, scripted, tmp_path, backend
):
    if backend != "sqlite":
        pytest.skip(
            "the CLI imports into a SQLite data folder; the source's backend does not matter"
        )
    t, sketch, _ = _judged(runner)
    export(store, "folder", tmp_path / "out")
    path = tmp_path / "out" / "sessions.jsonl"
    [row] = [json.loads(line) for line in path.read_text().splitlines()]
    genuine = row["judgements"]
    at = next(
        i for i, j in enumerate(genuine) if j["kind"] == "rating" and j["step_id"] == sketch.id
    )
    folder = tmp_path / "dest"
    Store(data_dir=folder).close()
    before = kit.snapshot(folder)
    forged = {  # each replaces the genuine rating, so nothing else is wrong with the file
        problem: ([*genuine[:at], bad, *genuine[at + 1 :]], names)
        for problem, (bad, names) in _forge(genuine[at], sketch.id, t.branch()[0].id).items()
    }
    forged["an id twice"] = ([*genuine, dict(genuine[at], value="up")], "repeats the id")
    forged["not a list"] = ("up", "not a list")
    for problem, (judgements, names) in forged.items():
        path.write_text(json.dumps({**row, "judgements": judgements}) + "\n")
        code, out, err = studio(capsys, "import", tmp_path / "out", "--data-dir", folder)
        assert kit.one_line_error(code, out, err) and names in err, (problem, code, out, err)
        assert kit.snapshot(folder) == before, problem
    path.write_text(json.dumps(row) + "\n")  # the genuine file imports
    code, out, err = studio(capsys, "import", tmp_path / "out", "--data-dir", folder)
    assert code == 0 and "5 ratings and preferences added" in out, (out, err)
