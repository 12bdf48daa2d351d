"""A person's correction reaches the very next model call, and a refine that changed nothing is no
progress: the runner's side of it, through the real store, with a scripted engine that records what
each stage was given."""

from __future__ import annotations

import pytest
from PIL import Image

from studio import engines
from studio.core.domain import (
    Author,
    RunSettings,
    Stage,
    next_stage,
    person_input,
    rounds_used,
    unchanged,
)
from studio.engines.base import RefineResult, UsedInput
from studio.runner import PausePolicy
from tests.kits.fakes import ScriptedEngine

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


class Listening(ScriptedEngine):
    """Stands in for a model that reads the correction it is given: records each stage's `ctx.person`,
    `ctx.verdict` and `ctx.rejected`, and answers a person's note with `used_input`."""

    def __init__(self, answer: bool = True, same_image: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.seen: list[tuple[Stage, object, object, list]] = []
        self.answer = answer
        self.same_image = same_image

    def _saw(self, stage, ctx):
        self.seen.append((stage, ctx.person, ctx.verdict, list(ctx.rejected)))

    def sketch(self, ctx):
        self._saw(Stage.SKETCH, ctx)
        result = super().sketch(ctx)
        if ctx.person is not None and self.answer:
            result.used_input = UsedInput(True, f"drew {ctx.person.text}")
        return result

    def refine(self, ctx, instruction, region):
        self._saw(Stage.REFINE, ctx)
        if self.same_image:
            return RefineResult(instruction or "keep it", ctx.current_image())
        result = super().refine(ctx, instruction, region)
        if ctx.person is not None and self.answer:
            result.used_input = UsedInput(True, f"fixed: {ctx.person.text}")
        return result


@pytest.fixture
def listening(request):
    engine = Listening(**getattr(request, "param", {}))
    engines.register("listening", lambda: engine)
    yield engine
    engines.unregister("listening")


def started(runner, prompt="a red cup", **settings):
    trajectory = runner.new_session(
        prompt, engine="listening", seed=7, settings=RunSettings(**settings)
    )
    runner.run(trajectory, PausePolicy.AT_INSPECT)
    return trajectory


def test_an_overridden_verdict_is_what_the_next_refine_is_given(runner, listening):
    trajectory = started(runner)
    verdict = runner.target(trajectory, None, Stage.INSPECT)
    runner.override(
        trajectory, verdict.id, sketch_passed=False, sketch_critique="the cup should be green"
    )
    refine = runner.advance(trajectory)

    stage, person, given_verdict, _ = listening.seen[-1]
    assert stage is Stage.REFINE
    assert (person.kind, person.text, person.step_id) == (
        "verdict",
        "the cup should be green",
        verdict.id,
    )
    assert given_verdict.sketch_check.critique == "the cup should be green"
    assert given_verdict.original["sketch_check"].critique != "the cup should be green"
    recorded = person_input(refine)
    assert (recorded.used, recorded.note) == (True, "fixed: the cup should be green")


def test_a_model_verdict_gives_the_refine_no_person_input(runner):
    engine = Listening(fail_rounds=(1,))
    engines.register("listening", lambda: engine)
    try:
        trajectory = started(runner)
        assert not runner.target(trajectory, None, Stage.INSPECT).passed
        refine = runner.advance(trajectory)
    finally:
        engines.unregister("listening")
    assert refine.stage is Stage.REFINE
    assert engine.seen[-1][1] is None and engine.seen[-1][2] is not None
    assert person_input(refine) is None


@pytest.mark.parametrize("listening", [{"answer": False}], indirect=True)
def test_an_engine_that_says_nothing_of_the_note_is_recorded_as_not_using_it(runner, listening):
    trajectory = started(runner)
    verdict = runner.target(trajectory, None, Stage.INSPECT)
    runner.override(trajectory, verdict.id, sketch_passed=False, sketch_critique="too dark")
    recorded = person_input(runner.advance(trajectory))
    assert recorded.used is False
    assert "does not say whether it read your note" in recorded.note


def test_a_reject_reason_and_the_rejected_image_reach_the_redraw(runner, listening):
    trajectory = runner.new_session("a red cup", engine="listening", seed=7)
    runner.run(trajectory, PausePolicy.EVERY_STAGE)  # plan
    sketch = runner.advance(trajectory)
    redrawn = runner.reject(trajectory, sketch.id, note="the clock should be on the left")

    stage, person, _, rejected = listening.seen[-1]
    assert stage is Stage.SKETCH
    assert (person.kind, person.text, person.step_id) == (
        "reason",
        "the clock should be on the left",
        sketch.id,
    )
    assert rejected[-1].id == sketch.id and rejected[-1].image == sketch.image
    assert person_input(redrawn).used is True


def test_a_reject_without_a_reason_gives_the_redraw_no_person_input(runner, listening):
    trajectory = runner.new_session("a red cup", engine="listening", seed=7)
    runner.run(trajectory, PausePolicy.EVERY_STAGE)
    sketch = runner.advance(trajectory)
    redrawn = runner.reject(trajectory, sketch.id)
    assert listening.seen[-1][1] is None and person_input(redrawn) is None


def test_an_edited_plan_is_what_the_sketch_is_given(runner, listening):
    trajectory = runner.new_session("a red cup", engine="listening", seed=7)
    plan = runner.advance(trajectory)
    runner.edit_plan(trajectory, plan.id, description="a green cup on a shelf")
    sketch = runner.advance(trajectory)

    stage, person, _, _ = listening.seen[-1]
    assert stage is Stage.SKETCH
    assert (person.kind, person.text) == ("plan", "a green cup on a shelf")
    assert person_input(sketch).note == "drew a green cup on a shelf"


@pytest.mark.parametrize("listening", [{"same_image": True, "fail_rounds": (1,)}], indirect=True)
def test_a_model_refine_that_returns_the_same_image_is_flagged_and_the_loop_moves_on(
    runner, listening
):
    trajectory = started(runner, max_rounds=6)
    refine = runner.advance(trajectory)
    assert refine.stage is Stage.REFINE
    assert unchanged(refine) == "the refine returned the same image"
    assert rounds_used(trajectory.branch()) == 1  # the plan only
    runner.run(trajectory)
    stages = [s.stage for s in trajectory.branch()]
    # one unchanged refine, then the loop went on instead of refining the same verdict again
    assert stages.count(Stage.REFINE) == 1
    assert stages[-1] is Stage.FINAL


def test_a_person_refine_that_changes_no_pixel_in_its_region_is_no_round(runner, listening):
    trajectory = started(runner)
    verdict = runner.target(trajectory, None, Stage.INSPECT)
    rounds_before = rounds_used(trajectory.branch())
    empty_region = Image.new("L", (32, 32), 0)
    refine = runner.refine_with(
        trajectory, verdict.id, "make the cup green", region_mask=empty_region
    )
    assert refine.author is Author.HUMAN
    assert unchanged(refine) == "the refine changed no pixel inside the painted region"
    assert rounds_used(trajectory.branch()) == rounds_before
    # the person may try again: the loop goes on from the verdict as if the no-op were not there
    branch, settings = trajectory.branch(), trajectory.session.settings
    assert next_stage(branch, settings) == next_stage(branch[:-1], settings) != Stage.INSPECT
