"""Whole scene graphs read from long descriptions: shares of a group, parts, ground, materials, the
relations past GenEval's four and who they place (issue 26's reading)."""

import pytest

from studio.language import parse_prompt
from studio.language.scene import ObjectGroup as G
from studio.language.scene import Relation


def graph(text):
    scene = parse_prompt(text)
    return scene.groups, scene.relations


# --- one thing said of some of a group ----------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, groups",
    [
        (
            "Two dogs play in a snowy backyard. One dog is black, the other is brown.",
            [G("dog", 1, "black"), G("dog", 1, "brown")],
        ),
        (
            "Three birds sit on a telephone wire. The first two are black and the last one is red.",
            [G("bird", 2, "black"), G("bird", 1, "red")],
        ),
        (
            "Three sheep graze on a green hillside. The first sheep is black, and the last two are white.",
            [G("sheep", 1, "black"), G("sheep", 2, "white")],
        ),
        (
            "Two suitcases stand in a hotel hallway. The larger suitcase is red and the smaller one is black.",
            [G("suitcase", 1, "red"), G("suitcase", 1, "black")],
        ),
        (
            "Five donuts are arranged in a row on a tray. The first three are pink and the last two are brown.",
            [G("donut", 3, "pink"), G("donut", 2, "brown")],
        ),
        # what is said of none of them keeps no colour ("grey" is none of the ten)
        (
            "Inside a cardboard box sit three small kittens. Two of them are grey, and one is orange.",
            [G("cat", 1, "orange"), G("box"), G("cat", 2)],
        ),
        # said of every one of them, it is the group's colour
        ("Four sinks line the wall. Each sink is white.", [G("sink", 4, "white")]),
        (
            "Four microwaves are stacked on a shelf. Each microwave is sleek and white.",
            [G("microwave", 4, "white")],
        ),
    ],
)
def test_a_colour_said_of_some_of_a_group_splits_it_into_one_group_per_colour(prompt, groups):
    assert sorted(parse_prompt(prompt).groups, key=repr) == sorted(groups, key=repr)


def test_a_split_group_keeps_its_relations_and_its_shares_sides():
    groups, relations = graph(
        "Inside a cardboard box sit three small kittens. Two of them are grey, and one is orange."
    )
    box = groups.index(G("box"))
    assert {(groups[x.subject], x.relation) for x in relations if x.anchor == box} == {
        (G("cat", 1, "orange"), "in"),
        (G("cat", 2), "in"),
    }
    groups, relations = graph(
        "Two laptops sit side by side on a long desk. The laptop on the left is black, "
        "and the one on the right is white."
    )
    assert groups == [G("laptop", 1, "black"), G("laptop", 1, "white")]
    assert relations == [Relation(0, "left of", 1)]


def test_a_share_said_without_a_colour_leaves_the_group_whole():
    groups, _ = graph(
        "Two brown bears wander along a riverbank at dawn. The first bear is on the left, dipping "
        "its paw into the water, while the second bear watches from a mossy rock."
    )
    assert groups == [G("bear", 2, "brown")]
    groups, _ = graph(
        "Two horses graze in an open field at dusk. The first horse lifts its head while the second keeps eating."
    )
    assert groups == [G("horse", 2)]


# --- colours of parts, parts, materials and the ground ------------------------------------------


def test_the_colour_of_a_part_that_covers_an_object_is_the_objects_colour():
    assert parse_prompt("A pizza with purple cheese sits on a plate.").groups == [
        G("pizza", 1, "purple")
    ]
    assert parse_prompt(
        "A pizza with green peppers sits on a plate. Its cheese is bright orange and the crust is thin."
    ).groups == [G("pizza", 1, "orange")]
    assert parse_prompt(
        "A sheep stands alone on a green hillside. Its wool is thick and white."
    ).groups == [G("sheep", 1, "white")]
    # its own colour stays: the cheese is a part of a blue pizza
    assert parse_prompt("A blue pizza with purple cheese sits on a plate.").groups == [
        G("pizza", 1, "blue")
    ]


def test_surfaces_are_ground_parts_go_to_their_object_and_abstract_nouns_are_nothing():
    scene = parse_prompt("A red apple rests on a wooden table next to a green cup.")
    assert scene.groups == [G("apple", 1, "red"), G("cup", 1, "green")]
    assert scene.ground == ["wooden table"]
    scene = parse_prompt(
        "A laptop sits open on a desk. Its keyboard glows softly, and a computer mouse lies to the right of the laptop."
    )
    assert scene.groups == [G("laptop"), G("computer mouse")] and scene.ground == ["desk"]
    assert scene.groups[0].parts == ("keyboard",)
    scene = parse_prompt(
        "A skateboard with black trucks and green wheels lies upside down on the pavement."
    )
    assert scene.groups == [G("skateboard")]  # trucks, not two trucks
    assert scene.groups[0].parts == ("black trucks", "green wheels")
    scene = parse_prompt("An elephant with long white tusks stands in the shade of a tree.")
    assert scene.groups == [G("elephant")] and "white tusks" in scene.groups[0].parts
    scene = parse_prompt(
        "Three forks lie side by side on a linen napkin. Each fork has four thin tines."
    )
    assert scene.groups == [G("fork", 3)] and scene.groups[0].parts == ("tines",)
    scene = parse_prompt("A spoon rests in a white bowl. The bowl of the spoon catches the light.")
    assert scene.groups == [G("spoon"), G("bowl", 1, "white")]
    assert scene.groups[0].parts == ("bowl",)
    scene = parse_prompt(
        "A glass vase holding three pink tulips stands on a windowsill. The alignment of the stems "
        "is perfect, and the petals have a soft sheen."
    )
    assert scene.groups == [G("vase"), G("tulip", 3, "pink")]
    assert scene.groups[0].material == "glass"
    assert not {"alignment", "sheen"} & {p for g in scene.groups for p in g.parts}
    assert not {"alignment", "sheen"} & set(scene.ground)
    assert parse_prompt("A wooden chair stands in a corner.").groups[0].material == "wood"


def test_re_mentions_by_pronoun_and_definite_name_stay_one_object():
    assert parse_prompt(
        "A single surfboard lies on the sand. Its surface is painted bright yellow, with a thin red "
        "stripe running down the middle."
    ).groups == [G("surfboard", 1, "yellow")]
    # a pronoun opening a sentence is about the sentence before's subject, not the box
    groups, relations = graph("A keyboard rests in a box. Its case is made of pale brown wood.")
    assert groups == [G("computer keyboard", 1, "brown"), G("box")]
    assert relations == [Relation(0, "in", 1)]


# --- relations: between, containers, depth, worn and held, who is placed ------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "A brown teddy bear is sitting between a blue pillow and a red book on a bed.",
        "Between a blue pillow and a red book sits a brown teddy bear.",
    ],
)
def test_between_two_things_is_next_to_each_of_them(prompt):
    groups, relations = graph(prompt)
    bear, pillow, book = (
        groups.index(G("teddy bear", 1, "brown")),
        groups.index(G("pillow", 1, "blue")),
        groups.index(G("book", 1, "red")),
    )
    assert sorted(relations, key=repr) == sorted(
        [Relation(bear, "next to", pillow), Relation(bear, "next to", book)], key=repr
    )


@pytest.mark.parametrize(
    "prompt, groups, relations",
    [
        (
            "A cat sleeps inside a wooden crate in the corner of the barn. The cat is orange.",
            [G("cat", 1, "orange"), G("crate")],
            [Relation(0, "in", 1)],
        ),
        (
            "A cow stands in front of a red barn, chewing slowly. The cow is brown.",
            [G("cow", 1, "brown"), G("barn", 1, "red")],
            [Relation(0, "in front of", 1)],
        ),
        (
            "A zebra stands behind a fence at the zoo, chewing on some hay.",
            [G("zebra"), G("fence")],
            [Relation(0, "behind", 1)],
        ),
        # a place is where it happens, and so is something said vaguely or first as "the"
        ("A cat sleeps in a busy kitchen beside the stove, curled up tight.", [G("cat")], []),
        (
            "A bear has stepped out from between the trees at the edge of the forest.",
            [G("bear")],
            [],
        ),
        (
            "A blue table stands in the center of a farmhouse kitchen. Fresh flowers sit in a jar on top.",
            [G("dining table", 1, "blue")],
            [],
        ),
        # what is in a container: every one of the things coordinated before the verb
        (
            "Three oranges and a yellow banana are in a woven basket. The basket sits on a wooden table.",
            [G("orange", 3), G("banana", 1, "yellow"), G("basket")],
            [Relation(0, "in", 2), Relation(1, "in", 2)],
        ),
    ],
)
def test_containers_and_what_stands_in_front_or_behind_are_objects_places_are_not(
    prompt, groups, relations
):
    assert graph(prompt) == (groups, relations)


@pytest.mark.parametrize(
    "prompt, groups, relations",
    [
        (
            "A woman in a long grey coat walks her dog along the river.",
            [G("person"), G("coat"), G("dog")],
            [Relation(1, "worn by", 0)],
        ),
        (
            "A man riding a brown horse crosses a shallow stream. He wears a wide-brimmed hat and a blue shirt.",
            [G("person"), G("horse", 1, "brown"), G("hat"), G("shirt", 1, "blue")],
            [Relation(0, "on", 1), Relation(2, "worn by", 0), Relation(3, "worn by", 0)],
        ),
        (
            "A young man wearing a black leather jacket leans against a red motorcycle. "
            "He holds a helmet under his arm.",
            [G("person"), G("jacket", 1, "black"), G("motorcycle", 1, "red"), G("helmet")],
            [Relation(0, "next to", 2), Relation(1, "worn by", 0), Relation(3, "held by", 0)],
        ),
        (
            "A tall blue vase stands on the mantelpiece, holding five yellow tulips.",
            [G("vase", 1, "blue"), G("tulip", 5, "yellow")],
            [Relation(1, "in", 0)],
        ),
        (
            "A woman holding a cell phone stands next to a yellow taxi on a busy street.",
            [G("person"), G("cell phone"), G("car", 1, "yellow")],
            [Relation(0, "next to", 2), Relation(1, "held by", 0)],
        ),
        # an animal's coat is its covering, not clothing
        (
            "A majestic giraffe stands next to a brown bench. The giraffe's patterned coat shines in the sun.",
            [G("giraffe"), G("bench", 1, "brown")],
            [Relation(0, "next to", 1)],
        ),
    ],
)
def test_worn_and_held_things_are_objects_and_the_wearer_is_what_a_relation_places(
    prompt, groups, relations
):
    got_groups, got_relations = graph(prompt)
    assert got_groups == groups
    assert sorted(got_relations, key=repr) == sorted(relations, key=repr)


@pytest.mark.parametrize(
    "prompt, groups, relations",
    [
        (
            "A skateboard with bright red wheels leans against a park bench.",
            [G("skateboard"), G("bench")],
            [Relation(0, "next to", 1)],
        ),
        (
            "A man riding a black horse gallops across a field at sunset.",
            [G("person"), G("horse", 1, "black")],
            [Relation(0, "on", 1)],
        ),
    ],
)
def test_a_verb_the_tagger_took_for_a_plural_noun_is_no_object(prompt, groups, relations):
    assert graph(prompt) == (groups, relations)


# --- who a relation after a held thing places; fronted anchors; parts of another; contents ------


@pytest.mark.parametrize(
    "prompt, subject, relation, anchor, held",
    [
        # the main verb holds: the relation hangs on the verb, so it places the holder
        (
            "A man in a green cap holds a long rod next to a small boat.",
            "person",
            "next to",
            "boat",
            "rod",
        ),
        # a participle without its own subject ("while walking") is its main verb's subject's
        (
            "A girl in a red coat carries a blue bag while walking behind a brown horse.",
            "person",
            "behind",
            "horse",
            "bag",
        ),
    ],
)
def test_a_relation_after_what_the_main_verb_holds_places_the_holder(
    prompt, subject, relation, anchor, held
):
    groups, relations = graph(prompt)
    names = [g.cls for g in groups]
    said = {(names[x.subject], x.relation, names[x.anchor]) for x in relations}
    assert (subject, relation, anchor) in said, said
    assert (held, relation, anchor) not in said


def test_a_breed_named_with_a_colour_word_gives_no_colour():
    groups, _ = graph("A golden retriever puppy naps on a porch next to a red ball.")
    assert G("dog", 1, None) in groups
    assert graph("A golden dog naps on a porch.")[0] == [G("dog", 1, "yellow")]


def test_a_thing_after_a_fronted_relation_to_a_pronoun_is_placed_against_it():
    groups, relations = graph(
        "A sofa stands in a bright living room. Beside it stands a tall green lamp."
    )
    assert groups[1] == G("lamp", 1, "green")
    assert Relation(1, "next to", 0) in relations


def test_perched_on_another_things_part_is_on_that_thing_but_posture_on_its_own_is_none():
    groups, relations = graph(
        "A cow grazes in a wide field. A small white bird is perched on its back."
    )
    assert Relation(1, "on", 0) in relations
    assert graph("A dog lies on its back in the sun.")[1] == []


def test_described_contents_of_a_container_are_objects_in_it():
    groups, relations = graph(
        "A basket of red apples sits on a bench beside a vase of yellow tulips."
    )
    assert G("apple", 2, "red") in groups and G("tulip", 2, "yellow") in groups
    assert Relation(groups.index(G("apple", 2, "red")), "in", 0) in relations
    tulip, vase = groups.index(G("tulip", 2, "yellow")), groups.index(G("vase", 1, None))
    assert Relation(tulip, "in", vase) in relations
    # undescribed, the contents are the container's filling
    assert [g.cls for g in graph("A jar of pickles stands on a shelf next to a cup.")[0]] == [
        "jar",
        "cup",
    ]


def test_clothes_after_in_are_worn_objects_not_the_wearers_colour():
    groups, relations = graph("A tall man in a yellow coat waits at a bus stop.")
    assert groups == [G("person", 1, None), G("coat", 1, "yellow")]
    assert Relation(1, "worn by", 0) in relations
