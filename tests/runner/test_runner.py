"""The loop and every human action, through the real store, with the scripted engine."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.core.domain import Author, Mode, Review, RunSettings, Stage, StudioError, rounds_used
from studio.engines.base import CancelToken
from studio.runner import PausePolicy

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


def stages(trajectory):
    return [s.stage.value for s in trajectory.branch()]


def new(runner, prompt="a cat and a dog", **settings):
    return runner.new_session(prompt, engine="scripted", seed=7, settings=RunSettings(**settings))


def test_a_clean_run_plans_each_part_then_finishes(runner, scripted):
    t = new(runner)
    outcome = runner.run(t)
    assert outcome.status == "finished"
    assert stages(t) == ["plan", "sketch", "inspect", "plan", "sketch", "inspect", "final"]
    plans = [s for s in t.branch() if s.stage is Stage.PLAN]
    assert [p.instruction for p in plans] == ["draw a cat", "draw a dog"]
    assert plans[-1].complete and not plans[0].complete
    final, last_sketch = t.branch()[-1], t.branch()[-3]
    assert (
        final.image != last_sketch.image
    )  # a new PNG: the last sketch's pixels plus the trajectory chunk
    assert (
        runner.store.load_image(final.image).tobytes()
        == runner.store.load_image(last_sketch.image).tobytes()
    )


def test_a_failed_inspect_leads_to_refine_then_inspect_again(runner, scripted):
    scripted.fail_rounds = {1}
    t = new(runner)
    runner.run(t)
    assert stages(t)[:6] == ["plan", "sketch", "inspect", "refine", "inspect", "plan"]
    first, second = [s for s in t.branch() if s.stage is Stage.INSPECT][:2]
    assert not first.passed and second.passed


def test_max_rounds_caps_plans_and_refines(runner, scripted):
    scripted.fail_rounds = {1, 2, 3, 4, 5}
    t = new(runner, "a and b and c and d", max_rounds=2)
    runner.run(t)
    branch = t.branch()
    assert rounds_used(branch) == 2
    assert branch[-1].stage is Stage.FINAL


def test_stops_early_when_inspect_passes_and_the_plan_is_complete(runner, scripted):
    t = new(runner, "a cat", max_rounds=6)
    runner.run(t)
    assert stages(t) == ["plan", "sketch", "inspect", "final"]


def test_single_pass_mode_skips_inspect(runner, scripted):
    t = new(runner, "a cat", mode=Mode.SINGLE)
    runner.run(t)
    assert stages(t) == ["plan", "sketch", "final"]


def test_pause_every_stage_returns_after_one_stage(runner, scripted):
    t = new(runner)
    outcome = runner.run(t, pause=PausePolicy.EVERY_STAGE)
    assert outcome.status == "paused" and stages(t) == ["plan"]
    runner.run(t, pause=PausePolicy.EVERY_STAGE)
    assert stages(t) == ["plan", "sketch"]


def test_pause_at_inspect_stops_after_each_verdict(runner, scripted):
    t = new(runner)
    outcome = runner.run(t, pause=PausePolicy.AT_INSPECT)
    assert outcome.status == "paused" and outcome.step.stage is Stage.INSPECT
    assert stages(t) == ["plan", "sketch", "inspect"]


def test_every_stage_is_committed_before_the_next_begins(runner, scripted, store):
    seen = []

    def listener(event):
        if event.kind == "started":
            seen.append((event.stage.value, store.count_steps(t.session.id)))

    t = new(runner, "a cat")
    runner.run(t, listener=listener)
    assert seen == [("plan", 0), ("sketch", 1), ("inspect", 2), ("final", 3)]


def test_progress_events_carry_previews(runner, scripted):
    events = []
    t = new(runner, "a cat")
    runner.run(t, pause=PausePolicy.EVERY_STAGE)
    runner.advance(t, listener=events.append)
    progress = [e for e in events if e.kind == "progress"]
    assert [e.kind for e in events][0] == "started" and events[-1].kind == "committed"
    assert progress and progress[-1].progress.fraction == 1.0
    assert isinstance(progress[0].progress.preview, Image.Image)


def test_cancel_keeps_nothing_of_the_stage_in_flight(runner, scripted, store):
    t = new(runner, "a cat")
    runner.advance(t)  # plan
    token = CancelToken()
    token.cancel()
    outcome = runner.run(t, cancel=token)
    assert outcome.status == "cancelled"
    assert stages(t) == ["plan"] and store.count_steps(t.session.id) == 1


def test_edit_plan_before_the_sketch_keeps_the_model_original(runner, scripted, store):
    t = new(runner, "a cat")
    plan = runner.advance(t)
    edited = runner.edit_plan(t, plan.id, instruction="draw a tabby cat")
    assert edited.id == plan.id and edited.author is Author.HUMAN
    assert edited.instruction == "draw a tabby cat" and edited.original == {
        "instruction": "draw a cat"
    }
    reloaded = store.load(t.session.id)
    assert reloaded.steps[plan.id].instruction == "draw a tabby cat"
    assert reloaded.steps[plan.id].original == {"instruction": "draw a cat"}
    sketch = runner.advance(t)
    assert sketch.parent_id == plan.id


def test_editing_a_plan_that_was_already_drawn_forks_a_new_plan(runner, scripted):
    t = new(runner, "a cat")
    plan = runner.advance(t)
    runner.advance(t)  # sketch
    edited = runner.edit_plan(t, plan.id, description="a cat, WRONG")
    assert edited.id != plan.id and edited.parent_id == plan.parent_id
    assert t.steps[plan.id].description == "a cat"  # the drawn branch is untouched
    runner.advance(t)  # sketch for the edited plan
    verdict = runner.advance(t)
    assert not verdict.plan_check.passed  # the inspector catches the contradictory edit


def test_edit_refuses_an_empty_instruction(runner, scripted):
    t = new(runner, "a cat")
    plan = runner.advance(t)
    with pytest.raises(StudioError, match="empty"):
        runner.edit_plan(t, plan.id, instruction="   ")


def test_accept_marks_the_sketch(runner, scripted, store):
    t = new(runner, "a cat")
    runner.advance(t)
    sketch = runner.advance(t)
    runner.accept(t, sketch.id, note="good")
    assert store.load(t.session.id).steps[sketch.id].review is Review.ACCEPTED


def test_reject_keeps_the_rejected_sketch_and_redraws_with_a_new_seed(runner, scripted, store):
    t = new(runner, "a cat")
    plan = runner.advance(t)
    sketch = runner.advance(t)
    redrawn = runner.reject(t, sketch.id, note="too dark")
    assert redrawn.parent_id == plan.id and redrawn.stage is Stage.SKETCH
    assert redrawn.seed != sketch.seed and redrawn.image != sketch.image
    stored = store.load(t.session.id)
    assert (
        stored.steps[sketch.id].review is Review.REJECTED
        and stored.steps[sketch.id].review_note == "too dark"
    )
    assert stored.session.head_id == redrawn.id
    runner.run(t)
    assert sketch.id not in [s.id for s in t.branch()]


def test_reject_only_applies_to_images(runner, scripted):
    t = new(runner, "a cat")
    plan = runner.advance(t)
    with pytest.raises(StudioError, match="plan step"):
        runner.reject(t, plan.id)


def test_override_flips_a_verdict_and_rewrites_the_critique(runner, scripted):
    scripted.fail_rounds = {1}
    t = new(runner, "a cat")
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    verdict = t.head()
    assert not verdict.passed
    overridden = runner.override(
        t, verdict.id, sketch_passed=True, sketch_critique="Looks right to me."
    )
    assert overridden.passed and overridden.author is Author.HUMAN
    assert overridden.original["sketch_check"].passed is False
    runner.run(t)
    assert stages(t) == ["plan", "sketch", "inspect", "final"]  # no refine after the override


def test_a_person_can_write_the_refine_instruction(runner, scripted):
    t = new(runner, "a cat")
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    refine = runner.refine_with(t, t.head().id, "make the cat orange")
    assert refine.stage is Stage.REFINE and refine.author is Author.HUMAN
    assert refine.instruction == "make the cat orange" and refine.image is not None
    runner.run(t)
    assert stages(t)[-3:] == ["refine", "inspect", "final"]


def test_a_region_refine_only_changes_the_region(runner, scripted, store):
    t = new(runner, "a cat")
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 32))
    before = store.load_image(t.branch()[1].image)
    refine = runner.refine_with(t, t.head().id, "fix the left half", region_mask=mask)
    after = store.load_image(refine.image)
    assert refine.region is not None
    assert after.crop((16, 0, 32, 32)).tobytes() == before.crop((16, 0, 32, 32)).tobytes()
    assert after.crop((0, 0, 16, 32)).tobytes() != before.crop((0, 0, 16, 32)).tobytes()


def test_fork_from_an_earlier_step_starts_a_new_branch_beside_the_old(runner, scripted, store):
    t = new(runner)
    runner.run(t)
    old_branch = [s.id for s in t.branch()]
    first_plan = t.branch()[0]
    calls_before = len(scripted.calls)
    runner.fork(t, first_plan.id)
    new_sketch = runner.advance(t)
    assert len(scripted.calls) == calls_before + 1  # forking itself calls no model
    assert new_sketch.parent_id == first_plan.id
    stored = store.load(t.session.id)
    assert len(stored.leaves()) == 2
    assert [s.id for s in stored.branch(old_branch[-1])] == old_branch


def test_bad_prompts_and_engines_are_refused(runner, scripted):
    with pytest.raises(StudioError, match="empty"):
        runner.new_session("   ", engine="scripted")
    with pytest.raises(StudioError, match="4,000"):
        runner.new_session("x" * 4001, engine="scripted")
    with pytest.raises(StudioError, match="Unknown engine 'nope'.*scripted"):
        runner.new_session("a cat", engine="nope")


def test_the_same_seed_gives_the_same_trajectory(runner, scripted):
    a, b = new(runner), new(runner)
    runner.run(a)
    runner.run(b)
    assert [s.image for s in a.branch()[:-1]] == [s.image for s in b.branch()[:-1]]
    # the finals show the same pixels; each PNG also carries its own session's trajectory
    images = [runner.store.load_image(t.branch()[-1].image).tobytes() for t in (a, b)]
    assert images[0] == images[1]


def test_a_second_edit_keeps_the_model_original_of_each_field(runner, scripted):
    t = new(runner, "a cat")
    plan = runner.advance(t)
    runner.edit_plan(t, plan.id, instruction="draw a tabby cat")
    twice = runner.edit_plan(t, plan.id, description="a tabby cat", instruction="draw a grey cat")
    assert twice.original == {"instruction": "draw a cat", "description": "a cat"}
