"""A person's correction shows in the offline engine's very next output, through the runner and a real
store (fixed seeds, no draft noise): an overridden critique, a reject reason, an edit of <ins> or <des>,
a corrected reading of the prompt; or that output says why it could not use it."""

from __future__ import annotations

import pytest

from studio.core.domain import RunSettings, Stage, person_input
from studio.engines.offline.analyse import analyse
from studio.runner import PausePolicy

CLEAN = RunSettings(engine_params={"draft_noise": 0})


def session(runner, prompt):
    trajectory = runner.new_session(prompt, engine="offline", seed=3, settings=CLEAN)
    runner.run(trajectory, PausePolicy.AT_INSPECT)
    return trajectory


def found(runner, step):
    return analyse(runner.store.load_image(step.image))


def overridden(runner, trajectory, critique):
    verdict = runner.target(trajectory, None, Stage.INSPECT)
    runner.override(trajectory, verdict.id, sketch_passed=False, sketch_critique=critique)
    return runner.advance(trajectory)


def test_an_overridden_critique_is_what_the_next_refine_does(runner):
    trajectory = session(runner, "a photo of a red cup")
    refine = overridden(runner, trajectory, "no: the cup should be green")
    assert refine.stage is Stage.REFINE and "Nothing to fix" not in refine.instruction
    assert [o.color for o in found(runner, refine).of("cup")] == ["green"]
    answer = person_input(refine)
    assert answer.used is True and "recoloured the cup green" in answer.note
    # the person's green outranks the prompt's red: the loop does not paint it back
    runner.run(trajectory)
    final = trajectory.branch()[-1]
    assert final.stage is Stage.FINAL and [o.color for o in found(runner, final).of("cup")] == [
        "green"
    ]


# phrasings not written into the engine: each must act on the canvas the way it says
PHRASINGS = [
    ("Wrong. I wanted the mug to be blue", lambda a: [o.color for o in a.of("cup")] == ["blue"]),
    ("there ought to be three cups", lambda a: len(a.of("cup")) == 3),
    ("you forgot a banana", lambda a: len(a.of("banana")) == 1),
    ("the cup should not be there at all", lambda a: not a.of("cup")),
    ("it should be yellow instead of red", lambda a: [o.color for o in a.of("cup")] == ["yellow"]),
]


@pytest.mark.parametrize(("critique", "shows"), PHRASINGS, ids=[p for p, _ in PHRASINGS])
def test_a_critique_in_other_words_is_acted_on(runner, critique, shows):
    trajectory = session(runner, "a photo of a red cup")
    refine = overridden(runner, trajectory, critique)
    assert shows(found(runner, refine)), refine.instruction
    assert person_input(refine).used is True


def test_a_critique_no_edit_can_be_read_from_says_so(runner):
    trajectory = session(runner, "a photo of a red cup")
    refine = overridden(runner, trajectory, "it looks unbalanced")
    assert refine.instruction.startswith("Could not use your note")
    assert "Nothing to fix" not in refine.instruction and "matches" not in refine.instruction
    answer = person_input(refine)
    assert answer.used is False and "it looks unbalanced" in answer.note


def test_a_reject_reason_moves_the_clock_in_the_redraw(runner):
    trajectory = runner.new_session(
        "a photo of a clock right of a cup", engine="offline", seed=3, settings=CLEAN
    )
    runner.run(trajectory, PausePolicy.AT_INSPECT)  # the cup
    runner.run(trajectory, PausePolicy.AT_INSPECT)  # the clock, right of it
    sketch = [s for s in trajectory.branch() if s.stage is Stage.SKETCH][-1]
    clock, cup = found(runner, sketch).of("clock")[0], found(runner, sketch).of("cup")[0]
    assert clock.center[0] > cup.center[0]
    redrawn = runner.reject(
        trajectory, sketch.id, note="the clock should be on the left of the cup"
    )
    clock, cup = found(runner, redrawn).of("clock")[0], found(runner, redrawn).of("cup")[0]
    assert clock.center[0] < cup.center[0]
    assert person_input(redrawn).used is True
    # later stages check against the person's reason, not the prompt's "right of"
    check = runner.advance(trajectory)
    assert check.sketch_check.passed and check.plan_check.passed


def edited_first_plan(runner, prompt, **fields):
    trajectory = runner.new_session(prompt, engine="offline", seed=3, settings=CLEAN)
    plan = runner.advance(trajectory)
    runner.edit_plan(trajectory, plan.id, **fields)
    return trajectory, runner.advance(trajectory)


def test_an_edit_of_the_description_alone_changes_the_sketch(runner):
    trajectory, sketch = edited_first_plan(
        runner, "a photo of a red cup", description="a green cup"
    )
    assert [o.color for o in found(runner, sketch).of("cup")] == ["green"]
    assert person_input(sketch).used is True


def test_an_edit_of_the_instruction_changes_the_sketch(runner):
    trajectory, sketch = edited_first_plan(
        runner, "a photo of a red cup", instruction="Draw two blue cups."
    )
    assert [o.color for o in found(runner, sketch).of("cup")] == ["blue", "blue"]
    check = runner.advance(trajectory)
    assert check.passed  # the description follows the person's <ins>: no refine back to one red cup


def test_a_corrected_reading_of_the_prompt_is_what_later_rounds_plan(runner):
    trajectory = runner.new_session(
        "a photo of a dog right of a teddy bear", engine="offline", seed=3, settings=CLEAN
    )
    plan = runner.advance(trajectory)
    corrected = plan.instruction.replace(
        "Understood: a teddy bear, with a dog right of the teddy bear.",
        "Understood: a teddy bear, with a cat right of the teddy bear.",
    )
    assert corrected != plan.instruction
    runner.edit_plan(trajectory, plan.id, instruction=corrected)
    runner.run(trajectory, PausePolicy.AT_INSPECT)
    second = runner.advance(trajectory)
    assert (
        second.stage is Stage.PLAN and second.instruction == "Draw a cat right of the teddy bear."
    )
