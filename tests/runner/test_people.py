"""People: who did each human action, who may see a session, ratings and preferences — through the
real runner and store, on SQLite and PostgreSQL, with the scripted engine standing in for a model."""

from __future__ import annotations

import pytest

from studio.core.codec import session_from_dict, session_to_dict, step_from_dict, step_to_dict
from studio.core.domain import (
    Author,
    Judgement,
    Person,
    RunSettings,
    Session,
    Stage,
    StudioError,
    can_see,
    local_user,
)
from studio.runner import Runner
from studio.store import Store

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL

ANA, BEN = Person("ana"), Person("ben")
ADMIN = Person("root", "admin")


def finished(runner, prompt="a cat and a dog", owner=None, **settings):
    t = runner.new_session(
        prompt, engine="scripted", seed=7, settings=RunSettings(**settings), owner=owner
    )
    runner.run(t)
    return t


def first(t, stage):
    return next(s for s in t.branch() if s.stage is stage)


def final(t):
    return t.branch()[-1]


# -- who did it -------------------------------------------------------------------------------


def test_model_steps_have_no_annotator_and_each_human_action_records_its_person(runner, scripted):
    t = finished(runner, owner="ana")
    assert all(s.annotator is None for s in t.steps.values())
    plan_id, sketch_id, inspect_id = (
        first(t, stage).id for stage in (Stage.PLAN, Stage.SKETCH, Stage.INSPECT)
    )
    plan = runner.edit_plan(
        t, plan_id, instruction="draw a black cat", by="ana"
    )  # a new branch: it was built on
    verdict = runner.override(t, inspect_id, sketch_passed=False, by=BEN)
    accepted = runner.accept(t, sketch_id, by="ben")
    refined = runner.refine_with(t, verdict.id, "make the cat black", by="ana")
    assert (plan.author, plan.annotator) == (Author.HUMAN, "ana")
    assert verdict.annotator == "ben" and accepted.annotator == "ben"
    assert (refined.author, refined.annotator) == (Author.HUMAN, "ana")
    reopened = runner.store.load(t.session.id)
    assert {reopened.steps[s.id].annotator for s in (plan, verdict, accepted, refined)} == {
        "ana",
        "ben",
    }


def test_a_rejected_image_names_its_rejecter_and_the_model_redraw_names_nobody(runner, scripted):
    t = finished(runner)
    sketch = first(t, Stage.SKETCH)
    redraw = runner.reject(t, sketch.id, "too dark", by="ana")
    assert t.steps[sketch.id].annotator == "ana" and t.steps[sketch.id].review.value == "rejected"
    assert (redraw.author, redraw.annotator) == (Author.MODEL, None)


def test_without_a_login_the_local_user_is_the_author_and_the_owner(runner, scripted):
    t = finished(runner)
    assert t.session.owner == local_user() != ""
    assert runner.accept(t, first(t, Stage.SKETCH).id).annotator == local_user()


@pytest.mark.parametrize("name", ["", "   ", "ana\nben", "x" * 129, 5])
def test_a_bad_name_is_one_line_and_changes_nothing(runner, scripted, name):
    t = finished(runner)
    before = runner.store.load(t.session.id)
    with pytest.raises(StudioError) as refused:
        runner.accept(t, first(t, Stage.SKETCH).id, by=name)
    assert "\n" not in str(refused.value) and "name" in str(refused.value)
    assert runner.store.load(t.session.id).steps == before.steps


# -- who may see it ---------------------------------------------------------------------------


def test_a_private_session_is_invisible_to_another_person_exactly_like_an_unknown_id(
    runner, scripted
):
    anas = finished(runner, owner="ana")
    with pytest.raises(StudioError) as unknown:
        runner.open("0123456789abcdef0123456789abcdef", viewer=BEN)
    with pytest.raises(StudioError) as hidden:
        runner.open(anas.session.id, viewer=BEN)
    assert str(hidden.value) == str(unknown.value).replace(
        "0123456789abcdef0123456789abcdef", anas.session.id
    )
    with pytest.raises(StudioError, match="No session"):
        runner.open(anas.session.id[:6], viewer=BEN)  # nor by a prefix
    assert runner.open(anas.session.id, viewer=ANA).session.id == anas.session.id
    assert runner.open(anas.session.id, viewer=ADMIN).session.id == anas.session.id
    assert runner.open(anas.session.id).session.id == anas.session.id  # no login: the CLI sees all


def test_a_prefix_is_not_ambiguous_because_of_someone_elses_private_session(store, scripted):
    runner = Runner(store)
    mine = runner.new_session("a cat", engine="scripted", owner="ben", session_id="abcd" + "0" * 28)
    runner.new_session("a dog", engine="scripted", owner="ana", session_id="abcd" + "1" * 28)
    assert runner.open("abcd", viewer=BEN).session.id == mine.session.id
    with pytest.raises(StudioError, match="ambiguous"):
        runner.open("abcd", viewer=ADMIN)


def test_list_sessions_filters_privacy_before_the_limit(store, scripted):
    runner = Runner(store)
    bens = [
        runner.new_session(f"ben's cat {i}", engine="scripted", owner="ben").session.id
        for i in range(2)
    ]
    for i in range(
        5
    ):  # newer private sessions of ana's that a filter after LIMIT would have counted
        runner.new_session(f"ana's cat {i}", engine="scripted", owner="ana")
    assert sorted(s.id for s in store.list_sessions(limit=2, viewer=BEN)) == sorted(bens)
    assert store.count_sessions("cat", viewer=BEN) == 2
    assert store.count_sessions("cat", viewer=ADMIN) == store.count_sessions("cat") == 7
    assert {s.owner for s in store.list_sessions(viewer=ANA)} == {"ana"}


def test_a_person_sees_only_the_names_of_batches_with_a_session_they_may_see(store, scripted):
    from studio.batch.workqueue import WorkQueue

    runner = Runner(store)
    for name, owner, shared in (
        ("anas-run", "ana", False),
        ("open_run", "ana", True),
        ("bens", "ben", False),
    ):
        WorkQueue(store.db, name).ensure({"prompts": f"{name}.txt"}, [])
        t = runner.new_session("a cat", engine="scripted", owner=owner, tags=(f"batch:{name}",))
        if shared:
            runner.share(t, True, by=ANA)
    WorkQueue(store.db, "no-sessions-yet").ensure({"prompts": "later.txt"}, [])
    assert store.list_batches(viewer=BEN) == ["bens", "open_run"]  # "open_run": '_' is no wildcard
    assert store.list_batches(viewer=ANA) == ["open_run", "anas-run"]
    assert (
        store.list_batches(viewer=ADMIN)
        == store.list_batches()
        == ["no-sessions-yet", "bens", "open_run", "anas-run"]
    )


def test_sharing_makes_a_session_visible_to_the_team_and_only_the_owner_or_an_admin_may(
    store, scripted
):
    runner = Runner(store)
    anas = finished(runner, owner="ana")
    with pytest.raises(StudioError, match="Only the owner can share"):
        runner.share(anas, True, by="ben")
    assert store.list_sessions(viewer=BEN) == []
    runner.share(anas, True, by="ana")
    assert [s.id for s in store.list_sessions(viewer=BEN)] == [anas.session.id]
    assert runner.open(anas.session.id, viewer=BEN).session.shared
    runner.share(anas, False, by=ADMIN)
    assert store.list_sessions(viewer=BEN) == [] and not store.session(anas.session.id).shared


def test_can_see_is_the_same_rule_as_the_sql_filter():
    def session(owner, shared=False):
        return Session(id="s", prompt="p", engine="e", seed=1, owner=owner, shared=shared)

    assert can_see(session("ana"), ANA) and not can_see(session("ana"), BEN)
    assert can_see(session("ana", shared=True), BEN) and can_see(session("ana"), ADMIN)
    assert can_see(
        session(""), BEN
    )  # from before owners were recorded: owned by nobody, visible to all
    assert can_see(session("ana"), None)  # no login


# -- ratings and preferences ------------------------------------------------------------------


def test_two_annotators_rating_the_same_step_are_both_kept(runner, scripted):
    t = finished(runner)
    sketch = first(t, Stage.SKETCH)
    runner.rate(t, sketch.id, "up", by="ana")
    runner.rate(t, sketch.id, "down", note="the dog is missing", by="ben")
    kept = runner.store.judgements(t.session.id)
    assert sorted((j.annotator, j.value, j.note) for j in kept) == [
        ("ana", "up", ""),
        ("ben", "down", "the dog is missing"),
    ]
    assert all(
        j.kind == "rating" and j.step_id == sketch.id and j.other_step_id is None for j in kept
    )


def test_the_same_annotator_re_judging_replaces_only_their_own_judgement(runner, scripted):
    t = finished(runner)
    sketch, last = first(t, Stage.SKETCH), final(t)
    runner.rate(t, sketch.id, "2", by="ana")
    runner.rate(t, sketch.id, "3", by="ben")
    runner.rate(t, sketch.id, "5", by="ana")
    runner.prefer(t, sketch.id, last.id, "left", by="ana")
    runner.prefer(t, last.id, sketch.id, "left", by="ana")  # the same pair, the sides swapped
    ratings = runner.store.judgements(t.session.id, kind="rating")
    assert sorted((j.annotator, j.value) for j in ratings) == [("ana", "5"), ("ben", "3")]
    [preference] = runner.store.judgements(t.session.id, kind="preference")
    assert (preference.step_id, preference.value, preference.preferred_step_id) == (
        last.id,
        "left",
        last.id,
    )


def test_a_preference_names_both_images_and_its_author(runner, scripted):
    t = finished(runner)
    runner.fork(t, first(t, Stage.INSPECT).id)
    scripted.fail_rounds = set()
    runner.run(t)
    left, right = [s for s in t.steps.values() if s.stage is Stage.FINAL]
    made = runner.prefer(t, left.id, right.id, "Right", note="cleaner", by=BEN)
    assert runner.store.judgements() == [made]
    assert (made.step_id, made.other_step_id, made.value, made.annotator, made.note) == (
        left.id,
        right.id,
        "right",
        "ben",
        "cleaner",
    )


@pytest.mark.parametrize(
    "value, message",
    [
        ("meh", "rate up, down, or 1 to 5"),
        ("6", "rate up, down"),
        (True, "rate up"),
        (None, "rate up"),
    ],
)
def test_a_bad_rating_is_one_line_and_stores_nothing(runner, scripted, value, message):
    t = finished(runner)
    with pytest.raises(StudioError, match=message):
        runner.rate(t, first(t, Stage.SKETCH).id, value, by="ana")
    assert runner.store.judgements() == []


def test_only_images_can_be_judged(runner, scripted):
    t = finished(runner)
    sketch = first(t, Stage.SKETCH)
    with pytest.raises(StudioError, match="this action needs a sketch or refine or final step"):
        runner.rate(t, first(t, Stage.PLAN).id, "up")
    with pytest.raises(StudioError, match="same image"):
        runner.prefer(t, sketch.id, sketch.id, "left")
    with pytest.raises(StudioError, match="say left, right or tie"):
        runner.prefer(t, sketch.id, final(t).id, "both")
    with pytest.raises(StudioError, match="not part of session"):
        runner.rate(t, "f" * 32, "up")
    assert runner.store.judgements() == []


def test_a_judgement_never_bumps_the_session_version(runner, scripted):
    """Rating in one tab must not make another tab's next edit a conflict."""
    t = finished(runner)
    version = runner.store.session(t.session.id).version
    runner.rate(t, final(t).id, "up")
    assert runner.store.session(t.session.id).version == version
    runner.accept(t, final(t).id)  # the tab's stale-free edit still goes through


def test_deleting_a_session_deletes_its_judgements(runner, scripted):
    kept, doomed = finished(runner, "a cat"), finished(runner, "a dog")
    runner.rate(kept, final(kept).id, "up")
    runner.rate(doomed, final(doomed).id, "down")
    runner.store.delete_session(doomed.session.id)
    assert [j.session_id for j in runner.store.judgements()] == [kept.session.id]


def test_judgements_of_every_session_come_oldest_first(store, scripted):
    runner = Runner(store)
    a, b = finished(runner, "a cat"), finished(runner, "a dog")
    for t, when in ((b, 30.0), (a, 10.0), (b, 20.0)):
        store.add_judgement(
            Judgement(
                id=f"{int(when):032d}",
                session_id=t.session.id,
                kind="rating",
                step_id=final(t).id,
                other_step_id=None,
                value="up",
                annotator=f"p{when}",
                created_at=when,
            )
        )
    assert [j.created_at for j in store.judgements()] == [10.0, 20.0, 30.0]
    assert [j.created_at for j in store.judgements(b.session.id)] == [20.0, 30.0]


# -- plain data -------------------------------------------------------------------------------


def test_annotator_owner_and_shared_survive_the_plain_data_forms_and_old_data_still_loads(
    runner, scripted
):
    t = finished(runner, owner="ana")
    runner.share(t, True, by="ana")
    step = runner.accept(t, final(t).id, by="ben")
    assert step_from_dict(step_to_dict(step)) == step and step_to_dict(step)["annotator"] == "ben"
    assert session_from_dict(session_to_dict(t.session)) == t.session
    old_step = {k: v for k, v in step_to_dict(step).items() if k != "annotator"}
    old_session = {
        k: v for k, v in session_to_dict(t.session).items() if k not in ("owner", "shared")
    }
    assert step_from_dict(old_step).annotator is None
    assert (session_from_dict(old_session).owner, session_from_dict(old_session).shared) == (
        "",
        False,
    )


def test_a_reopened_store_keeps_owner_shared_and_annotators(store, scripted):
    runner = Runner(store)
    t = finished(runner, owner="ana")
    runner.share(t, True, by="ana")
    runner.accept(t, final(t).id, by="ben")
    reopened = Store(store.url, data_dir=store.data_dir).load(t.session.id)
    assert reopened.session == t.session and reopened.steps == t.steps


def test_an_imported_trajectory_may_lack_people_but_never_carries_a_bad_name():
    """What a PNG or an export carries is untrusted (studio.core.untrusted): files from before people load."""
    from studio.core import untrusted
    from studio.core.codec import trajectory_to_dict
    from studio.core.domain import Step, Trajectory

    session = Session(
        id="a" * 32,
        prompt="a cat",
        engine="offline",
        seed=1,
        owner="ana",
        shared=True,
        created_at=1.0,
        updated_at=2.0,
    )
    plan = Step(
        id="b" * 32,
        session_id=session.id,
        parent_id=None,
        stage=Stage.PLAN,
        author=Author.HUMAN,
        instruction="draw a cat",
        annotator="ana",
        created_at=1.5,
    )
    data = trajectory_to_dict(Trajectory.of(session, [plan]))
    assert untrusted.trajectory(data).steps[plan.id].annotator == "ana"
    for key in ("owner", "shared"):
        del data["session"][key]
    del data["steps"][0]["annotator"]
    old = untrusted.trajectory(data)
    assert (old.session.owner, old.session.shared, old.steps[plan.id].annotator) == (
        "",
        False,
        None,
    )
    for where, key, bad in (
        ("session", "owner", "ana\x1b[31m"),
        ("session", "shared", "yes"),
        ("session", "owner", None),
        ("step", "annotator", "x" * 500),
        ("step", "annotator", 7),
    ):
        forged = trajectory_to_dict(Trajectory.of(session, [plan]))
        (forged["session"] if where == "session" else forged["steps"][0])[key] = bad
        with pytest.raises(StudioError, match="damaged or forged") as refused:
            untrusted.trajectory(forged)
        assert "\n" not in str(refused.value)


def test_a_png_dropped_on_the_page_becomes_the_droppers_copy_unless_its_session_is_here(
    store, scripted, tmp_path
):
    """A PNG carries its whole session. Dropped by a logged-in person on another database, the copy
    is theirs (private, their name as owner; each step keeps who made it). On the database it came
    from, the session it names is already there and stays its owner's: a clear line, nothing written."""
    from studio.ui.actions import Studio

    runner = Runner(store)
    anas = runner.new_session("a cat and a dog", engine="scripted", seed=7, owner="ana")
    runner.advance(anas)  # the first plan, which ana corrects before it is drawn
    runner.edit_plan(anas, anas.head().id, instruction="draw a black cat", by="ana")
    runner.run(anas)
    png = tmp_path / "final.png"
    png.write_bytes(store.image_path(anas.head().image.sha256).read_bytes())

    elsewhere = Store(data_dir=tmp_path / "bens-studio")
    try:
        view = Studio(Runner(elsewhere), BEN).import_png(str(png))
        copy = elsewhere.load(view.session["id"])
        assert (copy.session.owner, copy.session.shared) == ("ben", False)
        assert {s.annotator for s in copy.steps.values()} == {None, "ana"}
    finally:
        elsewhere.close()

    before = store.count_sessions()
    with pytest.raises(StudioError, match="private to ana; ask them to share it"):
        Studio(Runner(store), BEN).import_png(str(png))
    assert store.count_sessions() == before and store.load(anas.session.id).session.owner == "ana"
    assert Studio(Runner(store), ADMIN).import_png(str(png)).session["id"] == anas.session.id
