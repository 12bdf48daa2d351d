"""Glyphs, placeholders and layout of the offline sketcher: every object can be drawn and recognised back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.engines.offline.analyse import analyse
from studio.engines.offline.draw import PAINTS, PAPER, SIZE, blank, card_box, draw_object
from studio.engines.offline.glyphs import GLYPHS, PLACEHOLDERS, placeholder
from studio.engines.offline.layout import Space, glyph_size, holds, unit_size
from studio.language.rules import relative_position
from studio.language.scene import CLASSES, COLORS

from ..kits.offline_kit import png


def test_every_class_has_a_glyph_and_every_colour_a_paint():
    assert set(GLYPHS) == set(CLASSES) | set(
        PLACEHOLDERS
    )  # any other noun is drawn as a placeholder
    assert set(COLORS) <= set(PAINTS)


def test_the_nouns_of_one_plan_get_different_placeholders():
    names = ["lamp", "pear", "rug"]
    assert len({placeholder(n, names) for n in names}) == 3
    assert placeholder("lamp", names) == placeholder(
        "lamp", names + ["sofa bed"]
    )  # later nouns do not reshuffle


@pytest.mark.parametrize("unit", [56, 100, 160])
def test_placeholders_are_recognised_as_the_noun_they_stand_for(unit):
    rng = np.random.default_rng(unit)
    names = [f"thing{i}" for i in range(len(PLACEHOLDERS))]
    for name in names:
        image = Image.new("RGB", (300, 300), PAPER)
        w, h = glyph_size(name, unit, rng)
        draw_object(
            image, placeholder(name, names), "blue", (40, 20, 40 + w, 20 + h), rng, jitter=1.5
        )
        assert [o.cls for o in analyse(image, names).objects] == [name]


@pytest.mark.parametrize("unit", [56, 100, 160])
def test_every_glyph_is_one_shape_read_back_with_its_class_colour_and_box(unit):
    rng = np.random.default_rng(unit)
    paints = list(PAINTS)
    for k, cls in enumerate(CLASSES):
        image = Image.new("RGB", (300, 300), PAPER)  # small canvas: quick to analyse
        w, h = glyph_size(cls, unit, rng)
        box = (40, 20, 40 + w, 20 + h)
        color = paints[k % len(paints)]
        draw_object(image, cls, color, box, rng, jitter=float(rng.uniform(0.6, 1.8)))
        found = analyse(image)  # no marker, no label: recognised from its shape and paint alone
        assert [(o.cls, o.color) for o in found.objects] == [(cls, color)], cls
        assert not found.unrecognised, cls  # one connected glyph
        assert np.abs(np.subtract(found.objects[0].box, box)).max() <= max(3, 0.04 * max(w, h)), cls


def test_drawing_is_deterministic_per_seed():
    def sketch(seed):
        image = blank()
        draw_object(image, "dog", "brown", (100, 100, 260, 220), np.random.default_rng(seed))
        return png(image)

    assert sketch(3) == sketch(3)
    assert sketch(3) != sketch(4)  # strokes wobble with the seed


def test_an_object_is_its_glyph_alone_in_its_own_paint():
    image = blank()
    glyph = (200, 150, 300, 260)
    draw_object(image, "tennis racket", "green", glyph, np.random.default_rng(0))
    pixels = np.asarray(image).reshape(-1, 3)
    drawn = np.argwhere(np.any(np.asarray(image) != np.asarray(blank()), axis=-1))
    x0, y0, x1, y1 = card_box(glyph, "tennis racket")
    assert drawn[:, 1].min() >= x0 and drawn[:, 1].max() < x1
    assert drawn[:, 0].min() >= y0 and drawn[:, 0].max() < y1
    # no marker cells, no label ink: every pixel is paper or the green paint (fill and its darker shade)
    assert {tuple(p) for p in np.unique(pixels, axis=0)} <= {PAPER, *PAINTS["green"]}


def test_layout_keeps_clear_of_what_is_drawn_and_honours_the_relation():
    image = blank()
    rng = np.random.default_rng(1)
    anchor = (180, 200, 300, 300)
    draw_object(image, "cup", "blue", anchor, rng)
    space = Space(analyse(image).occupied())
    for relation in ("left of", "right of", "above", "below"):
        box = space.place("apple", (90, 90), rng, relations=[(relation, [anchor])])
        assert relation in relative_position(box, anchor)
        assert holds(relation, box, [anchor])
        cx0, cy0, cx1, cy1 = card_box(box, "apple")
        ax0, ay0, ax1, ay1 = card_box(anchor, "cup")
        assert cx1 <= ax0 or ax1 <= cx0 or cy1 <= ay0 or ay1 <= cy0  # cards do not overlap


def test_layout_places_new_cards_apart_and_still_answers_when_the_canvas_is_full():
    rng = np.random.default_rng(2)
    space = Space(np.zeros((SIZE, SIZE), bool))
    cards = []
    for _ in range(4):
        box = space.place("clock", (100, 100), rng)
        card = card_box(box, "clock")
        assert all(
            card[2] <= c[0] or c[2] <= card[0] or card[3] <= c[1] or c[3] <= card[1] for c in cards
        )
        cards.append(card)
        space.add(card)
    full = Space(np.ones((SIZE, SIZE), bool))
    x0, y0, x1, y1 = full.place("clock", (100, 100), rng)
    assert 0 <= x0 < x1 <= SIZE and 0 <= y0 < y1 <= SIZE


def test_an_allowed_overlap_covers_at_most_its_share_of_the_new_card():
    """A quarter of the objects may overlap objects of other colours, by up to 15 % of their card:
    measured on the whole card, so what is covered stays recognisable."""
    for seed in range(12):
        rng = np.random.default_rng(seed)
        image = blank()
        for box in ((60, 60, 250, 250), (262, 60, 452, 250), (60, 262, 250, 452)):
            draw_object(image, "clock", "red", box, rng)
        painted = analyse(image).occupied()
        space = Space(painted, colors=analyse(image).colors)
        x0, y0, x1, y1 = space.place(
            "cup", (150, 150), rng, overlap=0.15, color=list(PAINTS).index("blue")
        )
        assert painted[y0:y1, x0:x1].sum() <= 0.15 * (x1 - x0) * (y1 - y0)


def test_erasing_an_object_uncovers_what_it_was_drawn_over():
    from studio.engines.offline.paint import DraftNoise, Painter

    clean = DraftNoise(0, 0, 0, 0, 0)
    first = Painter(blank(), 120, np.random.default_rng(0), clean)
    first._stroke("broccoli", "green", (150, 150, 290, 300))
    first._stroke("vase", "blue", (250, 120, 350, 300))  # over the broccoli's right side
    later = Painter(first.image, 120, np.random.default_rng(1), clean, ledger=first.ledger)
    later.erase(later.analysis.of("vase"))
    assert [e["class"] for e in later.ledger] == ["broccoli"]
    [broccoli] = analyse(later.image).objects  # whole again, not cut where the vase was
    assert broccoli.cls == "broccoli" and abs(broccoli.box[2] - 290) <= 3


def test_layout_prefers_the_region():
    region = np.zeros((SIZE, SIZE), bool)
    region[300:, 300:] = True
    box = Space(np.zeros((SIZE, SIZE), bool), region).place(
        "cup", (80, 80), np.random.default_rng(0)
    )
    x0, y0, x1, y1 = card_box(box, "cup")
    assert region[y0:y1, x0:x1].all()


def test_glyphs_shrink_as_scenes_grow():
    sizes = [unit_size(n) for n in range(1, 12)]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] >= 56
