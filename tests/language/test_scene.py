"""Behaviour specs for studio.language.scene: prompt -> scene graph, GenEval form, descriptions and edits."""

import json
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
from studio.language.scene import CLASSES, COLORS, RELATIONS

from ..kits import upstream


def _geneval_lines():
    path = upstream.GENEVAL.require() / "evaluation_metadata.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _shape(g: SceneGraph):
    """Groups and relations up to order, relations named by their groups rather than indices."""
    rels = Counter((g.groups[r.subject], r.relation, g.groups[r.anchor]) for r in g.relations)
    return Counter(g.groups), rels


def G(cls, count=1, color=None):
    return ObjectGroup(cls, count, color)


# --- vocabulary -------------------------------------------------------------------------------


def test_vocabulary_constants():
    assert COLORS == (
        "red",
        "orange",
        "yellow",
        "green",
        "blue",
        "purple",
        "pink",
        "brown",
        "black",
        "white",
    )
    assert RELATIONS == ("left of", "right of", "above", "below")
    assert len(CLASSES) == 80 and len(set(CLASSES)) == 80


def test_classes_match_geneval_object_names_in_order():
    path = upstream.GENEVAL.require() / "object_names.txt"
    assert CLASSES == tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


# --- GenEval tags as behaviour specs -----------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, include",
    [
        # single_object: one group of one
        ("a photo of a bench", [{"class": "bench", "count": 1}]),
        ("a photo of a hair drier", [{"class": "hair drier", "count": 1}]),
        # two_object: two groups in prompt order
        (
            "a photo of a toaster and an oven",
            [{"class": "toaster", "count": 1}, {"class": "oven", "count": 1}],
        ),
        (
            "a photo of a broccoli and a vase",
            [{"class": "broccoli", "count": 1}, {"class": "vase", "count": 1}],
        ),
        # counting: number words and GenEval's own naive plurals
        ("a photo of four handbags", [{"class": "handbag", "count": 4}]),
        ("a photo of three persons", [{"class": "person", "count": 3}]),
        ("a photo of four benchs", [{"class": "bench", "count": 4}]),
        ("a photo of four knifes", [{"class": "knife", "count": 4}]),
        ("a photo of two sheeps", [{"class": "sheep", "count": 2}]),
        ("a photo of three wine glasses", [{"class": "wine glass", "count": 3}]),
        # colors: colour set, count one
        (
            "a photo of a blue fire hydrant",
            [{"class": "fire hydrant", "count": 1, "color": "blue"}],
        ),
        (
            "a photo of an orange computer mouse",
            [{"class": "computer mouse", "count": 1, "color": "orange"}],
        ),
        # position: anchor first, the placed group points at the anchor's index
        (
            "a photo of a dog right of a teddy bear",
            [
                {"class": "teddy bear", "count": 1},
                {"class": "dog", "count": 1, "position": ["right of", 0]},
            ],
        ),
        (
            "a photo of a wine glass above a kite",
            [
                {"class": "kite", "count": 1},
                {"class": "wine glass", "count": 1, "position": ["above", 0]},
            ],
        ),
        # color_attr: two coloured groups, colour bound to the right noun
        (
            "a photo of a green skis and a brown airplane",
            [
                {"class": "skis", "count": 1, "color": "green"},
                {"class": "airplane", "count": 1, "color": "brown"},
            ],
        ),
        (
            "a photo of a red orange and a purple broccoli",
            [
                {"class": "orange", "count": 1, "color": "red"},
                {"class": "broccoli", "count": 1, "color": "purple"},
            ],
        ),
    ],
)
def test_geneval_tag_specs(prompt, include):
    assert parse_prompt(prompt).to_geneval() == {"include": include}


def test_geneval_exact_match_rate():
    lines = _geneval_lines()
    misses = [
        (x["prompt"], parse_prompt(x["prompt"]).to_geneval()["include"], x["include"])
        for x in lines
        if parse_prompt(x["prompt"]).to_geneval()["include"] != x["include"]
    ]
    rate = 1 - len(misses) / len(lines)
    print(f"\nGenEval include exact match: {len(lines) - len(misses)}/{len(lines)} = {rate:.4f}")
    for prompt, got, want in misses:
        print(f"  MISS {prompt!r}: got {got}, want {want}")
    assert rate >= 0.98


def test_geneval_prompts_leave_no_free_text():
    assert [x["prompt"] for x in _geneval_lines() if parse_prompt(x["prompt"]).free_text] == []


# --- phrasings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, groups, relations",
    [
        ("a photo of three dogs", [G("dog", 3)], []),
        (
            "two red apples under a blue cup",
            [G("apple", 2, "red"), G("cup", 1, "blue")],
            [(0, "below", 1)],
        ),
        ("a cat to the left of a dog", [G("cat"), G("dog")], [(0, "left of", 1)]),
        ("a dog right of a teddy bear", [G("dog"), G("teddy bear")], [(0, "right of", 1)]),
        ("a green bench and a pink bicycle", [G("bench", 1, "green"), G("bicycle", 1, "pink")], []),
        ("a wine glass above a kite", [G("wine glass"), G("kite")], [(0, "above", 1)]),
        ("a vase on top of a dining table", [G("vase"), G("dining table")], [(0, "on", 1)]),
        ("a bird over a boat", [G("bird"), G("boat")], [(0, "above", 1)]),
        ("a cat beneath a chair", [G("cat"), G("chair")], [(0, "below", 1)]),
        ("a suitcase underneath a bed", [G("suitcase"), G("bed")], [(0, "below", 1)]),
        ("a cat on the left of a dog", [G("cat"), G("dog")], [(0, "left of", 1)]),
        ("a cow to the right side of a horse", [G("cow"), G("horse")], [(0, "right of", 1)]),
        ("a dog is to the left of a cat", [G("dog"), G("cat")], [(0, "left of", 1)]),
        (
            "there are two cats to the right of a bench",
            [G("cat", 2), G("bench")],
            [(0, "right of", 1)],
        ),
        ("to the left of the dog is a cat", [G("dog"), G("cat")], [(1, "left of", 0)]),
        (
            "Below the blue cup are two red apples.",
            [G("cup", 1, "blue"), G("apple", 2, "red")],
            [(1, "below", 0)],
        ),
        ("a cat and a dog, the dog is left of the cat", [G("cat"), G("dog")], [(1, "left of", 0)]),
    ],
)
def test_phrasings(prompt, groups, relations):
    g = parse_prompt(prompt)
    assert g.groups == groups
    assert [(r.subject, r.relation, r.anchor) for r in g.relations] == relations


@pytest.mark.parametrize(
    "prompt, count",
    [
        ("a dog", 1),
        ("an apple", 1),
        ("one dog", 1),
        ("two dogs", 2),
        ("3 dogs", 3),
        ("five dogs", 5),
        ("seven dogs", 7),
        ("ten dogs", 10),
        ("12 dogs", 12),
        ("a pair of dogs", 2),
        ("a couple of dogs", 2),
        ("several dogs", 3),
        ("dogs", 2),
        ("a pair of skis", 1),
        ("two pairs of scissors", 2),
        ("scissors", 1),
    ],
)
def test_counts(prompt, count):
    assert parse_prompt(prompt).groups == [G(parse_prompt(prompt).groups[0].cls, count)]


@pytest.mark.parametrize(
    "word, cls",
    [
        ("people", "person"),
        ("men", "person"),
        ("women", "person"),
        ("knives", "knife"),
        ("mice", "computer mouse"),
        ("buses", "bus"),
        ("skis", "skis"),
        ("benches", "bench"),
        ("wine glasses", "wine glass"),
        ("couches", "couch"),
        ("sandwiches", "sandwich"),
        ("giraffes", "giraffe"),
        ("sheep", "sheep"),
        ("broccoli", "broccoli"),
        ("toothbrushes", "toothbrush"),
        ("hot dogs", "hot dog"),
        ("cell phones", "cell phone"),
        ("tv remotes", "tv remote"),
        ("baseball gloves", "baseball glove"),
        ("sports balls", "sports ball"),
        ("traffic lights", "traffic light"),
        ("fire hydrants", "fire hydrant"),
        ("stop signs", "stop sign"),
        ("parking meters", "parking meter"),
        ("dining tables", "dining table"),
        ("potted plants", "potted plant"),
        ("computer mice", "computer mouse"),
        ("computer keyboards", "computer keyboard"),
        ("tennis rackets", "tennis racket"),
        ("baseball bats", "baseball bat"),
        ("hair driers", "hair drier"),
        ("teddy bears", "teddy bear"),
    ],
)
def test_plurals(word, cls):
    assert parse_prompt(f"three {word}").groups == [G(cls, 3)]


@pytest.mark.parametrize(
    "word, cls",
    [
        ("bike", "bicycle"),
        ("motorbike", "motorcycle"),
        ("plane", "airplane"),
        ("aeroplane", "airplane"),
        ("sofa", "couch"),
        ("television", "tv"),
        ("tv set", "tv"),
        ("phone", "cell phone"),
        ("mobile phone", "cell phone"),
        ("smartphone", "cell phone"),
        ("cellphone", "cell phone"),
        ("remote", "tv remote"),
        ("remote control", "tv remote"),
        ("mouse", "computer mouse"),
        ("keyboard", "computer keyboard"),
        ("table", "dining table"),
        ("plant", "potted plant"),
        ("houseplant", "potted plant"),
        ("ball", "sports ball"),
        ("doughnut", "donut"),
        ("fridge", "refrigerator"),
        ("puppy", "dog"),
        ("kitten", "cat"),
        ("man", "person"),
        ("hair dryer", "hair drier"),
        ("teddy", "teddy bear"),
        ("racket", "tennis racket"),
        ("hotdog", "hot dog"),
        ("hydrant", "fire hydrant"),
        ("mug", "cup"),
    ],
)
def test_synonyms(word, cls):
    assert parse_prompt(f"a photo of a red {word}").groups == [G(cls, 1, "red")]


def test_synonym_plurals():
    assert parse_prompt("two bikes and three puppies").groups == [G("bicycle", 2), G("dog", 3)]


@pytest.mark.parametrize(
    "prompt, groups",
    [
        ("an orange", [G("orange")]),
        ("an orange orange", [G("orange", 1, "orange")]),
        ("an orange cup", [G("cup", 1, "orange")]),
        ("a yellow orange", [G("orange", 1, "yellow")]),
        ("three orange oranges", [G("orange", 3, "orange")]),
        ("a carrot left of an orange", [G("carrot"), G("orange")]),
        ("an orange and an orange tv remote", [G("orange"), G("tv remote", 1, "orange")]),
    ],
)
def test_orange_is_a_colour_only_before_a_noun(prompt, groups):
    assert parse_prompt(prompt).groups == groups


@pytest.mark.parametrize(
    "prompt, cls",
    [
        ("a tv remote", "tv remote"),
        ("a tv", "tv"),
        ("a hot dog", "hot dog"),
        ("a dog", "dog"),
        ("a teddy bear", "teddy bear"),
        ("a bear", "bear"),
        ("a microwave oven", "microwave"),
        ("an oven", "oven"),
        ("a baseball glove", "baseball glove"),
        ("a baseball", "sports ball"),
        ("a blue-colored fire-hydrant", "fire hydrant"),
    ],
)
def test_longest_class_match_wins(prompt, cls):
    assert [g.cls for g in parse_prompt(prompt).groups] == [cls]


def test_words_that_are_not_objects_are_kept_as_free_text():
    g = parse_prompt("a photo of a cat in a park at sunset")
    assert (
        g.groups == [G("cat")] and g.free_text == "in a park at sunset"
    )  # the setting is not an object
    lone = parse_prompt("a cat on the left")  # a side with nothing to be on the side of
    assert lone.relations == [] and lone.notes == [
        "the cat is left, but of nothing else: placed freely"
    ]


def test_one_unknown_modifier_does_not_hide_the_noun_but_is_kept():
    g = parse_prompt("two red apples on a wooden table in a kitchen")
    assert g.groups == [G("apple", 2, "red"), G("dining table")]
    assert g.relations == [Relation(0, "on", 1)]
    assert g.free_text == "wooden, in a kitchen"
    assert parse_prompt("a big shiny red apple").groups == [
        G("apple", 1, "red")
    ]  # known adjectives are dropped
    assert parse_prompt("a dog bed").groups == [G("bed")]  # a class word before a noun modifies it
    assert parse_prompt("a dog and a bed").groups == [G("dog"), G("bed")]


def test_definite_mention_refers_back_but_indefinite_adds():
    assert parse_prompt("a dog and the dog").groups == [G("dog")]
    assert parse_prompt("a dog and a dog").groups == [G("dog"), G("dog")]


# --- GenEval form and planning order ------------------------------------------------------------


def test_to_geneval_puts_anchor_first_and_omits_unset_colour():
    g = parse_prompt("two red apples under a blue cup and a dog")
    assert g.plan_order() == [1, 0, 2]
    assert g.to_geneval() == {
        "include": [
            {"class": "cup", "count": 1, "color": "blue"},
            {"class": "apple", "count": 2, "color": "red", "position": ["below", 0]},
            {"class": "dog", "count": 1},
        ]
    }


def test_plan_order_chains_and_cycles():
    chain = SceneGraph(
        [G("cat"), G("dog"), G("bench")], [Relation(0, "left of", 1), Relation(1, "above", 2)]
    )
    assert chain.plan_order() == [2, 1, 0]
    assert chain.to_geneval()["include"][2]["position"] == ["left of", 1]
    cycle = SceneGraph(
        [G("cat"), G("dog")], [Relation(0, "left of", 1), Relation(1, "right of", 0)]
    )
    assert sorted(cycle.plan_order()) == [0, 1]


@pytest.mark.parametrize(
    "group, text",
    [
        (G("apple", 2, "red"), "two red apples"),
        (G("cup", 1, "blue"), "a blue cup"),
        (G("orange"), "an orange"),
        (G("cup", 1, "orange"), "an orange cup"),
        (G("person", 3), "three people"),
        (G("knife", 2), "two knives"),
        (G("skis"), "a pair of skis"),
        (G("computer mouse", 2), "two computer mice"),
        (G("dog", 15), "15 dogs"),
    ],
)
def test_phrase(group, text):
    assert SceneGraph([group], []).phrase(0) == text


# --- describe -----------------------------------------------------------------------------------


def test_describe_example_and_subsets():
    g = parse_prompt("two red apples below a blue cup in a kitchen")
    assert g.describe() == "a blue cup, with two red apples below the blue cup, in a kitchen"
    assert g.describe([1]) == "a blue cup"
    assert g.describe([0]) == "two red apples"  # relation dropped: its anchor is not in the subset
    assert SceneGraph([], []).describe() == ""


def test_describe_round_trips_over_all_geneval_prompts():
    bad = []
    for x in _geneval_lines():
        g = parse_prompt(x["prompt"])
        text = g.describe()
        if _shape(parse_prompt(text)) != _shape(g) or _shape(parse_description(text)) != _shape(g):
            bad.append((x["prompt"], text))
    assert bad == []


@pytest.mark.parametrize(
    "graph",
    [
        SceneGraph(
            [G("cat"), G("dog"), G("bench", 2, "green")],
            [Relation(0, "left of", 1), Relation(1, "above", 2)],
        ),
        SceneGraph([G("cat"), G("dog")], [Relation(0, "left of", 1), Relation(1, "left of", 0)]),
        SceneGraph(
            [G("apple", 3, "red"), G("cup"), G("skis", 2)],
            [Relation(0, "below", 1), Relation(0, "right of", 2)],
        ),
        SceneGraph([G("orange", 1, "orange"), G("orange", 2)], [Relation(1, "above", 0)]),
    ],
)
def test_describe_round_trips_harder_graphs(graph):
    assert _shape(parse_prompt(graph.describe())) == _shape(graph)
    for keep in ([0, 1], [1], [0, 2]):
        keep = [k for k in keep if k < len(graph.groups)]
        sub = parse_prompt(graph.describe(keep))
        want = SceneGraph(
            [graph.groups[k] for k in keep],
            [
                Relation(keep.index(r.subject), r.relation, keep.index(r.anchor))
                for r in graph.relations
                if r.subject in keep and r.anchor in keep
            ],
        )
        assert _shape(sub) == _shape(want)


# --- descriptions -------------------------------------------------------------------------------


def test_parse_description_merges_repeated_mentions():
    g = parse_description(
        "A blue cup. Two red apples below the blue cup. A blue cup sits on the left."
    )
    assert g.groups == [G("cup", 1, "blue"), G("apple", 2, "red")]
    assert g.relations == [Relation(1, "below", 0)]


def test_parse_description_keeps_different_colours_apart_and_restates_counts():
    g = parse_description("A red apple and a green apple. Three red apples. The apples are shiny.")
    assert g.groups == [G("apple", 3, "red"), G("apple", 1, "green")]
    assert parse_prompt("A red apple. A red apple.").groups == [G("apple", 1, "red")] * 2


def test_relation_subject_does_not_cross_sentences():
    g = parse_description("A dog. Left of a cat is a bench.")
    assert g.groups == [G("dog"), G("cat"), G("bench")]
    assert g.relations == [Relation(2, "left of", 1)]


# --- edits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, edit",
    [
        ("move the dog to the right of the cat", Edit("move", G("dog"), "right of", G("cat"))),
        ("put the red cup above the bench", Edit("move", G("cup", 1, "red"), "above", G("bench"))),
        ("make the cup blue", Edit("recolor", G("cup"), color="blue")),
        ("recolor the bench green", Edit("recolor", G("bench"), color="green")),
        ("make the cup orange", Edit("recolor", G("cup"), color="orange")),
        ("paint the orange green", Edit("recolor", G("orange"), color="green")),
        ("change the cup from red to blue", Edit("recolor", G("cup", 1, "red"), color="blue")),
        ("turn the red cup into a blue cup", Edit("recolor", G("cup", 1, "red"), color="blue")),
        ("change the color of the cup to pink", Edit("recolor", G("cup"), color="pink")),
        ("remove one apple", Edit("remove", G("apple"), count=1)),
        ("delete the extra clock", Edit("remove", G("clock"), count=1)),
        ("remove two of the apples", Edit("remove", G("apple"), count=2)),
        ("remove the dogs", Edit("remove", G("dog"))),
        ("get rid of the purple cow", Edit("remove", G("cow", 1, "purple"))),
        ("add a red apple", Edit("add", G("apple", 1, "red"), count=1)),
        ("draw two more apples", Edit("add", G("apple"), count=2)),
        ("add a cat to the left of the dog", Edit("add", G("cat"), "left of", G("dog"), count=1)),
        ("there should be three apples", Edit("count", G("apple"), count=3)),
        ("change the number of apples to three", Edit("count", G("apple"), count=3)),
        ("set the number of red apples to 5", Edit("count", G("apple", 1, "red"), count=5)),
    ],
)
def test_parse_edit(text, edit):
    assert parse_edit(text) == edit


@pytest.mark.parametrize(
    "text", ["", "hello", "make it nicer", "move the dog", "change the number of apples"]
)
def test_parse_edit_returns_none_when_not_understood(text):
    assert parse_edit(text) is None


@pytest.mark.parametrize(
    "edit",
    [
        Edit("move", G("dog"), "right of", G("cat")),
        Edit("move", G("orange", 1, "orange"), "below", G("tv remote", 1, "black")),
        Edit("recolor", G("cup"), color="blue"),
        Edit("recolor", G("cup", 1, "red"), color="orange"),
        Edit("recolor", G("orange"), color="orange"),
        Edit("remove", G("apple"), count=1),
        Edit("remove", G("skis"), count=2),
        Edit("remove", G("clock", 1, "white")),
        Edit("add", G("apple", 1, "red"), count=1),
        Edit("add", G("person"), count=4),
        Edit("add", G("scissors"), count=2),
        Edit("add", G("cat"), "left of", G("dog", 1, "brown"), count=1),
        Edit("count", G("apple"), count=3),
        Edit("count", G("knife", 1, "green"), count=1),
        Edit("count", G("sheep"), count=11),
    ],
)
def test_edit_text_round_trips(edit):
    assert parse_edit(edit_text(edit)) == edit


def test_edit_text_is_readable():
    assert (
        edit_text(Edit("move", G("dog"), "right of", G("cat"))) == "move the dog right of the cat"
    )
    assert edit_text(Edit("add", G("apple"), count=2)) == "add two apples"
    assert edit_text(Edit("count", G("apple"), count=3)) == "change the number of apples to three"


# --- serialisation ------------------------------------------------------------------------------


def test_to_dict_from_dict_round_trip_through_json():
    g = parse_prompt("two red apples under a blue cup in a kitchen")
    d = json.loads(json.dumps(g.to_dict()))
    assert d == {
        "groups": [
            {"cls": "apple", "count": 2, "color": "red"},
            {"cls": "cup", "count": 1, "color": "blue"},
        ],
        "relations": [{"subject": 0, "relation": "below", "anchor": 1}],
        "free_text": "in a kitchen",
        "ground": ["kitchen"],
    }
    assert SceneGraph.from_dict(d) == g


# --- the relations past GenEval's four, materials and parts ------------------------------------


def test_extra_relations_are_named_beside_genevals_four():
    from studio.language.scene import ALL_RELATIONS, ANCHOR_VIEW, EXTRA_RELATIONS, OPPOSITE

    assert EXTRA_RELATIONS == ("behind", "in front of", "on", "in", "next to", "held by", "worn by")
    assert ALL_RELATIONS == RELATIONS + EXTRA_RELATIONS
    assert OPPOSITE["behind"] == "in front of" and OPPOSITE["next to"] == "next to"
    assert "on" not in OPPOSITE  # the anchor's view of "on" is no relation of the vocabulary
    assert set(ANCHOR_VIEW) == set(ALL_RELATIONS)


def test_a_graph_with_every_extra_relation_materials_parts_and_ground_round_trips_through_json():
    groups = [
        ObjectGroup("person", 1, None),
        ObjectGroup("umbrella", 1, "red", parts=("canopy",)),
        ObjectGroup("scarf", 1, "green", material="wool"),
        ObjectGroup("cup", 1, "blue", material="ceramic"),
        ObjectGroup("box", 1),
    ]
    relations = [
        Relation(1, "held by", 0),
        Relation(2, "worn by", 0),
        Relation(3, "on", 4),
        Relation(4, "behind", 0),
        Relation(0, "next to", 4),
    ]
    g = SceneGraph(groups, relations, ground=["a wooden table"])
    d = json.loads(json.dumps(g.to_dict()))
    back = SceneGraph.from_dict(d)
    assert back == g
    assert [x.to_dict() for x in back.groups] == [x.to_dict() for x in groups]
    assert back.ground == ["a wooden table"]
    assert d["groups"][3] == {"cls": "cup", "count": 1, "color": "blue", "material": "ceramic"}


def test_geneval_keeps_only_its_four_relations_and_scores_on_as_above():
    g = SceneGraph(
        [G("cup"), G("dining table"), G("dog"), G("cat")],
        [Relation(2, "behind", 1), Relation(0, "on", 1), Relation(3, "held by", 2)],
    )
    by_class = {x["class"]: x for x in g.to_geneval()["include"]}
    assert by_class["cup"]["position"][0] == "above"  # resting on top is above by GenEval's check
    assert "position" not in by_class["dog"] and "position" not in by_class["cat"]


def test_materials_and_parts_do_not_make_another_group():
    assert ObjectGroup("chair", 1, None, material="wooden") == G("chair")
    assert ObjectGroup("pizza", 1, "purple", parts=("purple cheese",)) == G("pizza", 1, "purple")
