"""One simple, recognisable glyph per COCO class, as a few primitives in grid units; pictures and
placeholders for every other noun.

A glyph is drawn into a box: its primitives' bounds map onto the box, so the drawn shape touches
the box on all four sides and the analyser's blob box is the glyph box. Every glyph is one
connected shape (tests check this), which is what lets the analyser treat one blob as one object.

The shapes themselves, and what each primitive letter means, are data in `glyph_shapes`; this
module measures and draws them. A noun outside the 80 classes is drawn as its OpenMoji picture
(`pictures`; shape name "picture:<code>") or, when none fits, as a placeholder frame that carries
the word; `shapes` says which noun of a plan gets which.
"""

from __future__ import annotations

import math
import zlib
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from . import pictures
from .glyph_shapes import GLYPHS

PICTURE = "picture:"


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


def shapes(names) -> dict[str, str]:
    """The shape each open-vocabulary noun of a plan is drawn with, by its place among the plan's nouns:
    its picture, unless an earlier noun took that picture, else the next placeholder (so a later noun
    never reshuffles an earlier one's). More nouns than placeholders share them: callers refuse that."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    free = 0
    for noun in names:
        if noun in out:
            continue
        code = pictures.picture_of(noun)
        if code is not None and code not in taken:
            taken.add(code)
            out[noun] = PICTURE + code
        else:
            out[noun] = PLACEHOLDERS[free % len(PLACEHOLDERS)]
            free += 1
    return out


def placeholder(cls: str, names) -> str:
    """The shape of an open-vocabulary noun among the plan's other nouns (`shapes`); a noun not among
    them gets its picture or a placeholder chosen by its name."""
    names = list(names)
    if cls in names:
        return shapes(names)[cls]
    code = pictures.picture_of(cls)
    return (
        PICTURE + code
        if code
        else PLACEHOLDERS[zlib.crc32(cls.encode("utf-8")) % len(PLACEHOLDERS)]
    )


def is_picture(shape: str) -> bool:
    return shape.startswith(PICTURE)


def glyph_of(cls: str) -> str:
    """The glyph a class (or a placeholder's name) is drawn with."""
    return cls if cls in GLYPHS or is_picture(cls) else PLACEHOLDERS[0]


@lru_cache(maxsize=None)
def bounds(cls: str) -> tuple[float, float, float, float]:
    shape = glyph_of(cls)
    if is_picture(shape):
        return 0.0, 0.0, pictures.aspect(shape[len(PICTURE) :]), 1.0
    pts = [p for prim in GLYPHS[shape] if prim[0] != "H" for p in _points(prim)]
    xs, ys = zip(*pts)
    return min(xs), min(ys), max(xs), max(ys)


def aspect(cls: str) -> float:
    """Width over height of the glyph (or picture) as designed; an unknown noun's is its picture's."""
    if cls not in GLYPHS and not is_picture(cls) and pictures.picture_of(cls):
        return pictures.aspect(pictures.picture_of(cls))
    x0, y0, x1, y1 = bounds(cls)
    return (x1 - x0) / (y1 - y0)


@lru_cache(maxsize=64)
def _word_font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size)


def _write(image: Image.Image, word: str, box, fill: tuple, line: tuple) -> None:
    """The noun written across a placeholder's middle, in its dark shade on a band of its fill colour."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"  # no anti-aliasing: every pixel stays one of the paint's two colours
    size = max(8, min(int(h * 0.28), 40))
    while size > 8 and draw.textlength(word, font=_word_font(size)) > 0.78 * w:
        size -= 1
    font = _word_font(size)
    tx0, ty0, tx1, ty1 = draw.textbbox((0, 0), word, font=font)
    cx, cy = x0 + w / 2, y0 + h / 2
    px, py = cx - (tx1 - tx0) / 2 - tx0, cy - (ty1 - ty0) / 2 - ty0
    pad = max(2, size // 5)
    draw.rectangle([px + tx0 - pad, py + ty0 - pad, px + tx1 + pad, py + ty1 + pad], fill=fill)
    draw.text((px, py), word, font=font, fill=line)


def _render_picture(image: Image.Image, code: str, box, fill: tuple, line: tuple) -> None:
    x0, y0, x1, y1 = box
    ink, lines = pictures.silhouette(code, x1 - x0, y1 - y0)
    region = np.array(image.crop(box))
    region[ink] = fill
    region[lines] = line
    image.paste(Image.fromarray(region), (x0, y0))


def render_glyph(
    image: Image.Image,
    cls: str,
    box: tuple[int, int, int, int],
    fill: tuple,
    line: tuple,
    paper: tuple,
    rng: np.random.Generator,
    jitter: float = 1.0,
    word: str | None = None,
) -> None:
    """Draw the glyph of `cls` filling `box`; vertices wobble (`jitter` scales it), like a hand-drawn stroke.

    A picture is drawn as its silhouette in `fill` with its outline in `line`; a placeholder given
    a `word` writes it across its middle."""
    if is_picture(cls):
        _render_picture(image, cls[len(PICTURE) :], box, fill, line)
        return
    _render_primitives(image, cls, box, fill, line, paper, rng, jitter)
    if word and cls in PLACEHOLDERS:
        _write(image, word, box, fill, line)


def _render_primitives(image, cls, box, fill, line, paper, rng, jitter) -> None:
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
