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
from .pictures import natural_color, picture_of

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
    """What `cls` is drawn in when no colour is asked for: its natural colour (a picture's own), else by name."""
    if cls in NATURAL:
        return NATURAL[cls]
    code = picture_of(cls)
    if code is not None:
        return natural_color(code, PAINTS)
    return _FALLBACK[zlib.crc32(cls.encode("utf-8")) % len(_FALLBACK)]


# -- what an object occupies -------------------------------------------------------------------


def card_box(glyph: tuple[int, int, int, int], cls: str = "") -> tuple[int, int, int, int]:
    """Everything one object puts on the canvas: its glyph box (the name is kept for callers' clarity)."""
    return glyph


# -- the pen -----------------------------------------------------------------------------------


def blank() -> Image.Image:
    return Image.new("RGB", (SIZE, SIZE), PAPER)


# Where an object meets paint of its own colour already on the canvas, a gap of paper this wide keeps
# the two apart (a sketcher's knock-out line): wider than the analyser's CLOSE_PX joins on both sides,
# so a red apple drawn on a red table is still two shapes. Other colours tell objects apart by
# themselves and meet directly.
HALO = 5
_EMPTY = (1, 2, 3)  # a scratch canvas's background: no paint is this colour


def draw_object(
    image: Image.Image,
    shape: str,
    color: str,
    glyph: tuple[int, int, int, int],
    rng: np.random.Generator,
    jitter: float = 1.0,
    word: str | None = None,
    behind: bool = False,
    knockout: bool = False,
) -> np.ndarray:
    """Stroke one object onto `image` in place: the glyph `shape` (a class, a picture or a placeholder,
    which writes `word`) in its paint; returns the pixels it painted (a mask of the canvas).

    Drawn in front (the default) it covers what is there and clears a HALO of paper around itself
    where it meets its own colour; drawn `behind`, it shows only where the canvas is paper (a HALO
    away from its own colour). `knockout` clears the HALO around it over every colour (a hat on a
    head, an umbrella in a hand: small things on a big one that would otherwise read as part of it)."""
    import cv2

    fill, line = PAINTS[color]
    x0, y0, x1, y1 = glyph
    m = HALO + 1
    wx0, wy0 = max(0, x0 - m), max(0, y0 - m)
    wx1, wy1 = min(image.width, x1 + m), min(image.height, y1 + m)
    scratch = Image.new("RGB", (wx1 - wx0, wy1 - wy0), _EMPTY)
    render_glyph(
        scratch,
        shape,
        (x0 - wx0, y0 - wy0, x1 - wx0, y1 - wy0),
        fill,
        line,
        PAPER,
        rng,
        jitter,
        word,
    )
    ink = np.asarray(scratch)
    mine = np.any(ink != _EMPTY, axis=-1)
    window = np.array(image.crop((wx0, wy0, wx1, wy1)))
    kernel = np.ones((2 * HALO + 1, 2 * HALO + 1), np.uint8)
    painted = np.any(window != PAPER, axis=-1)
    same = (
        painted if knockout else np.all(window == fill, axis=-1) | np.all(window == line, axis=-1)
    )
    if behind:
        mine &= ~painted & (cv2.dilate(same.astype(np.uint8), kernel) == 0)
    else:
        ring = (cv2.dilate(mine.astype(np.uint8), kernel) > 0) & ~mine & same
        window[ring] = PAPER
    window[mine] = ink[mine]
    image.paste(Image.fromarray(window), (wx0, wy0))
    out = np.zeros((image.height, image.width), dtype=bool)
    out[wy0:wy1, wx0:wx1] = mine
    return out
