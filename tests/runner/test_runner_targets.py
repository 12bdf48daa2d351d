"""Which step an action applies to, switching branches, and whether a refine changed anything.

These rules live in the runner so that the page, the HTTP API and the CLI share them.
"""

from __future__ import annotations

import pytest
from PIL import Image

from studio.core.domain import Review, RunSettings, Stage, StudioError

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


def new(runner, prompt="a cat and a dog"):
    return runner.new_session(prompt, engine="scripted", seed=7, settings=RunSettings())


def test_an_action_applies_to_exactly_the_step_named_or_to_the_latest_of_its_kind(runner, scripted):
    t = new(runner)
    runner.run(t)
    verdicts = [s for s in t.branch() if s.stage is Stage.INSPECT]
    assert runner.target(t, verdicts[0].id, Stage.INSPECT) is verdicts[0]  # an older one, as named
    assert (
        runner.target(t, "", Stage.INSPECT) is verdicts[-1]
    )  # none named: the latest on the branch
    with pytest.raises(StudioError, match="That is a plan step; this action needs a inspect step"):
        runner.target(t, t.branch()[0].id, Stage.INSPECT)
    with pytest.raises(StudioError, match="not part of session"):
        runner.target(t, "f" * 32, Stage.INSPECT)


def test_nothing_to_act_on_yet_says_so(runner, scripted):
    t = new(runner)
    with pytest.raises(StudioError, match="There is no inspect step on this branch yet"):
        runner.target(t, "", Stage.INSPECT)


def test_switching_to_a_step_continues_on_the_newest_live_branch_below_it(runner, scripted):
    t = new(runner)
    runner.run(t)
    first_end = t.session.head_id
    plan = t.branch()[0]
    runner.fork(t, plan.id)
    sketch = runner.advance(t)
    runner.reject(t, sketch.id, "no")  # a rejected sibling is a dead end, not a branch
    second_end = t.session.head_id
    assert runner.switch_branch(t, plan.id) == second_end  # the newest live end below the plan
    assert runner.switch_branch(t, first_end) == first_end
    assert runner.store.load(t.session.id).session.head_id == first_end
    assert t.steps[sketch.id].review is Review.REJECTED
    assert runner.switch_branch(t, sketch.id) == sketch.id  # only rejected below: the step itself


def test_a_refine_that_changed_nothing_inside_its_region_counts_zero_pixels(runner, scripted):
    t = new(runner, "a cat")
    sketch = runner.advance(t) and runner.advance(t)
    same = runner.store.load_image(sketch.image)
    left_half = Image.new("L", same.size, 0)
    left_half.paste(255, (0, 0, same.width // 2, same.height))
    assert runner.region_changed(sketch, sketch) == 0
    changed = sketch.replace(image=runner.store.save_image(Image.new("RGB", same.size, "white")))
    assert runner.region_changed(sketch, changed) == same.width * same.height
    assert runner.region_changed(sketch, changed, left_half) == same.width // 2 * same.height
