"""The trajectory model: tagged text round trips, JSON forms, and what comes next in the loop."""

from __future__ import annotations

import pytest

from studio.core.codec import step_from_dict, step_to_dict
from studio.core.domain import (
    Author,
    Box,
    Check,
    ImageRef,
    Mode,
    Review,
    RunSettings,
    Stage,
    Step,
    StudioError,
    next_stage,
    stage_round,
)
from studio.core.tagged import parse, render

IMG = ImageRef("a" * 64, 512, 512, 1234)
IMG2 = ImageRef("b" * 64, 512, 512, 999)


def chain(*steps):
    linked, parent = [], None
    for i, step in enumerate(steps):
        step = step.replace(id=f"s{i}", parent_id=parent)
        linked.append(step)
        parent = step.id
    return linked


def make(stage, **fields):
    return Step(id="", session_id="", parent_id=None, stage=stage, **fields)


BRANCH = chain(
    make(Stage.PLAN, instruction="Draw a cup & a <saucer>.", description="a blue cup"),
    make(Stage.SKETCH, image=IMG),
    make(
        Stage.INSPECT,
        plan_check=Check(True, "Matches."),
        sketch_check=Check(
            False, "The cup is red.", (Box(10, 20, 110.5, 220, "cup", 0.9), Box(1, 2, 3, 4, "x"))
        ),
    ),
    make(
        Stage.REFINE,
        instruction="make the cup blue",
        image=IMG2,
        author=Author.HUMAN,
        review=Review.ACCEPTED,
    ),
    make(Stage.INSPECT, plan_check=Check(True, ""), sketch_check=Check(True, "Fixed.")),
    make(Stage.FINAL, image=IMG2),
)

CONTENT = ("stage", "instruction", "description", "plan_check", "sketch_check", "image", "review")


def test_tagged_text_reads_like_the_paper():
    text = render("a blue cup", BRANCH)
    lines = text.splitlines()
    assert lines[0] == "<prompt>a blue cup</prompt>"
    assert (
        lines[1]
        == "<ins>Draw a cup &amp; a &lt;saucer&gt;.</ins><des>a blue cup</des><done>no</done>"
    )
    assert lines[3].startswith(
        '<plan>yes: Matches.</plan><sketch>no: The cup is red.<box x0="10" y0="20" x1="110.5"'
    )
    assert lines[4].startswith('<human/><refine>make the cup blue</refine><image sha256="bbbb')
    assert lines[6].startswith('<final/><image sha256="bbbb')


def test_tagged_text_round_trips_every_content_field():
    prompt, parsed = parse(render("a blue cup", BRANCH), session_id="x")
    assert prompt == "a blue cup"
    for original, back in zip(BRANCH, parsed, strict=True):
        assert {k: getattr(back, k) for k in CONTENT} == {k: getattr(original, k) for k in CONTENT}
    assert [s.parent_id for s in parsed[1:]] == [s.id for s in parsed[:-1]]
    assert parsed[3].author is Author.HUMAN and parsed[0].author is Author.MODEL
    assert render(prompt, parsed) == render("a blue cup", BRANCH)


def test_tagged_text_refuses_garbage_with_a_clear_message():
    with pytest.raises(StudioError, match="not a tagged trajectory"):
        parse("<ins>unclosed")
    with pytest.raises(StudioError, match=r"line 2: .*no step of a tagged trajectory"):
        parse("<prompt>x</prompt>\n<banana/>")
    with pytest.raises(StudioError, match=r"line 2: The plan could not be read"):
        parse("<prompt>x</prompt>\n<ins>unclosed")
    with pytest.raises(StudioError, match=r"line 2: The sketch check could not be read"):
        parse("<prompt>x</prompt>\n<plan>yes</plan><sketch>maybe</sketch>")


def test_steps_round_trip_through_plain_dicts():
    step = BRANCH[2].replace(
        original={"sketch_check": Check(True, "model said fine")},
        params={"cfg": 4.0},
        author=Author.HUMAN,
        seed=5,
    )
    assert step_from_dict(step_to_dict(step)) == step


@pytest.mark.parametrize(
    "stages, settings, expected",
    [
        ([], RunSettings(), Stage.PLAN),
        ([Stage.PLAN], RunSettings(), Stage.SKETCH),
        ([Stage.PLAN, Stage.SKETCH], RunSettings(), Stage.INSPECT),
        ([Stage.PLAN, Stage.SKETCH], RunSettings(mode=Mode.SINGLE), Stage.FINAL),
        ([Stage.FINAL], RunSettings(), None),
    ],
)
def test_next_stage_follows_the_loop(stages, settings, expected):
    branch = [make(s, complete=True) for s in stages]
    assert next_stage(branch, settings) == expected


def test_a_failed_inspect_refines_until_the_round_budget_is_spent():
    failed = make(Stage.INSPECT, plan_check=Check(True), sketch_check=Check(False))
    plan = make(Stage.PLAN, complete=False)
    branch = [plan, make(Stage.SKETCH), failed]
    assert next_stage(branch, RunSettings(max_rounds=2)) == Stage.REFINE
    assert (
        next_stage(branch + [make(Stage.REFINE), failed], RunSettings(max_rounds=2)) == Stage.FINAL
    )
    passed = make(Stage.INSPECT, plan_check=Check(True), sketch_check=Check(True))
    assert next_stage([plan, make(Stage.SKETCH), passed], RunSettings(max_rounds=2)) == Stage.PLAN


def test_a_rejected_image_is_drawn_again():
    assert (
        next_stage([make(Stage.PLAN), make(Stage.SKETCH, review=Review.REJECTED)], RunSettings())
        == Stage.SKETCH
    )


def test_branches_of_a_tree_stay_right_while_the_head_moves():
    from studio.core.domain import Session, Trajectory

    root, a1, a2, b1 = (
        make(Stage.PLAN).replace(id=i, parent_id=p)
        for i, p in (("r", None), ("a1", "r"), ("a2", "a1"), ("b1", "r"))
    )
    trajectory = Trajectory.of(Session("s", "p", "e", 0), [root, a1, a2])
    assert [s.id for s in trajectory.branch("a2")] == ["r", "a1", "a2"]
    trajectory.put(b1)
    assert [s.id for s in trajectory.branch("b1")] == ["r", "b1"]
    assert [s.id for s in trajectory.branch("a2")] == ["r", "a1", "a2"]
    trajectory.put(a1.replace(instruction="edited"))
    assert trajectory.branch("a2")[1].instruction == "edited"
    assert {s.id for s in trajectory.leaves()} == {"a2", "b1"}


def test_plans_and_refines_open_rounds_and_the_other_stages_stay_in_them():
    assert stage_round([], Stage.PLAN) == 1
    assert [stage_round(BRANCH[:i], BRANCH[i].stage) for i in range(len(BRANCH))] == [
        1,
        1,
        1,
        2,
        2,
        2,
    ]
