"""An inspect that failed only its plan check is the next plan's to fix, never the canvas's."""

from __future__ import annotations

from studio.core.domain import Check, RunSettings, Stage, Step, next_stage


def branch(plan_passed: bool, sketch_passed: bool, complete: bool) -> list[Step]:
    plan = Step("p", "s", None, Stage.PLAN, complete=complete)
    sketch = Step("k", "s", "p", Stage.SKETCH)
    verdict = Step(
        "i",
        "s",
        "k",
        Stage.INSPECT,
        plan_check=Check(plan_passed),
        sketch_check=Check(sketch_passed),
    )
    return [plan, sketch, verdict]


def test_a_failed_plan_check_alone_goes_to_the_next_plan_while_the_plan_is_not_complete():
    assert next_stage(branch(False, True, complete=False), RunSettings()) is Stage.PLAN


def test_a_failed_sketch_check_or_a_complete_plan_is_still_refined():
    assert next_stage(branch(False, False, complete=False), RunSettings()) is Stage.REFINE
    assert next_stage(branch(True, False, complete=False), RunSettings()) is Stage.REFINE
    assert next_stage(branch(False, True, complete=True), RunSettings()) is Stage.REFINE
