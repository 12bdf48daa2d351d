"""The offline engine stage by stage, and whole sessions through the runner and the store."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio import engines
from studio.core.domain import Author, Mode, RunSettings, Stage, StudioError
from studio.engines.base import Cancelled, CancelToken
from studio.engines.offline import OfflineEngine
from studio.engines.offline.analyse import analyse, geneval_satisfied
from studio.engines.offline.draw import PAPER, blank, draw_object

from ..kits.offline_kit import Kit, png

CLEAN = {"draft_noise": 0}


@pytest.fixture
def engine():
    return OfflineEngine()


def cycle(kit, engine, seed=0):
    """plan → sketch → inspect; returns the three steps."""
    return (
        kit.run(engine, Stage.PLAN),
        kit.run(engine, Stage.SKETCH, seed),
        kit.run(engine, Stage.INSPECT),
    )


def test_it_is_the_default_engine_and_says_what_it_is():
    engine = engines.load(engines.DEFAULT_ENGINE)
    assert isinstance(engine, OfflineEngine) and engine.name == "offline"
    assert (
        engine.label
        == "offline sketch engine: draws scene layouts with strokes and shapes, not photographs"
    )
    assert engine.capabilities.region_edit


def todo(plan) -> str:
    """The instruction without the first plan's "Understood:" line."""
    return plan.instruction.splitlines()[-1]


def test_plans_anchors_first_one_group_per_round(engine):
    kit = Kit("a photo of a dog right of a teddy bear", params=CLEAN)
    plan, _, check = cycle(kit, engine)
    assert (
        plan.instruction.splitlines()[0]
        == "Understood: a teddy bear, with a dog right of the teddy bear."
    )
    assert (todo(plan), plan.description, plan.complete) == (
        "Draw a teddy bear.",
        "a teddy bear",
        False,
    )
    assert check.passed and "still to come: a dog" in check.plan_check.critique
    plan, _, check = cycle(kit, engine)
    assert plan.instruction == "Draw a dog right of the teddy bear."
    assert plan.description == "a teddy bear, with a dog right of the teddy bear" and plan.complete
    assert check.passed


def test_the_next_plan_builds_on_the_branch_as_a_person_edited_it(engine):
    kit = Kit("a photo of a dog right of a teddy bear", params=CLEAN)
    kit.add(
        Stage.PLAN,
        Author.HUMAN,
        instruction="Draw a teddy bear and a red cat.",
        description="a teddy bear and a red cat",
    )
    kit.run(engine, Stage.SKETCH)
    check = kit.run(engine, Stage.INSPECT)
    # a person's plan outranks the prompt: noted once, never planned back
    assert check.plan_check.passed
    assert "It departs from the prompt where a person corrected it" in check.plan_check.critique
    plan = kit.run(engine, Stage.PLAN)
    assert "a red cat" in plan.description and "a dog right of the teddy bear" in plan.description
    kit.run(engine, Stage.SKETCH)
    check = kit.run(engine, Stage.INSPECT)
    assert check.passed and "departs" not in check.plan_check.critique


def test_single_pass_plans_everything_at_once(engine):
    kit = Kit("two red apples below a blue cup", mode=Mode.SINGLE)
    plan = kit.run(engine, Stage.PLAN)
    assert plan.complete
    assert todo(plan) == "Draw a blue cup, with two red apples below the blue cup."


def test_groups_are_folded_into_one_plan_when_rounds_run_short(engine):
    prompt = "a red apple, a blue cup and a green bench"
    short = Kit(prompt, max_rounds=2)
    plan = short.run(engine, Stage.PLAN)
    assert plan.complete and all(word in plan.instruction for word in ("apple", "cup", "bench"))
    roomy = Kit(prompt, max_rounds=3)
    assert todo(roomy.run(engine, Stage.PLAN)) == "Draw a red apple."


def test_a_prompt_without_objects_is_refused_with_an_example(engine):
    with pytest.raises(StudioError, match="e.g."):
        Kit("a sunset over the sea").run(engine, Stage.PLAN)


def test_the_same_seed_gives_the_same_png(engine):
    def draw(seed):
        kit = Kit("three purple clocks and a yellow kite")
        kit.add(
            Stage.PLAN, instruction="Draw three purple clocks and a yellow kite.", description="x"
        )
        return png(engine.sketch(kit.ctx(Stage.SKETCH, seed)).image)

    assert draw(11) == draw(11)
    assert draw(11) != draw(12)


def test_a_sketch_adds_new_groups_without_touching_what_is_drawn(engine):
    kit = Kit("a photo of a dog right of a teddy bear", params=CLEAN)
    _, first, _ = cycle(kit, engine, seed=1)
    _, second, _ = cycle(kit, engine, seed=2)
    before, after = np.asarray(kit.image(first)), np.asarray(kit.image(second))
    drawn = np.any(before != PAPER, axis=-1)
    assert drawn.any() and np.array_equal(before[drawn], after[drawn])
    assert [o.cls for o in analyse(kit.image(second)).objects].count("dog") == 1


def test_sketch_reports_progress_with_previews_and_stops_when_cancelled(engine):
    kit = Kit("four giraffes")
    kit.run(engine, Stage.PLAN)
    seen = []
    engine.sketch(kit.ctx(Stage.SKETCH, report=seen.append))
    previews = [p for p in seen if p.preview is not None]
    assert len(previews) >= 4 and all(p.preview.size == (512, 512) for p in previews)
    assert [p.fraction for p in seen] == sorted(p.fraction for p in seen) and seen[
        -1
    ].fraction == 1.0
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        engine.sketch(kit.ctx(Stage.SKETCH, cancel=token))


def test_draft_mistakes_are_caught_and_refined(engine):
    kit = Kit("a photo of a blue cup", params={"draft_noise": 0, "noise_color": 1.0})
    _, sketch, check = cycle(kit, engine)
    assert sketch.meta["draft_mistakes"] and not check.passed
    assert check.sketch_check.critique.startswith("In the sketch the cup is")
    for attempt in range(
        5
    ):  # a refine may repeat the mistake (at half the rate); inspect says so again
        refine = kit.run(engine, Stage.REFINE, seed=attempt)
        assert refine.instruction.startswith("recolor the") and refine.instruction.endswith(
            "cup to blue"
        )
        if kit.run(engine, Stage.INSPECT).passed:
            break
    assert kit.branch[-1].passed and analyse(kit.image(refine)).of("cup")[0].color == "blue"


def test_an_ignored_relation_is_refined_by_a_move(engine):
    kit = Kit(
        "a photo of a dog right of a teddy bear", params={"draft_noise": 0, "noise_relation": 1.0}
    )
    cycle(kit, engine)
    _, _, check = cycle(kit, engine, seed=3)
    assert not check.passed
    while not check.passed:  # the draft ignored where the dog goes: the refine moves it
        assert "right of" in check.sketch_check.critique
        refine = kit.run(engine, Stage.REFINE, seed=len(kit.branch))
        assert refine.instruction.startswith("move the")
        check = kit.run(engine, Stage.INSPECT)
    dog, bear = (
        analyse(kit.image(kit.branch[-2])).of("dog")[0],
        analyse(kit.image(kit.branch[-2])).of("teddy bear")[0],
    )
    assert dog.center[0] > bear.center[0]


def test_an_incremental_draft_can_run_out_of_room_and_the_refine_makes_room(engine):
    kit = Kit("a photo of a dog right of a teddy bear", params=CLEAN)
    kit.add(Stage.PLAN, instruction="Draw a teddy bear.", description="a teddy bear")
    canvas = blank()
    draw_object(
        canvas, "teddy bear", "brown", (392, 150, 502, 290), np.random.default_rng(0)
    )  # hard right
    kit.add(Stage.SKETCH, image=canvas)
    assert kit.run(engine, Stage.INSPECT).passed
    _, sketch, check = cycle(kit, engine)
    after = np.asarray(kit.image(sketch))
    assert np.array_equal(
        after[150:290, 392:502], np.asarray(canvas)[150:290, 392:502]
    )  # the bear was not moved
    assert check.sketch_check.critique == "In the sketch the dog is not right of the teddy bear."
    refine = kit.run(engine, Stage.REFINE)
    assert refine.instruction in (
        "move the teddy bear left of the dog",
        "move the dog right of the teddy bear",
    )
    assert kit.run(engine, Stage.INSPECT).passed


def test_a_persons_refine_is_carried_out_or_explained(engine):
    kit = Kit("two red apples below a blue cup", params=CLEAN)
    cycle(kit, engine)
    cycle(kit, engine)
    refine = kit.run(engine, Stage.REFINE, instruction="make the cup green")
    assert refine.instruction == "make the cup green" and refine.author is Author.HUMAN
    assert analyse(kit.image(refine)).of("cup")[0].color == "green"
    check = kit.run(engine, Stage.INSPECT)
    # the person's green cup outranks the prompt's blue one: noted, not refined back
    assert check.passed
    assert "It departs from the prompt where a person corrected it: a green cup" in (
        check.plan_check.critique
    )
    with pytest.raises(StudioError, match="make the cup blue"):
        engine.refine(kit.ctx(Stage.REFINE), "paint it nicer", None)
    with pytest.raises(StudioError, match="no dog on the canvas"):
        engine.refine(kit.ctx(Stage.REFINE), "remove the dog", None)


def test_a_region_refine_changes_nothing_outside_the_region(engine):
    kit = Kit("two red apples below a blue cup", params=CLEAN)
    cycle(kit, engine)
    _, sketch, _ = cycle(kit, engine)
    base = kit.image(sketch)
    left, right = sorted(analyse(base).of("apple"), key=lambda o: o.center[0])
    mask = Image.new("L", base.size, 0)
    ImageDraw.Draw(mask).rectangle(
        (left.box[0] - 4, left.box[1] - 4, left.box[2] + 4, left.box[3] + 4), fill=255
    )
    refined = engine.refine(kit.ctx(Stage.REFINE), "make the apples yellow", mask).image
    before, after, inside = np.asarray(base), np.asarray(refined), np.asarray(mask) > 0
    assert np.array_equal(before[~inside], after[~inside])
    assert not np.array_equal(before[inside], after[inside])
    colours = {o.center[0] < right.center[0]: o.color for o in analyse(refined).of("apple")}
    assert colours == {True: "yellow", False: "red"}


# -- whole sessions through the runner and the store ---------------------------------------------


def test_a_whole_session_runs_through_the_runner_and_the_store(runner):
    prompt = "two red apples below a blue cup and a green bench left of the cup"
    trajectory = runner.new_session(prompt, seed=4)  # the default engine
    assert trajectory.session.engine == "offline"
    assert runner.run(trajectory).status == "finished"
    branch = runner.open(trajectory.session.id).branch()
    stages = [s.stage for s in branch]
    assert stages[:3] == [Stage.PLAN, Stage.SKETCH, Stage.INSPECT] and stages[-1] is Stage.FINAL
    assert sum(s is Stage.PLAN for s in stages) == 3
    assert branch[-2].stage is Stage.INSPECT and branch[-2].passed
    final = runner.store.load_image(branch[-1].image)
    assert geneval_satisfied(
        {
            "include": [
                {"class": "cup", "count": 1, "color": "blue"},
                {"class": "apple", "count": 2, "color": "red", "position": ["below", 0]},
                {"class": "bench", "count": 1, "color": "green", "position": ["left of", 0]},
            ]
        },
        analyse(final).objects,
    )


def test_a_persons_edits_through_the_runner(runner):
    trajectory = runner.new_session(
        "a photo of a blue cup", seed=1, settings=RunSettings(engine_params=CLEAN)
    )
    plan = runner.advance(trajectory)
    runner.edit_plan(
        trajectory, plan.id, instruction="Draw a green cup.", description="a green cup"
    )
    sketch = runner.advance(trajectory)
    check = runner.advance(trajectory)
    # the person's green cup is drawn and kept: the plan check notes that it departs from the prompt
    assert analyse(runner.store.load_image(sketch.image)).of("cup")[0].color == "green"
    assert check.passed and "departs from the prompt" in check.plan_check.critique
    refine = sketch
    mask = Image.new("L", (512, 512), 0)
    ImageDraw.Draw(mask).rectangle((0, 0, 255, 511), fill=255)
    before = np.asarray(runner.store.load_image(refine.image))
    person = runner.refine_with(
        trajectory, trajectory.head().id, "add a red apple", region_mask=mask
    )
    after = np.asarray(runner.store.load_image(person.image))
    assert np.array_equal(before[:, 256:], after[:, 256:]) and not np.array_equal(before, after)
    assert person.region is not None and person.author is Author.HUMAN


def test_the_painter_keeps_a_record_of_the_canvas_that_the_inspector_never_reads(engine):
    kit = Kit("two red apples", params=CLEAN)
    kit.run(engine, Stage.PLAN)
    sketch = kit.run(engine, Stage.SKETCH)
    assert [(o["class"], o["color"]) for o in sketch.meta["canvas"]] == [("apple", "red")] * 2
    refine = kit.run(engine, Stage.REFINE, instruction="remove one apple")
    (kept,), (seen,) = refine.meta["canvas"], analyse(kit.image(refine)).objects
    assert np.abs(np.subtract(kept["box"], seen.box)).max() <= 2  # the record follows the erasure
    kit.add(
        Stage.SKETCH, image=kit.image(sketch), meta={"canvas": []}
    )  # a record that says "empty" is not read
    # the inspector sees the two apples in the pixels (the person's "remove one apple" planned one)
    check = kit.run(engine, Stage.INSPECT).sketch_check
    assert check.critique == "The sketch has two apples; the plan asks for a red apple."
