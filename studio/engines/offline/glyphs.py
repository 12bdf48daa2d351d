"""One simple, recognisable glyph per COCO class, as a few primitives in grid units.

A glyph is drawn into a box: its primitives' bounds map onto the box, so the drawn shape touches
the box on all four sides and the analyser's blob box is the glyph box. Every glyph is one
connected shape (tests check this), which is what lets the analyser treat one blob as one object.

The shapes themselves, and what each primitive letter means, are data in `glyph_shapes`; this
module measures and draws them, and adds the placeholders for nouns without a glyph.
"""

from __future__ import annotations

import math
import zlib
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from .glyph_shapes import GLYPHS


def _points(prim: tuple) -> list[tuple[float, float]]:
    """Points whose bounds are the primitive's drawn extent (strokes widened by half their width)."""
    kind = prim[0]
    if kind in "PFL":
        pts, half = prim[1], (prim[2] / 2 if kind in "FL" else 0)
        return [(x + dx, y + dy) for x, y in pts for dx in (-half, half) for dy in (-half, half)]
    if kind in "SA":
        x0, y0, x1, y1, a0, a1 = prim[1:7]
        a1 = a1 if a1 > a0 else a1 + 360
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        arc = [
            (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(a0, a1, 37)
        ]
        return arc + ([(cx, cy)] if kind == "S" else [])
    return [(prim[1], prim[2]), (prim[3], prim[4])]


# A noun the engine has no glyph for (open vocabulary) is drawn as a generic placeholder: a plain
# frame with a cross or a plus, the classic "something goes here". The eight frames differ, so the
# few other nouns of one plan get told apart (the studio's overlay names them); see `placeholder`.
_X = [("L", [(1.8, 1.8), (8.2, 6.2)], 0.45), ("L", [(1.8, 6.2), (8.2, 1.8)], 0.45)]
_PLUS = [("L", [(5, 1.2), (5, 6.8)], 0.45), ("L", [(1.2, 4), (8.8, 4)], 0.45)]
_FRAMES = [
    ("R", 0, 0, 10, 8, 1.2),
    ("E", 0, 0, 10, 8),
    ("P", [(2.5, 0), (7.5, 0), (10, 4), (7.5, 8), (2.5, 8), (0, 4)]),
    ("P", [(5, 0), (10, 4), (5, 8), (0, 4)]),
]
PLACEHOLDERS = tuple(f"placeholder {i + 1}" for i in range(8))
for _i, _name in enumerate(PLACEHOLDERS):
    GLYPHS[_name] = [_FRAMES[_i % 4]] + (_X if _i < 4 else _PLUS)


def placeholder(cls: str, names) -> str:
    """The placeholder glyph of an open-vocabulary noun: by its place among the plan's other nouns."""
    names = list(names)
    index = names.index(cls) if cls in names else zlib.crc32(cls.encode("utf-8"))
    return PLACEHOLDERS[index % len(PLACEHOLDERS)]


def glyph_of(cls: str) -> str:
    """The glyph a class (or a placeholder's name) is drawn with."""
    return cls if cls in GLYPHS else PLACEHOLDERS[0]


@lru_cache(maxsize=None)
def bounds(cls: str) -> tuple[float, float, float, float]:
    pts = [p for prim in GLYPHS[glyph_of(cls)] if prim[0] != "H" for p in _points(prim)]
    xs, ys = zip(*pts)
    return min(xs), min(ys), max(xs), max(ys)


def aspect(cls: str) -> float:
    """Width over height of the glyph as designed."""
    x0, y0, x1, y1 = bounds(cls)
    return (x1 - x0) / (y1 - y0)


def render_glyph(
    image: Image.Image,
    cls: str,
    box: tuple[int, int, int, int],
    fill: tuple,
    line: tuple,
    paper: tuple,
    rng: np.random.Generator,
    jitter: float = 1.0,
) -> None:
    """Draw the glyph of `cls` filling `box`; vertices wobble (`jitter` scales it), like a hand-drawn stroke."""
    bx0, by0, bx1, by1 = bounds(cls)
    x0, y0, x1, y1 = box
    sx, sy = (x1 - x0 - 1) / (bx1 - bx0), (y1 - y0 - 1) / (by1 - by0)
    unit = min(sx, sy)
    outline = max(2, round(min(x1 - x0, y1 - y0) / 40))
    wobble = 0.12 * unit * jitter

    def pt(x, y):
        jx, jy = rng.uniform(-wobble, wobble, 2)
        px = min(max(x0 + (x - bx0) * sx + jx, x0), x1 - 1)
        py = min(max(y0 + (y - by0) * sy + jy, y0), y1 - 1)
        return (px, py)

    def rect(prim):  # not clamped: a pie slice's ellipse may reach past the glyph's drawn extent
        ax, ay, bx, by = prim[1:5]
        return [
            x0 + (ax - bx0) * sx,
            y0 + (ay - by0) * sy,
            x0 + (bx - bx0) * sx,
            y0 + (by - by0) * sy,
        ]

    def width(w):
        return max(1, round(w * unit))

    draw = ImageDraw.Draw(image)
    for prim in GLYPHS[glyph_of(cls)]:
        kind = prim[0]
        if kind == "E":
            draw.ellipse(rect(prim), fill=fill, outline=line, width=outline)
        elif kind == "R":
            radius = prim[5] * unit if len(prim) > 5 else 0
            draw.rounded_rectangle(
                rect(prim), radius=radius, fill=fill, outline=line, width=outline
            )
        elif kind == "P":
            draw.polygon([pt(*p) for p in prim[1]], fill=fill, outline=line, width=outline)
        elif kind == "S":
            draw.pieslice(rect(prim), prim[5], prim[6], fill=fill, outline=line, width=outline)
        elif kind in "FL":
            draw.line(
                [pt(*p) for p in prim[1]],
                fill=fill if kind == "F" else line,
                width=width(prim[2]),
                joint="curve",
            )
        elif kind == "A":
            draw.arc(rect(prim), prim[5], prim[6], fill=fill, width=width(prim[7]))
        elif kind == "O":
            draw.ellipse(rect(prim), outline=fill, width=width(prim[5]))
        elif kind == "D":
            draw.ellipse(rect(prim), fill=line)
        elif kind == "Q":
            draw.rectangle(rect(prim), outline=line, width=max(1, outline - 1))
        elif kind == "H":
            draw.ellipse(rect(prim), fill=paper, outline=line, width=outline)
