"""The offline engine on nouns it has no glyph for, and its checks when something requested is missing."""

from __future__ import annotations

import pytest
from PIL import ImageDraw

from studio.core.domain import Author, Stage, StudioError
from studio.engines.offline import OfflineEngine
from studio.engines.offline.analyse import analyse
from studio.engines.offline.draw import PAPER, card_box

from ..kits.offline_kit import Kit

CLEAN = {"draft_noise": 0}
PEARS = "two green pears below a yellow lamp and a black cat on the right"


@pytest.fixture
def engine():
    return OfflineEngine()


def run_to_end(kit: Kit, engine: OfflineEngine, limit: int = 30):
    """Plan, sketch, inspect (and refine when inspect fails) until a complete plan passes both checks."""
    for _ in range(limit):
        plan = kit.run(engine, Stage.PLAN)
        kit.run(engine, Stage.SKETCH)
        check = kit.run(engine, Stage.INSPECT)
        # bounded: a loop that cannot fix a finding must fail, not hang
        for _refine in range(limit):
            if check.plan_check.passed and check.sketch_check.passed:
                break
            kit.run(engine, Stage.REFINE)
            check = kit.run(engine, Stage.INSPECT)
        else:
            raise AssertionError(f"{limit} refines did not fix: {check.sketch_check.critique}")
        if plan.complete:
            return check
    raise AssertionError("the session did not finish")


def test_the_first_card_says_what_the_engine_understood(engine):
    plan = Kit(PEARS, params=CLEAN).run(engine, Stage.PLAN)
    first, todo = plan.instruction.splitlines()
    assert first.startswith(
        "Understood: a yellow lamp, with two green pears below the yellow lamp and a black "
        "cat right of the yellow lamp."
    )
    assert "Drawn from OpenMoji pictures: lamp, pear." in first  # a picture is no placeholder
    assert todo == "Draw a yellow lamp."


def test_the_first_card_names_what_could_not_be_placed_or_must_not_be_drawn(engine):
    first = (
        Kit("a dog next to a cat but no bird", params=CLEAN)
        .run(engine, Stage.PLAN)
        .instruction.splitlines()[0]
    )
    assert "Not to be drawn: a bird." in first
    assert "a dog next to the cat" in first  # "next to" is a relation the engine draws now
    assert "Could not place" not in first


def test_the_first_card_names_the_words_it_left_out_without_calling_an_action_a_setting(engine):
    first = (
        Kit("In a sunny park, a brown dog chases a red frisbee", params=CLEAN)
        .run(engine, Stage.PLAN)
        .instruction.splitlines()[0]
    )
    assert first.endswith(
        "Left out, as only objects are drawn (setting, actions, parts, materials, style): "
        "In a sunny park, chases."
    )


def test_unknown_nouns_are_planned_drawn_and_seen_like_any_other(engine):
    kit = Kit(PEARS, params=CLEAN)
    check = run_to_end(kit, engine)
    assert check.plan_check.passed and check.sketch_check.passed
    seen = sorted((o["class"], o["color"]) for o in check.meta["found"])
    assert seen == [("cat", "black"), ("lamp", "yellow"), ("pear", "green"), ("pear", "green")]


def test_the_plan_check_fails_when_a_complete_plan_leaves_out_a_requested_object(engine):
    kit = Kit(PEARS, params=CLEAN)
    kit.add(
        Stage.PLAN,
        Author.HUMAN,
        instruction="Draw two green pears and a black cat.",
        description="two green pears and a black cat",
        complete=True,
    )
    kit.run(engine, Stage.SKETCH)
    check = kit.run(engine, Stage.INSPECT)
    assert not check.plan_check.passed
    assert "The plan is marked complete but leaves out a yellow lamp." in check.plan_check.critique


def test_the_sketch_check_fails_when_a_planned_unknown_object_is_not_on_the_canvas(engine):
    kit = Kit("a yellow lamp and a black cat", params=CLEAN)
    kit.add(
        Stage.PLAN,
        Author.HUMAN,
        instruction="Draw a yellow lamp and a black cat.",
        description="a yellow lamp and a black cat",
        complete=True,
    )
    sketch = kit.run(engine, Stage.SKETCH)
    image = kit.image(sketch).copy()
    lamp = next(o for o in analyse(image, {"lamp"}).objects if o.cls == "lamp")
    ImageDraw.Draw(image).rectangle(card_box(lamp.box, "lamp"), fill=PAPER)  # rub the lamp out
    kit.add(Stage.SKETCH, Author.HUMAN, image=image)
    check = kit.run(engine, Stage.INSPECT)
    assert check.plan_check.passed and not check.sketch_check.passed
    assert check.sketch_check.critique.startswith(
        "The sketch has no lamp; the plan asks for a yellow lamp."
    )


def test_a_persons_plan_that_draws_what_the_prompt_excludes_is_kept_and_named(engine):
    kit = Kit("a dog but no cat", params=CLEAN)
    kit.add(
        Stage.PLAN,
        Author.HUMAN,
        instruction="Draw a dog and a cat.",
        description="a dog and a cat",
        complete=True,
    )
    kit.run(engine, Stage.SKETCH)
    check = kit.run(engine, Stage.INSPECT)
    # a person's plan outranks the prompt (issue 22): the check keeps it and says where it departs
    assert check.plan_check.passed
    critique = check.plan_check.critique
    assert "departs from the prompt where a person corrected it" in critique and "cat" in critique


def test_the_reported_living_room_draws_the_lamp_it_used_to_drop(engine):
    check = run_to_end(
        Kit("a cozy living room with a sofa, a lamp and a sleeping cat", params=CLEAN), engine
    )
    assert sorted(o["class"] for o in check.meta["found"]) == ["cat", "couch", "lamp"]


EIGHT = "a lamp, a rhino, a kettle, a drum, a candle, a globe, a lantern and a crown"


@pytest.mark.xfail(
    strict=True,
    reason="known defect (issue 26, open): among eight objects the analyser does not read the drum's "
    "OpenMoji picture back, so every refine redraws it; the painter's record holds all eight",
)
def test_eight_unknown_nouns_get_eight_placeholders_told_apart(engine):
    check = run_to_end(Kit(EIGHT, params=CLEAN), engine)
    assert sorted(o["class"] for o in check.meta["found"]) == sorted(
        EIGHT.replace(" and ", ", ").replace("a ", "").split(", ")
    )


def test_a_ninth_unknown_noun_is_refused_in_one_line_rather_than_sharing_a_placeholder(engine):
    with pytest.raises(StudioError) as caught:
        Kit(EIGHT + " and a trumpet", params=CLEAN).run(engine, Stage.PLAN)
    message = str(caught.value)
    assert (
        "\n" not in message
        and "at most 8" in message
        and "trumpet" in message
        and "Name fewer" in message
    )


@pytest.mark.parametrize(
    "prompt, unknown",
    [
        ("a purple rhino to the left of a bench", {"rhino"}),
        ("two lanterns above a red kettle", {"lantern", "kettle"}),
        (
            "A brass lantern hangs above a wooden bench in a quiet garden. The lantern is yellow, and the bench "
            "is brown. Soft evening light falls across the gravel path.",
            {"lantern"},
        ),
    ],
)
def test_a_session_passes_both_checks_only_with_every_unknown_object_drawn(engine, prompt, unknown):
    check = run_to_end(Kit(prompt, params={"draft_noise": 0.5}), engine)
    assert check.plan_check.passed and check.sketch_check.passed
    assert unknown <= {o["class"] for o in check.meta["found"]}
