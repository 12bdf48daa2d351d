"""The canvas: palette, per-object footprint (glyph, class marker, label) and the pen that draws them.

Every colour on the canvas is exact (Pillow draws without anti-aliasing here), so the analyser can
tell paper, object paint, marker cells and label ink apart by nearest colour alone. Each object is
drawn as a *card* the analyser can read back:

    +-----------+   glyph box: the object's shape in its fill colour, stroked in a darker shade
    |   glyph   |
    +-----------+
     [#.##.#..#]    class marker: 10 cells (sync, 7 class bits, parity, sync) under the glyph
       apple        label: the class name, for people

Layout, sketching, refining and analysis all use the geometry defined here.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..scene import CLASSES, COLORS
from .glyphs import render_glyph

SIZE = 512
PAPER = (238, 234, 224)
LABEL_INK = (20, 60, 70)
BIT_ON = (0, 150, 150)  # marker cells: teal for 1, pale cyan for 0 — hues no object colour uses
BIT_OFF = (150, 225, 225)

# Fill and stroke (outline / detail) colour of each paint. GenEval's ten colours, plus gray,
# which the sketcher uses as a natural default (elephants, forks) and the analyser reads as "gray".
PAINTS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "red": ((215, 45, 45), (129, 27, 27)),
    "orange": ((240, 140, 30), (150, 84, 10)),
    "yellow": ((240, 210, 50), (150, 128, 28)),
    "green": ((60, 160, 70), (34, 96, 40)),
    "blue": ((50, 100, 215), (28, 58, 135)),
    "purple": ((135, 70, 175), (82, 40, 108)),
    "pink": ((240, 140, 185), (160, 80, 115)),
    "brown": ((135, 85, 45), (84, 48, 22)),
    "black": ((30, 30, 30), (75, 75, 75)),
    "white": ((252, 252, 252), (185, 185, 185)),
    "gray": ((140, 140, 145), (95, 95, 100)),
}
assert set(COLORS) <= set(PAINTS)

# What an object is drawn in when the prompt names no colour: something natural, else by class.
NATURAL = {
    "apple": "red", "banana": "yellow", "orange": "orange", "broccoli": "green", "carrot": "orange",
    "hot dog": "brown", "pizza": "yellow", "donut": "pink", "cake": "pink", "sandwich": "yellow",
    "cat": "orange", "dog": "brown", "horse": "brown", "sheep": "white", "cow": "white", "elephant": "gray",
    "bear": "brown", "zebra": "white", "giraffe": "yellow", "bird": "blue", "person": "blue",
    "fire hydrant": "red", "stop sign": "red", "traffic light": "black", "potted plant": "green",
    "fork": "gray", "knife": "gray", "spoon": "gray", "scissors": "gray", "computer mouse": "gray",
    "teddy bear": "brown", "sports ball": "orange", "tennis racket": "green", "toilet": "white",
    "refrigerator": "white", "sink": "white", "airplane": "white", "boat": "white", "bus": "yellow",
}
_FALLBACK = ("red", "blue", "green", "purple", "orange", "brown", "pink", "black")


def default_color(cls: str) -> str:
    return NATURAL.get(cls) or _FALLBACK[class_code(cls) % len(_FALLBACK)]


def class_code(cls: str) -> int:
    """The number a class marker carries: GenEval's class index (0-79), or 80-127 for any other noun.

    Open-vocabulary nouns share 48 codes by a stable hash, so the analyser can tell the placeholders
    of a plan's (few) other nouns apart; two nouns of one plan on the same code are read as the first.
    """
    if cls in CLASSES:
        return CLASSES.index(cls)
    return len(CLASSES) + zlib.crc32(cls.encode("utf-8")) % (128 - len(CLASSES))


def placeholder_name(code: int) -> str:
    """How the analyser names a placeholder whose noun it was not told: "unknown object #93"."""
    return f"unknown object #{code}"


# -- footprint geometry ------------------------------------------------------------------------

MARKER_CELLS = 10
CELL_W, CELL_H = 5, 7
MARKER_W = MARKER_CELLS * CELL_W
MARKER_GAP = 4  # glyph bottom -> marker top
LABEL_GAP = 2  # marker bottom -> label text top
LABEL_H = 12
CARD_BELOW = MARKER_GAP + CELL_H + LABEL_GAP + LABEL_H  # how far a card reaches below its glyph


@lru_cache(maxsize=1)
def font() -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=12)


@lru_cache(maxsize=None)
def label_width(cls: str) -> int:
    return int(font().getlength(cls)) + 1


def marker_box(glyph: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x0, _, x1, y1 = glyph
    left = (x0 + x1) // 2 - MARKER_W // 2
    top = y1 + MARKER_GAP
    return left, top, left + MARKER_W, top + CELL_H


def card_box(glyph: tuple[int, int, int, int], cls: str) -> tuple[int, int, int, int]:
    """Everything one object puts on the canvas: glyph, marker and label."""
    x0, y0, x1, y1 = glyph
    half = max(MARKER_W, label_width(cls)) // 2 + 1
    cx = (x0 + x1) // 2
    return min(x0, cx - half), y0, max(x1, cx + half), y1 + CARD_BELOW


# -- the class marker --------------------------------------------------------------------------

def encode(cls: str) -> list[int]:
    """Cell bits: sync 1, class code (7 bits, MSB first), even parity, sync 1."""
    index = class_code(cls)
    bits = [(index >> (6 - i)) & 1 for i in range(7)]
    return [1, *bits, sum(bits) % 2, 1]


def decode(bits: list[int], names: dict[int, str] | None = None) -> str | None:
    """The class a marker's cells name (`names`: codes of the open-vocabulary nouns looked for), or None
    when they do not form a valid code."""
    if len(bits) != MARKER_CELLS or bits[0] != 1 or bits[-1] != 1 or sum(bits[1:8]) % 2 != bits[8]:
        return None
    index = int("".join(map(str, bits[1:8])), 2)
    if index < len(CLASSES):
        return CLASSES[index]
    return (names or {}).get(index) or placeholder_name(index)


# -- the pen -----------------------------------------------------------------------------------

def blank() -> Image.Image:
    return Image.new("RGB", (SIZE, SIZE), PAPER)


def draw_object(image: Image.Image, cls: str, color: str, glyph: tuple[int, int, int, int],
                rng: np.random.Generator) -> None:
    """Stroke one object card onto `image` in place: glyph, class marker, then label."""
    fill, line = PAINTS[color]
    render_glyph(image, cls, glyph, fill, line, PAPER, rng)
    draw = ImageDraw.Draw(image)
    mx0, my0, _, my1 = marker_box(glyph)
    for i, bit in enumerate(encode(cls)):
        left = mx0 + i * CELL_W
        draw.rectangle((left, my0, left + CELL_W - 1, my1 - 1), fill=BIT_ON if bit else BIT_OFF)
    draw.fontmode = "1"  # no anti-aliasing: label pixels stay exactly LABEL_INK
    cx = (glyph[0] + glyph[2]) // 2
    draw.text((cx - label_width(cls) // 2, my1 + LABEL_GAP - 3), cls, fill=LABEL_INK, font=font())
