"""Which sessions and branches an export takes: every filter, and sessions whose images are gone."""

from __future__ import annotations

import datetime as dt

import pytest

from studio import engines
from studio.core.domain import StudioError
from studio.export import export

from ..kits.fakes import ScriptedEngine
from .test_export_support import jsonl, plain, steered

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


def exported(store, tmp_path, name="out", **filters):
    """Session ids in the export's sessions.jsonl (folder format), and the report."""
    out = tmp_path / name
    report = export(store, "folder", out, val_fraction=0.0, **filters)
    return [row["session_id"] for row in jsonl(out / "sessions.jsonl")], report


def at(store, trajectory, when: dt.datetime):
    trajectory.session = store.commit(trajectory.session, created_at=when.timestamp())


@pytest.fixture
def other_engine():
    engines.register("other", ScriptedEngine)
    yield
    engines.unregister("other")


def test_by_session_id_or_prefix(store, runner, scripted, tmp_path):
    a, b, c = (plain(runner, f"apple {i}", seed=i).session.id for i in range(3))
    ids, _ = exported(store, tmp_path, sessions=[a, c[:6]])
    assert ids == sorted([a, c])
    with pytest.raises(StudioError, match="No session 'zzzzzz'"):
        export(store, "folder", tmp_path / "bad", sessions=["zzzzzz"])


def test_by_date_range_in_local_time_with_bare_dates_covering_the_whole_day(
    store, runner, scripted, tmp_path
):
    old, mid, new = (plain(runner, f"apple {i}", seed=i) for i in range(3))
    at(store, old, dt.datetime(2026, 1, 10, 9, 0))
    at(store, mid, dt.datetime(2026, 2, 20, 23, 59))
    at(store, new, dt.datetime(2026, 3, 30, 0, 1))
    ids, _ = exported(store, tmp_path, "a", since="2026-02-01", until="2026-02-20")
    assert ids == [mid.session.id]
    ids, _ = exported(store, tmp_path, "b", since="2026-02-20T23:59")
    assert ids == sorted([mid.session.id, new.session.id])
    ids, _ = exported(store, tmp_path, "c", until=dt.datetime(2026, 2, 1))
    assert ids == [old.session.id]


def test_by_engine(store, runner, scripted, other_engine, tmp_path):
    mine = plain(runner, "apple", seed=1)
    theirs = plain(runner, "pear", seed=2, engine="other")
    assert exported(store, tmp_path, "a", engine="other")[0] == [theirs.session.id]
    assert exported(store, tmp_path, "b", engine="scripted")[0] == [mine.session.id]
    assert exported(store, tmp_path, "c", engine="nope")[0] == []


def test_human_reviewed_keeps_only_what_a_person_touched(store, runner, scripted, tmp_path):
    touched = steered(runner, scripted)
    plain(runner, "an untouched pear", seed=3)
    reviewed = plain(runner, "a reviewed pear", seed=4)
    runner.accept(reviewed, reviewed.head().id)
    ids, report = exported(store, tmp_path, human_reviewed=True)
    assert ids == sorted([touched.trajectory.session.id, reviewed.session.id])
    assert report.trajectories == 2


def test_accepted_only_keeps_finished_branches_whose_final_image_a_person_accepted(
    store, runner, scripted, tmp_path
):
    final_accepted = plain(runner, "apple", seed=1)
    runner.accept(final_accepted, final_accepted.head().id)
    shown_accepted = plain(runner, "pear", seed=2)
    runner.accept(shown_accepted, shown_accepted.branch()[1].id)  # the sketch the final shows
    plain(runner, "plum", seed=3)
    unfinished = runner.new_session("fig", engine="scripted", seed=4)
    runner.advance(unfinished)
    runner.accept(unfinished, runner.advance(unfinished).id)
    ids, _ = exported(store, tmp_path, accepted_only=True)
    assert ids == sorted([final_accepted.session.id, shown_accepted.session.id])


def test_chosen_branch_is_the_head_and_all_branches_takes_the_rest(
    store, runner, scripted, tmp_path
):
    t = plain(runner, "a cat and a dog", seed=2)
    old_final = t.head()
    runner.fork(t, t.branch()[0].id)
    runner.run(t)
    out = tmp_path / "head"
    export(store, "folder", out, val_fraction=0.0)
    assert [row["id"] for row in jsonl(out / "train" / "multi_turn.jsonl")] == [t.head().id]
    out = tmp_path / "all"
    export(store, "folder", out, val_fraction=0.0, all_branches=True)
    assert {row["id"] for row in jsonl(out / "train" / "multi_turn.jsonl")} == {
        old_final.id,
        t.head().id,
    }


@pytest.mark.parametrize(
    "options, message",
    [
        ({"since": "last tuesday"}, "Cannot read --since 'last tuesday'"),
        ({"until": "2026-13-01"}, "Cannot read --until"),
        ({"since": "2026-03-01", "until": "2026-02-01"}, "--since is after --until"),
        ({"val_fraction": 1.5}, "--val-fraction must be between 0 and 1"),
    ],
)
def test_bad_filter_values_name_the_fix(store, tmp_path, options, message):
    with pytest.raises(StudioError, match=message):
        export(store, "folder", tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_an_unknown_format_lists_the_formats(store, tmp_path):
    with pytest.raises(
        StudioError,
        match="Unknown export format 'csv'. Formats: bagel, think-trace, vlm-sft, hf, folder",
    ):
        export(store, "csv", tmp_path / "out")


def test_a_session_with_missing_images_is_reported_and_skipped(store, runner, scripted, tmp_path):
    kept = plain(runner, "apple", seed=1)
    broken = plain(runner, "pear", seed=2)
    store.image_path(broken.branch()[1].image.sha256).unlink()
    ids, report = exported(store, tmp_path)
    assert ids == [kept.session.id]
    assert [s.session_id for s in report.skipped] == [broken.session.id]
    assert report.skipped[0].images == [broken.branch()[1].image.sha256]


def test_strict_fails_on_missing_images_and_writes_nothing(store, runner, scripted, tmp_path):
    plain(runner, "apple", seed=1)
    broken = plain(runner, "pear", seed=2)
    store.image_path(broken.branch()[1].image.sha256).unlink()
    with pytest.raises(
        StudioError, match=f"Session {broken.session.id} is missing 1 image file.*drop --strict"
    ):
        export(store, "bagel", tmp_path / "out", strict=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no export, no temporary folder
