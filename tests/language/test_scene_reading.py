"""Behaviour specs for reading prompts in everyday wordings: spaCy's parse combined with the reader's rules."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from studio.language import (
    Edit,
    ObjectGroup,
    Relation,
    SceneGraph,
    edit_text,
    parse_description,
    parse_edit,
    parse_prompt,
)


def G(cls, count=1, color=None):
    return ObjectGroup(cls, count, color)


@pytest.mark.parametrize(
    "prompt, groups",
    [
        ("a cat colored purple", [G("cat", 1, "purple")]),
        ("a boat painted white", [G("boat", 1, "white")]),
        ("a sink that is blue", [G("sink", 1, "blue")]),
        (
            "a pizza in green with a handbag in purple",
            [G("pizza", 1, "green"), G("handbag", 1, "purple")],
        ),
        ("a snowboard colored orange", [G("snowboard", 1, "orange")]),  # the colour, not the fruit
        ("a tie of pink color", [G("tie", 1, "pink")]),
        ("a cow, white in color", [G("cow", 1, "white")]),
        ("a green-colored traffic light", [G("traffic light", 1, "green")]),
        ("a cat with purple fur", [G("cat", 1, "purple")]),  # the coat is the cat's colour
        ("a cat with purple eyes", [G("cat")]),  # the eyes are not
        (
            "a cup in a green box",
            [G("cup"), G("box", 1, "green")],
        ),  # "in green" only when nothing follows
        (
            "a car which is red, and a truck which is yellow",
            [G("car", 1, "red"), G("truck", 1, "yellow")],
        ),
        ("a navy bus", [G("bus", 1, "blue")]),
    ],
)
def test_colours_before_and_after_the_noun(prompt, groups):
    assert parse_prompt(prompt).groups == groups


@pytest.mark.parametrize(
    "prompt, groups",
    [
        ("4 toothbrushes", [G("toothbrush", 4)]),
        ("exactly three birds", [G("bird", 3)]),
        ("a group of five cows", [G("cow", 5)]),
        ("a herd of cows", [G("cow", 3)]),
        ("two cups and three forks", [G("cup", 2), G("fork", 3)]),
        ("two black dogs and one white cat", [G("dog", 2, "black"), G("cat", 1, "white")]),
        ("a pair of scissors and a vase", [G("scissors"), G("vase")]),
    ],
)
def test_counts_in_words_and_digits_across_coordination(prompt, groups):
    assert parse_prompt(prompt).groups == groups


@pytest.mark.parametrize(
    "prompt, relation",
    [
        ("a giraffe to the right of a bus", ("giraffe", "right of", "bus")),
        ("a laptop sitting beneath a clock", ("laptop", "below", "clock")),
        ("an umbrella placed over a bench", ("umbrella", "above", "bench")),
        ("a bowl with a spoon to its right", ("spoon", "right of", "bowl")),
        ("a giraffe, and a zebra on its left", ("zebra", "left of", "giraffe")),
        ("a cat on the left and a dog on the right", ("cat", "left of", "dog")),
        ("on the left, a horse; on the right, a cow", ("horse", "left of", "cow")),
        ("above a couch there is a clock", ("clock", "above", "couch")),
        ("a tv with a clock above it", ("clock", "above", "tv")),
        ("A laptop on a desk. To its left sits a cup.", ("cup", "left of", "laptop")),
    ],
)
def test_the_four_relations_in_common_wordings(prompt, relation):
    scene = parse_prompt(prompt)
    said = [
        (scene.groups[r.subject].cls, r.relation, scene.groups[r.anchor].cls)
        for r in scene.relations
    ]
    assert said == [relation]


@pytest.mark.parametrize(
    "text, edit",
    [
        ("move the lamp left of the cat", Edit("move", G("lamp"), "left of", G("cat"))),
        ("make the lamp yellow", Edit("recolor", G("lamp"), color="yellow")),
        (
            "add two green pears below the lamp",
            Edit("add", G("pear", 1, "green"), "below", G("lamp"), count=2),
        ),
        ("remove the pears", Edit("remove", G("pear"))),
        ("change the number of pears to three", Edit("count", G("pear"), count=3)),
    ],
)
def test_refine_instructions_name_any_noun(text, edit):
    assert parse_edit(text) == edit
    assert parse_edit(edit_text(edit)) == edit


def test_other_places_are_noted_not_guessed():
    scene = parse_prompt("a dog opposite a cat")
    assert scene.relations == [] and scene.notes == [
        "the dog opposite the cat: not one of the relations the studio draws, so placed freely"
    ]


def test_negation_as_geneval_uses_it_becomes_an_exclude_entry():
    scene = parse_prompt("three cell phones and no laptops")
    assert scene.groups == [G("cell phone", 3)] and scene.negated == [G("laptop")]
    assert scene.to_geneval() == {
        "include": [{"class": "cell phone", "count": 3}],
        "exclude": [{"class": "laptop", "count": 1}],
    }
    assert parse_prompt("a dog without any cats").negated == [G("cat")]


def test_any_noun_is_an_object_but_not_the_setting_the_frame_or_a_part():
    scene = parse_prompt("two green pears below a yellow lamp")
    assert scene.groups == [G("pear", 2, "green"), G("lamp", 1, "yellow")]
    assert scene.relations == [Relation(0, "below", 1)] and scene.unknown() == ["lamp", "pear"]
    assert parse_prompt("a close-up photo of a bench with a backrest in a park").groups == [
        G("bench")
    ]
    assert parse_prompt("a cup of coffee").groups == [G("cup")]
    assert parse_prompt("a pizza oven").groups == [G("oven")]  # a noun before a noun modifies it


def test_a_description_keeps_its_main_objects_and_drops_parts_materials_and_setting():
    scene = parse_prompt(
        "A realistic wooden bench sits on a flat surface. The bench is crafted from dark oak, "
        "supported by four sturdy legs. Soft light falls from the left."
    )
    assert scene.groups == [G("bench")] and scene.relations == []
    scene = parse_prompt(
        "A skateboard rests on concrete. It rolls on four black wheels attached to metal trucks."
    )
    assert scene.groups == [G("skateboard")]  # a skateboard's trucks are not lorries


def test_a_description_refers_back_and_adds_what_later_sentences_say():
    scene = parse_prompt(
        "Three ceramic vases stand in a row on a shelf. Each vase is glazed white. "
        "A small bird is perched above the vases."
    )
    assert scene.groups == [G("vase", 3, "white"), G("bird")]
    assert scene.relations == [Relation(1, "above", 0)]
    scene = parse_prompt("Two horses graze side by side. The horse on the left is brown.")
    # one of the two is brown, on the left of the other, whose colour is not said
    assert scene.groups == [G("horse", 1, "brown"), G("horse")]
    assert scene.relations == [Relation(0, "left of", 1)] and scene.notes == []


@pytest.mark.parametrize(
    "prompt, groups",
    [
        # the colour of an object's body, said in a later sentence
        (
            "A scooter stands in a quiet garage. Its frame is a glossy yellow, and its seat is black.",
            [G("motorcycle", 1, "yellow")],
        ),
        ("A banana lies on a small plate. Its peel is entirely brown.", [G("banana", 1, "brown")]),
        (
            "A toaster sits in a corner. The toaster is a cheerful orange.",
            [G("toaster", 1, "orange")],
        ),  # no fruit
        ("A cow grazes in a field. Its coat is a striking purple.", [G("cow", 1, "purple")]),
        (
            "A vase with a smooth green glaze stands by the door. It holds dried grass.",
            [G("vase", 1, "green")],
        ),
        (
            # (the box it rests in is a container, drawn with it; "Its" is the keyboard's)
            "A keyboard rests in a box. Its keys and case are made of pale brown wood.",
            [G("computer keyboard", 1, "brown"), G("box")],
        ),
        (
            "A truck is parked outside. Its bodywork and doors are painted a deep forest green.",
            [G("truck", 1, "green")],
        ),
        # known classes mentioned in passing: the surface things stand on, a part, background, vague additions
        ("A cup rests on a wooden table. Steam rises from it.", [G("cup")]),
        (
            "A cup rests on a wooden table. The table is brown and old.",
            [G("cup"), G("dining table", 1, "brown")],
        ),
        ("A microwave sits on a counter. Its clock glows faintly.", [G("microwave")]),
        (
            "A dog sleeps on a rug. Pigeons wander nearby, and a few leaves drift across the floor.",
            [G("dog")],
        ),
        (
            "A red kite flies high above the shore. A few people stroll in the background.",
            [G("kite", 1, "red")],
        ),
        (
            "A bicycle leans on a fence. A wicker basket is attached to its handlebars.",
            [G("bicycle")],
        ),
        ("Beside the door is a bed with a woollen quilt and two large pillows.", [G("bed")]),
        (
            "On a hill, a family of four ducks rests under an oak. Their feathers glow in the sun.",
            [G("duck", 4)],
        ),
        ("A small sparrow hops along a fence. The air is cold.", [G("bird")]),
        # later sentences: what the main objects hold stays, what is brought in and placed nowhere is the scene
        (
            "A basket sits on a porch. The basket is brown and holds a few green apples.",
            [G("basket", 1, "brown"), G("apple", 3, "green")],
        ),
        (
            "A cat naps on a sofa cushion. A tall bookcase fills the wall, and a lamp glows.",
            [G("cat")],
        ),
        ("Three trucks wait in a yard. A few crumbs lie nearby.", [G("truck", 3)]),
        (
            "A sheep stands on a hill. Its thick wool is a soft, creamy white.",
            [G("sheep", 1, "white")],
        ),
        (
            "A mouse rests on a mat. It is green, with a matte shell.",
            [G("computer mouse", 1, "green")],
        ),
        ("A sink stands in a corner, its porcelain a pale pink.", [G("sink", 1, "pink")]),
        (
            "A pizza rests on a counter. Its crust is thin, and a vase stands next to it.",
            [G("pizza"), G("vase")],
        ),
        (
            "A cake sits on a shelf. Below it, on the floor, is a child's backpack.",
            [G("cake"), G("backpack")],
        ),
        (
            "A two-slice toaster sits on a counter. Two vehicles are parked outside: a bus and a truck.",
            [G("toaster"), G("bus"), G("truck")],
        ),
        # a verbless opening sets the scene; places on things, comparisons and where something
        # comes from are not objects
        (
            "A sunny seaside cafe with striped awnings. A white cup stands on a saucer.",
            [G("cup", 1, "white")],
        ),
        ("A bird perches on the back of a wooden chair. Its feathers are fluffed.", [G("bird")]),
        (
            "A cake fresh from the oven sits on a rack. Its icing is pink, like something out of a picture book.",
            [G("cake", 1, "pink")],
        ),
        (
            "A clock hangs on a wall. The clock is a deep blue, and a calendar hangs beside the window.",
            [G("clock", 1, "blue")],
        ),
    ],
)
def test_a_description_is_read_for_its_main_objects(prompt, groups):
    assert parse_prompt(prompt).groups == groups


@pytest.mark.parametrize(
    "prompt, classes",
    [
        ("a cow and a horse graze together", ["cow", "horse"]),
        (
            "A computer mouse and a spoon lie next to each other on a desk.",
            ["computer mouse", "spoon"],
        ),
        ("two apples and a banana rest in a bowl", ["apple", "banana", "bowl"]),
        ("a cat and a dog bed", ["cat", "bed"]),  # a compound of two classes is still one thing
    ],
)
def test_the_verb_of_coordinated_subjects_is_not_read_as_a_noun(prompt, classes):
    assert [g.cls for g in parse_prompt(prompt).groups] == classes


def test_a_fronted_relation_finds_its_subject_past_other_phrases():
    scene = parse_prompt(
        "A horse stands on a ridge. Far below it, near the river, a cow drinks quietly."
    )
    assert scene.groups == [G("horse"), G("cow")] and scene.relations == [Relation(1, "below", 0)]
    scene = parse_prompt("A bowl sits on a shelf. Hanging above it, oddly, is a tiny umbrella.")
    assert scene.groups == [G("bowl"), G("umbrella")] and scene.relations == [
        Relation(1, "above", 0)
    ]
    scene = parse_prompt("A laptop rests on a desk. Balanced on top of its lid is a small clock.")
    assert scene.groups == [G("laptop"), G("clock")] and scene.relations == [Relation(1, "on", 0)]
    scene = parse_prompt(
        "A parking meter stands on a corner. To the right of the meter, a zebra waits."
    )
    assert scene.groups == [G("parking meter"), G("zebra")] and scene.relations == [
        Relation(1, "right of", 0)
    ]
    scene = parse_prompt("A suitcase stands in a hall. To its left, someone has left a cup.")
    assert scene.groups == [G("suitcase"), G("cup")] and scene.relations == [
        Relation(1, "left of", 0)
    ]


def test_importing_the_scene_module_does_not_load_spacy_and_parsing_does_not_load_torch():
    code = (
        "import sys, studio.language.scene, studio.engines.offline.plan; print('spacy' in sys.modules); "
        "studio.language.parse_prompt('a cat'); print('spacy' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == [
        "False",
        "True False",
    ]  # spaCy's backend would import torch (≈3 s)


def test_any_text_is_read_without_an_exception():
    """Odd input and word salad from the reader's own vocabulary: a scene (perhaps empty), never a crash."""
    import random

    odd = [
        "",
        " ",
        "...",
        "'s",
        "its",
        "it is blue",
        "the the the",
        "1 2 3",
        "a a a cat",
        "no",
        "on the left",
        "Its color is a deep green.",
        "colored purple",
        "a-b-c",
        "🙂 a cat",
        "x" * 300,
        "a, , , dog",
    ]
    pool = (
        "a the two three its it is are colored painted in with of to left right above below on top "
        "no without both each one cat dog lamp pears orange red blue green , . 's bench legs surface "
        "sits stands next by and but color whose that which"
    ).split()
    rng = random.Random(13)
    salad = [" ".join(rng.choice(pool) for _ in range(rng.randint(1, 25))) for _ in range(150)]
    for text in odd + salad:
        scene = parse_prompt(text)
        assert all(
            0 <= r.subject < len(scene.groups) and 0 <= r.anchor < len(scene.groups)
            for r in scene.relations
        )
        scene.to_geneval(), scene.describe()


def test_a_long_one_sentence_list_keeps_every_object_and_its_plan_reads_back_the_same():
    prompt = (
        "a red lamp, a blue kettle, a green drum, a yellow candle, a purple globe, a pink lantern, "
        "a white crown and a black rhino"
    )  # over 28 words: read with the description rules
    scene = parse_prompt(prompt)
    assert [g.cls for g in scene.groups] == [
        "lamp",
        "kettle",
        "drum",
        "candle",
        "globe",
        "lantern",
        "crown",
        "rhino",
    ]
    assert sorted(map(str, parse_description(scene.describe()).groups)) == sorted(
        map(str, scene.groups)
    )


@pytest.mark.parametrize(
    "prompt, groups, relations",
    [
        # "a"/"an" with a plural-looking word after the noun: the word is the verb
        (
            "A red bus rounds the corner, and a purple bear waves at it from the road.",
            [G("bus", 1, "red"), G("bear", 1, "purple")],
            [],
        ),
        # words that say what the picture is, and an "Imagine ..." opening, set the scene
        ("Product photo, soft light. A green cup stands on a shelf.", [G("cup", 1, "green")], []),
        ("Children's book illustration. A bear sits in a meadow.", [G("bear")], []),
        ("Imagine a mountain cabin at dusk. A dog sleeps by the fire.", [G("dog")], []),
        # a noun after a collective is the head, not a verb; the place on an open noun is the setting
        ("A bench stands beneath a row of plane trees. Its slats are wet.", [G("bench")], []),
        ("A cat dozes against the trunk of an old tree. Its tail twitches.", [G("cat")], []),
        # colours of the body said as "a coat of"
        (
            "A cow with a coat of bright purple stands in a field. It is calm.",
            [G("cow", 1, "purple")],
            [],
        ),
        # perched on a part of another drawn object is on that object (the part is no anchor)
        (
            "A bicycle leans on a wall. Perched on its saddle is a small bird.",
            [G("bicycle"), G("bird")],
            [Relation(1, "on", 0)],
        ),
        # plain "on" its own part is a posture, no relation
        (
            "A toothbrush stands on its end beside a sink.",
            [G("toothbrush"), G("sink")],
            [Relation(0, "next to", 1)],
        ),
        # a relation said both ways is one relation
        (
            "A cat hides underneath a bench. The bench above it is old and worn.",
            [G("cat"), G("bench")],
            [Relation(0, "below", 1)],
        ),
        # a fronted "below it" after a comma in the same sentence finds the clause's subject
        (
            "There is a cup on a shelf, and below it, on the floor, a dog sleeps. The room is quiet.",
            [G("cup"), G("dog")],
            [Relation(1, "below", 0)],
        ),
    ],
)
def test_descriptions_in_other_voices(prompt, groups, relations):
    scene = parse_prompt(prompt)
    assert scene.groups == groups and scene.relations == relations


def test_a_negation_in_a_description_excludes_the_class():
    scene = parse_prompt("A cat dozes on a rug by the fire. There are no dogs in the room.")
    assert scene.groups == [G("cat")] and [g.cls for g in scene.negated] == ["dog"]


@pytest.mark.parametrize(
    "prompt, groups, relations",
    [
        # the part that gives an object its colour
        ("A laptop sits on a bench. Its lid is a glossy green.", [G("laptop", 1, "green")], []),
        (
            "A knife with a red handle lies on a chopping board. Its blade is sharp.",
            [G("knife", 1, "red")],
            [],
        ),
        (
            "A pizza rests on a tray. Its crust is golden and crisp.",
            [G("pizza")],
            [],
        ),  # baked, not coloured
        # "a purple velvet chair" after "is" is a phrase, not a colour of what came before
        (
            "A cake sits on a stand. Next to the cake is a purple velvet chair.",
            [G("cake"), G("chair", 1, "purple")],
            [Relation(1, "next to", 0)],
        ),
        # the agent of a passive is who did it, not who is there
        (
            "A bench stands by a lake. It has been painted pink by local children.",
            [G("bench", 1, "pink")],
            [],
        ),
        # him / her anchor a relation as it / them do
        (
            "A woman waits at a bus stop. Above her, a kite drifts in the wind.",
            [G("person"), G("kite")],
            [Relation(1, "above", 0)],
        ),
        # with "have", "on it" is the subject's own
        (
            "A cup and a spoon lie on a tray. The spoon has a drop of honey on it.",
            [G("cup"), G("spoon")],
            [],
        ),
        (
            "Three heads of broccoli sit in a crate. They are fresh.",
            [G("broccoli", 3), G("crate")],
            [Relation(0, "in", 1)],
        ),
    ],
)
def test_descriptions_colour_parts_agents_and_pronouns(prompt, groups, relations):
    scene = parse_prompt(prompt)
    assert scene.groups == groups and scene.relations == relations


def test_a_one_sentence_description_is_read_as_a_description():
    """Captions run to 14 words at most in every short set; a sentence of 16 or more describes a scene."""
    scene = parse_prompt(
        "Three cups hang from hooks in a narrow pantry, arranged by size from small to large."
    )
    assert scene.groups == [G("cup", 3)]
    assert [g.cls for g in parse_prompt("a lamp and a cat on a rug").groups] == [
        "lamp",
        "cat",
        "rug",
    ]


@pytest.mark.parametrize(
    "prompt, groups, relations",
    [
        # "apart from" names a thing; "for" says who or what it is for
        (
            "The hall was bare apart from the bench, which was painted green. Dust lay everywhere.",
            [G("bench", 1, "green")],
            [],
        ),
        (
            "In a comic for children, a yellow cow rides a bicycle. It rings the bell.",
            [G("cow", 1, "yellow"), G("bicycle")],
            [Relation(0, "on", 1)],  # riding is sitting on it
        ),
        # "burnt orange" is a shade of orange, not the fruit
        (
            "A chair upholstered in a burnt orange fabric sits by a window. Its legs are thin.",
            [G("chair", 1, "orange")],
            [],
        ),
        # a side between commas after "and" belongs to the next object
        (
            "On the shelf, a cup, and just to the left, a vase. The shelf is dusty.",
            [G("cup"), G("vase")],
            [Relation(1, "left of", 0)],
        ),
    ],
)
def test_descriptions_for_phrases_shades_and_sides(prompt, groups, relations):
    scene = parse_prompt(prompt)
    assert scene.groups == groups and scene.relations == relations


@pytest.mark.parametrize(
    "prompt, groups",
    [
        # a short sentence with a finite verb and a subject describes a scene
        ("A cat dozes on the porch of a quiet cottage.", [G("cat")]),
        ("The bench by the old fountain has been painted green.", [G("bench", 1, "green")]),
        # "The toaster pops,": a known class then a plural-looking word and a comma is subject and verb
        ("The toaster pops, and a warm glow fills the room.", [G("toaster")]),
        # captions stay captions: every noun is an object
        ("a cow painted purple standing left of a tree", [G("cow", 1, "purple"), G("tree")]),
        ("a lamp and a cat on a rug", [G("lamp"), G("cat"), G("rug")]),
    ],
)
def test_short_sentences_with_a_verb_are_descriptions(prompt, groups):
    assert parse_prompt(prompt).groups == groups


@pytest.mark.parametrize(
    "prompt, groups, relations",
    [
        # "in the background" sets aside what its own clause says, not the whole sentence
        (
            "A white cup sits on a ledge, while a few people stroll past in the background.",
            [G("cup", 1, "white")],
            [],
        ),
        # a surface said with its colour is meant
        (
            "A white cup rests on a purple bench with iron legs. It is quiet.",
            [G("cup", 1, "white"), G("bench", 1, "purple")],
            [Relation(0, "on", 1)],
        ),
        # the subject of a participle's clause takes "above it"; a finite clause keeps its own subject
        (
            "A kite has been tied to the top of a parking meter, fluttering above it. Nobody notices.",
            [G("kite"), G("parking meter")],
            [Relation(0, "above", 1)],
        ),
        (
            "Two cows graze in a field while a bird watches from above them. The grass is tall.",
            [G("cow", 2), G("bird")],
            [Relation(1, "above", 0)],
        ),
        # "Hanging above it on a hook is a fork"; "above it, on the roof, a small dog barks"
        (
            "A toaster sits on a shelf. Hanging above it on a small hook is a fork.",
            [G("toaster"), G("fork")],
            [Relation(1, "above", 0)],
        ),
        (
            "A horse stands in a yard, and above it, on the roof of the barn, a small dog barks.",
            [G("horse"), G("dog")],
            [Relation(1, "above", 0)],
        ),
        # coordinated subjects with only a participle elsewhere: "lie" is their verb
        (
            "A spoon and a carrot lie together on a counter, an odd pairing under the light.",
            [G("spoon"), G("carrot")],
            [],
        ),
    ],
)
def test_clauses_backgrounds_and_fronted_places(prompt, groups, relations):
    scene = parse_prompt(prompt)
    assert scene.groups == groups and scene.relations == relations


# --- the relations people use, read from the verbs and prepositions they say them with ------------


def _rels(scene):
    return {
        (scene.groups[r.subject].cls, r.relation, scene.groups[r.anchor].cls)
        for r in scene.relations
    }


@pytest.mark.parametrize(
    "prompt, relations",
    [
        (
            "A man holding a black umbrella walks down a rainy street.",
            {("umbrella", "held by", "person")},
        ),
        ("A girl holds a red kite on a windy hill.", {("kite", "held by", "person")}),
        (
            "A snowman stands in a yard. The snowman wears an orange scarf.",
            {("scarf", "worn by", "snowman")},
        ),
        (
            "A glass vase holding three pink tulips stands on a windowsill.",
            {("tulip", "in", "vase")},
        ),
        (
            "A white car is parked behind a green bus on a narrow street.",
            {("car", "behind", "bus")},
        ),
        (
            "On top of the refrigerator there is a small yellow clock.",
            {("clock", "on", "refrigerator")},
        ),
        # the relation places the verb's subject, not the noun said just before it
        (
            "A woman wearing a green scarf stands beside a white horse.",
            {("scarf", "worn by", "person"), ("person", "next to", "horse")},
        ),
    ],
)
def test_holding_wearing_and_the_relations_past_genevals_four(prompt, relations):
    assert _rels(parse_prompt(prompt)) == relations


def test_a_graph_with_the_extra_relations_reads_back_from_its_description():
    g = SceneGraph(
        [G("person"), G("umbrella", 1, "red"), G("cup", 1, "blue"), G("book"), G("dog")],
        [
            Relation(1, "held by", 0),
            Relation(2, "on", 3),
            Relation(4, "behind", 0),
            Relation(3, "next to", 0),
        ],
    )
    back = parse_prompt(g.describe())
    assert Counter(back.groups) == Counter(g.groups) and _rels(back) == _rels(g)


def test_both_refers_back_and_a_colour_word_with_colored_is_a_colour():
    scene = parse_prompt("There are two backpacks leaning against a wall. Both backpacks are blue.")
    assert scene.groups == [G("backpack", 2, "blue")]
    assert parse_prompt("A chestnut-colored horse grazes in an open meadow.").groups == [
        G("horse", 1, "brown")
    ]
