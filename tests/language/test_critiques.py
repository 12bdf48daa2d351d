"""A person's critique (an overridden verdict, a reject reason) read into the edits that answer it.

The phrasings are written as people write them, not as the engine writes its own critiques; each
names the edit a person would expect, read against the plan the critique judged."""

from __future__ import annotations

import pytest

from studio.language import ObjectGroup, SceneGraph
from studio.language.critique import read_critique
from studio.language.edits import Edit, edit_from_dict, edit_to_dict
from studio.language.scene import Relation

# a red cup and a clock right of it; two dogs; a cat
PLAN = SceneGraph(
    [ObjectGroup("cup", 1, "red"), ObjectGroup("clock"), ObjectGroup("dog", 2), ObjectGroup("cat")],
    [Relation(1, "right of", 0)],
)
CUP, CLOCK, DOG, CAT = (ObjectGroup(c) for c in ("cup", "clock", "dog", "cat"))

PHRASINGS = [
    # recolour
    ("no: the cup should be green", Edit("recolor", CUP, color="green")),
    ("The cup is supposed to be green.", Edit("recolor", CUP, color="green")),
    ("wrong colour - I asked for a green cup", Edit("recolor", CUP, color="green")),
    ("the cup ought to be green rather than red", Edit("recolor", CUP, color="green")),
    ("cup: green, not red", Edit("recolor", CUP, color="green")),
    ("I'd like the mug in blue", Edit("recolor", CUP, color="blue")),
    ("Nope. Paint the clock yellow", Edit("recolor", CLOCK, color="yellow")),
    # move
    ("the clock should be on the left of the cup", Edit("move", CLOCK, "left of", CUP)),
    ("the clock needs to go to the left of the cup", Edit("move", CLOCK, "left of", CUP)),
    ("wrong - put the clock under the cup", Edit("move", CLOCK, "below", CUP)),
    ("the cup belongs above the clock", Edit("move", CUP, "above", CLOCK)),
    # count
    ("there should be three dogs", Edit("count", DOG, count=3)),
    ("only one dog, please", Edit("count", DOG, count=1)),
    ("one dog too many", Edit("remove", DOG, count=1)),
    ("there are too many dogs", Edit("count", DOG, count=2)),
    ("we need two more dogs", Edit("add", DOG, count=2)),
    ("three dogs, not two", Edit("count", DOG, count=3)),
    # add
    ("the banana is missing", Edit("add", ObjectGroup("banana"), count=1)),
    ("where is the banana?", Edit("add", ObjectGroup("banana"), count=1)),
    ("you forgot the banana", Edit("add", ObjectGroup("banana"), count=1)),
    ("there should also be a banana", Edit("add", ObjectGroup("banana"), count=1)),
    ("I can't see a bird anywhere", Edit("add", ObjectGroup("bird"), count=1)),
    # remove
    ("there should be no cat", Edit("remove", CAT)),
    ("get rid of the cat", Edit("remove", CAT)),
    ("the cat shouldn't be there", Edit("remove", CAT)),
    ("I never asked for a cat", Edit("remove", CAT)),
    ("lose the cat", Edit("remove", CAT)),
]


@pytest.mark.parametrize(("text", "edit"), PHRASINGS, ids=[t for t, _ in PHRASINGS])
def test_a_critique_as_people_write_it_reads_as_the_edit_it_asks_for(text, edit):
    critique = read_critique(text, PLAN)
    assert critique.edits == (edit,), critique.why_not


def test_a_critique_with_two_findings_gives_both_edits():
    critique = read_critique(
        "The cup should be green, and the clock should be left of the cup.", PLAN
    )
    assert critique.edits == (
        Edit("recolor", CUP, color="green"),
        Edit("move", CLOCK, "left of", CUP),
    )


def test_a_pronoun_is_the_plans_one_object():
    plan = SceneGraph([ObjectGroup("cup", 1, "red")])
    assert read_critique("no, make it green", plan).edits == (Edit("recolor", CUP, color="green"),)


@pytest.mark.parametrize(
    "text", ["it looks unbalanced", "meh", "not great, try again", "the composition is off", "no"]
)
def test_a_critique_no_edit_can_be_read_from_says_why(text):
    critique = read_critique(text, PLAN)
    assert critique.edits == () and critique.why_not


def test_make_it_bigger_is_refused_with_the_reason():
    critique = read_critique("make the cup bigger", PLAN)
    assert critique.edits == () and "cannot resize" in critique.why_not


def test_an_edit_survives_a_round_trip_through_plain_data():
    edit = Edit("move", ObjectGroup("clock", 1, "red"), "left of", CUP)
    assert edit_from_dict(edit_to_dict(edit)) == edit


TWO = SceneGraph([ObjectGroup("cat"), ObjectGroup("dog")], [Relation(0, "left of", 1)])


@pytest.mark.parametrize(
    "text, edit",
    [
        # what the person sees is not what they ask for
        ("I count only two dogs, there should be three", Edit("count", DOG, count=3)),
        ("I see one dog but I want four", Edit("count", DOG, count=4)),
        ("there are only two dogs in it", Edit("count", DOG, count=2)),  # as planned: nothing asked
        # a side of the picture, where the plan has one other object to place against
        ("the cat belongs on the right", Edit("move", CAT, "right of", ObjectGroup("dog"))),
        ("swap them: the cat goes on the right-hand side", Edit("move", CAT, "right of", DOG)),
        ("the cat is on the right side but should be left", Edit("move", CAT, "left of", DOG)),
    ],
)
def test_a_critique_reads_what_is_asked_not_what_is_seen(text, edit):
    plan = TWO if "cat" in text else PLAN
    assert read_critique(text, plan).edits == (edit,)


def test_a_number_said_after_the_object_was_named_counts_that_object():
    assert read_critique("two dogs. there should be three", PLAN).edits[-1] == Edit(
        "count", DOG, count=3
    )


def test_a_side_of_the_picture_with_several_objects_to_place_against_asks_for_one():
    found = read_critique("the cup belongs on the left", PLAN)
    assert found.edits == () and "name one" in found.why_not
