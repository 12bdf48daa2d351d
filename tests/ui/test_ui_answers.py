"""What the studio answers the page, through the same `Studio` the page and the HTTP API call (real
SQLite store, real runner, the scripted engine of tests/kits/fakes.py standing in for a model):
exports of every session and of every branch, links naming a short step id, a session made private
while another person has it open, verdict boxes judged one by one, and the names on a final."""

from __future__ import annotations

import zipfile

import pytest

from studio import engines
from studio.core.domain import Box, Check, Stage
from studio.core.people import Person
from studio.runner import Runner
from studio.store import Store
from studio.ui import api, board
from studio.ui.actions import Studio

from ..kits.fakes import ScriptedEngine

ENGINE = "ui-answers-scripted"


@pytest.fixture
def studio(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    engines.register(ENGINE, lambda: ScriptedEngine(fail_rounds=(1,)))
    store = Store(data_dir=tmp_path / "data")
    yield Studio(Runner(store))
    store.close()
    engines.unregister(ENGINE)


def walked(studio: Studio, prompt: str, steps: int, person: Person | None = None):
    acting = studio.acting_as(person)
    view = acting.new_session(prompt, ENGINE, seed=3, random_seed=False)
    sid = view.session["id"]
    for _ in range(steps):
        *_, view = acting.step(sid, view.session["version"])
    return sid, view


def rows_in(path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [
            line
            for name in archive.namelist()
            if name.endswith(".jsonl")
            for line in archive.read(name).decode().splitlines()
        ]


def test_exporting_all_sessions_works_without_a_login_for_an_admin_and_for_an_annotator(studio):
    walked(studio, "a cat and a dog", 4)
    studio.new_session("an empty one", ENGINE)  # no steps yet: nothing to export, no crash
    ana = Person("ana", "annotator")
    walked(studio, "a fox", 4, person=ana)
    for person in (None, Person("root", "admin"), ana):
        report = studio.acting_as(person).export("", "folder", "all sessions")
        assert report["files"] > 0 and report["url"].startswith("/studio/export/")
        assert "head branch only" in report["note"]
    everyone = studio.export_zip("", "folder", "all sessions")[0]
    own = studio.acting_as(ana).export_zip("", "folder", "all sessions")[0]
    assert len(rows_in(own)) < len(rows_in(everyone))  # an annotator exports their own work only


def test_an_export_of_every_branch_keeps_a_persons_override_off_the_head_branch(studio):
    sid, view = walked(studio, "a cat and a dog", 4)  # plan, sketch, inspect (failed), refine
    trajectory = studio.store.load(sid)
    verdict = next(s for s in trajectory.branch() if s.stage is Stage.INSPECT)
    assert view.session["people_off_head"] is False
    view = studio.override(sid, view.session["version"], verdict.id, True, "ok", True, "I see it.")
    view = studio.switch_branch(sid, view.session["version"], trajectory.head().id)
    assert view.session["people_off_head"] is True  # the page then offers every branch
    head_only = rows_in(studio.export_zip(sid, "folder", "this session")[0])
    every = studio.export(sid, "folder", "this session", all_branches=True)
    assert every["all_branches"] is True and "every branch" in every["note"]
    rows = rows_in(studio.exports.path_for(every["name"], None))
    by_person = '"verdict_author": "human"'
    assert any(by_person in r for r in rows)  # the person's verdict on the sketch is the label
    assert not any(by_person in r for r in head_only)  # the head alone has the model's only


def test_a_link_with_a_short_step_id_opens_that_step_and_a_wrong_one_says_what_to_do(studio):
    sid, _ = walked(studio, "a cat and a dog", 2)
    plan, latest = (s.id for s in studio.store.load(sid).branch())
    opened = studio.open_session(sid, plan[:8])
    assert opened.selected == plan and opened.note == "opened"
    missing = studio.open_session(sid, "0000dead")
    assert missing.selected == latest  # the session still opens, on its latest step
    assert missing.note == (
        "opened; this session has no step '0000dead', so the latest step is shown: "
        "pick another on the storyboard"
    )
    short = studio.open_session(sid, plan[:2])
    assert "too short; give at least 4 characters" in short.note and short.session


def test_a_session_made_private_leaves_the_other_persons_page_in_a_browsers_words(studio):
    ana, ben = Person("ana", "annotator"), Person("ben", "annotator")
    sid, view = walked(studio, "a shared cat", 1, person=ana)
    view = studio.acting_as(ana).share(sid, view.session["version"], True)
    ben_sees = studio.acting_as(ben).open_session(sid)
    studio.acting_as(ana).share(sid, view.session["version"], False)
    accept = api.page_function(api.accept, studio, lambda request: ben)
    answer = accept({"session_id": sid, "version": ben_sees.session["version"], "step_id": ""})
    assert answer["full"] is True and answer["session"] is None  # the page stops showing it
    assert answer["error"].startswith(f"No session {sid[:8]} is available to you any more")
    assert (
        "studio sessions" not in answer["error"]
        and "Open another one under Sessions" in (answer["error"])
    )
    work = list(
        api.page_work(studio.acting_as(ben), {"action": "step", "seq": 7, "session_id": sid})
    )
    assert [(w["seq"], w["full"], w["session"]) for w in work] == [(7, True, None)]


def test_each_evidence_box_carries_its_own_finding_written_as_a_sentence():
    check = Check(
        False,
        "In the sketch the green teapot is not left of the red cup.",
        (
            Box(0, 0, 10, 10, "green teapot: should be left of the red cup"),
            Box(20, 0, 30, 10, "red cup"),
        ),
    )
    from studio.core.codec import check_to_view

    wrong, right = board._findings(check_to_view(check))["evidence"]
    assert (wrong["wrong"], wrong["label"]) == (
        True,
        "The green teapot should be left of the red cup.",
    )
    assert (right["wrong"], right["label"]) == (False, "red cup")  # found as planned: not red


def test_the_final_card_names_everything_on_its_canvas(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    store = Store(data_dir=tmp_path / "data")
    studio = Studio(Runner(store))
    view = studio.new_session(
        "a red apple and a blue cup",
        "offline",
        seed=7,
        random_seed=False,
        params='{"draft_noise": 0}',
    )
    sid = view.session["id"]
    *_, view = studio.run(sid, view.session["version"])
    final = studio.open_session(sid).cards[store.load(sid).head().id]
    assert final["stage"] == "final"
    names = {label["label"] for label in final["labels"]}
    assert {"red apple", "blue cup"} <= names  # what the final shows, not only its last stroke
    store.close()
