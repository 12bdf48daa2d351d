"""The canvas: palette, what each object occupies, and the pen that draws it.

An object is its glyph and nothing else: the shape of its class in its fill colour, stroked and
detailed in a darker shade of the same paint. There is no class marker or text label in the
image: a viewer and the analyser both have to recognise the object from its shape and colour
(names are an overlay the studio may draw from the inspector's evidence boxes). Every colour on
the canvas is exact (Pillow draws without anti-aliasing here), so the analyser can tell paper and
each paint apart by nearest colour alone.
"""

from __future__ import annotations

import zlib

import numpy as np
from PIL import Image

from ...language.scene import COLORS
from .glyphs import render_glyph

SIZE = 512
PAPER = (238, 234, 224)

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
    "apple": "red",
    "banana": "yellow",
    "orange": "orange",
    "broccoli": "green",
    "carrot": "orange",
    "hot dog": "brown",
    "pizza": "yellow",
    "donut": "pink",
    "cake": "pink",
    "sandwich": "yellow",
    "cat": "orange",
    "dog": "brown",
    "horse": "brown",
    "sheep": "white",
    "cow": "white",
    "elephant": "gray",
    "bear": "brown",
    "zebra": "white",
    "giraffe": "yellow",
    "bird": "blue",
    "person": "blue",
    "fire hydrant": "red",
    "stop sign": "red",
    "traffic light": "black",
    "potted plant": "green",
    "fork": "gray",
    "knife": "gray",
    "spoon": "gray",
    "scissors": "gray",
    "computer mouse": "gray",
    "teddy bear": "brown",
    "sports ball": "orange",
    "tennis racket": "green",
    "toilet": "white",
    "refrigerator": "white",
    "sink": "white",
    "airplane": "white",
    "boat": "white",
    "bus": "yellow",
}
_FALLBACK = ("red", "blue", "green", "purple", "orange", "brown", "pink", "black")


def default_color(cls: str) -> str:
    return NATURAL.get(cls) or _FALLBACK[zlib.crc32(cls.encode("utf-8")) % len(_FALLBACK)]


# -- what an object occupies -------------------------------------------------------------------


def card_box(glyph: tuple[int, int, int, int], cls: str = "") -> tuple[int, int, int, int]:
    """Everything one object puts on the canvas: its glyph box (the name is kept for callers' clarity)."""
    return glyph


# -- the pen -----------------------------------------------------------------------------------


def blank() -> Image.Image:
    return Image.new("RGB", (SIZE, SIZE), PAPER)


def draw_object(
    image: Image.Image,
    shape: str,
    color: str,
    glyph: tuple[int, int, int, int],
    rng: np.random.Generator,
    jitter: float = 1.0,
) -> None:
    """Stroke one object onto `image` in place: the glyph `shape` (a class, or a placeholder) in its paint."""
    fill, line = PAINTS[color]
    render_glyph(image, shape, glyph, fill, line, PAPER, rng, jitter)
