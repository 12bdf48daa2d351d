"""The pixel inspector: find the objects on a canvas, name them, read their colours and places.

It looks only at pixels. Each pixel is classified by nearest reference colour (paper, a paint's fill
or stroke, marker cell, label ink) through a 32×32×32 lookup table. Object paint is split into
connected blobs; class markers (a strip of teal / pale-cyan cells under each glyph) are decoded
cell by cell, and each marker is paired with the blob that sits right above it. The object's colour
is the majority paint among its blob's fill pixels; its box is the blob's bounding box. Anything
that breaks the code (a smudged marker, a shape with no marker) is reported, not guessed at.

`geneval_satisfied` applies GenEval's rules (`studio.geneval.rules`, the code the benchmark's
checkers use too), so a verdict here means what GenEval would mean by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image

from ..geneval.rules import evaluate
from .draw import BIT_OFF, BIT_ON, LABEL_INK, MARKER_CELLS, MARKER_GAP, PAINTS, PAPER, class_code, decode

PAPER_K, BIT_ON_K, BIT_OFF_K, LABEL_K, FILL_K, STROKE_K = range(6)
COLOR_NAMES = tuple(PAINTS)
MIN_BLOB = 30  # pixels; smaller specks are ignored


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """(kind, colour index) of the nearest reference colour for every 5-bit-per-channel RGB cell."""
    refs = [(PAPER, PAPER_K, -1), (BIT_ON, BIT_ON_K, -1), (BIT_OFF, BIT_OFF_K, -1), (LABEL_INK, LABEL_K, -1)]
    for i, (fill, stroke) in enumerate(PAINTS.values()):
        refs += [(fill, FILL_K, i), (stroke, STROKE_K, i)]
    rgb = np.array([r[0] for r in refs], dtype=np.float32)
    levels = np.arange(32, dtype=np.float32) * 8 + 4
    cells = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    nearest = ((cells[:, None, :] - rgb[None, :, :]) ** 2).sum(-1).argmin(1)
    kinds = np.array([r[1] for r in refs], dtype=np.uint8)[nearest]
    colors = np.array([r[2] for r in refs], dtype=np.int8)[nearest]
    return kinds, colors


def classify(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel kind (PAPER_K, …) and paint index (into COLOR_NAMES, -1 for non-paint)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint16) >> 3
    index = (rgb[..., 0] << 10) | (rgb[..., 1] << 5) | rgb[..., 2]
    kinds, colors = _tables()
    return kinds[index], colors[index]


def _components(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2  # imported here: only the analyser needs it

    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=connectivity)
    return labels, stats  # stats rows: x, y, w, h, area (row 0 is the background)


@dataclass(frozen=True)
class Found:
    """One object read off the canvas."""

    cls: str
    color: str
    box: tuple[int, int, int, int]  # the glyph's blob, x0 y0 x1 y1 (exclusive)
    marker: tuple[int, int, int, int]
    blob: int  # label in Analysis.blobs

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    @property
    def size(self) -> tuple[int, int]:
        return (self.box[2] - self.box[0], self.box[3] - self.box[1])


@dataclass
class Analysis:
    objects: list[Found]
    kinds: np.ndarray  # per-pixel kind
    colors: np.ndarray  # per-pixel paint index
    blobs: np.ndarray  # per-pixel blob label (0 = not paint)
    unmarked: list[tuple[int, int, int, int]] = field(default_factory=list)  # paint with no class marker
    unpaired: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)  # markers with no shape

    def of(self, cls: str, color: str | None = None) -> list[Found]:
        return [o for o in self.objects if o.cls == cls and (color is None or o.color == color)]

    def occupied(self) -> np.ndarray:
        """Pixels anything is drawn on."""
        return self.kinds != PAPER_K


def _read_marker(kinds: np.ndarray, x: int, y: int, w: int, h: int, names: dict[int, str]) -> str | None:
    cy = y + h // 2
    bits = []
    for i in range(MARKER_CELLS):
        cx = x + int((i + 0.5) * w / MARKER_CELLS)
        row = kinds[cy, max(cx - 1, x):cx + 2]
        on, off = int((row == BIT_ON_K).sum()), int((row == BIT_OFF_K).sum())
        if on == off:
            return None
        bits.append(1 if on > off else 0)
    return decode(bits, names)


def analyse(image: Image.Image, names=()) -> Analysis:
    """Read the objects on a canvas. `names`: the open-vocabulary nouns to look for (placeholders)."""
    codes: dict[int, str] = {}
    for name in sorted(names):
        codes.setdefault(class_code(name), name)
    kinds, colors = classify(image)
    paint = (kinds == FILL_K) | (kinds == STROKE_K)
    blobs, blob_stats = _components(paint, 8)
    marks, mark_stats = _components((kinds == BIT_ON_K) | (kinds == BIT_OFF_K), 4)

    markers = []
    for x, y, w, h, area in mark_stats[1:]:
        if h >= 3 and 6 <= w / h <= 14 and area >= 0.85 * w * h:
            cls = _read_marker(kinds, x, y, w, h, codes)
            if cls:
                markers.append((cls, (int(x), int(y), int(x + w), int(y + h))))

    big = [i for i in range(1, len(blob_stats)) if blob_stats[i, 4] >= MIN_BLOB]
    claimed: set[int] = set()
    objects, unpaired = [], []
    for cls, (mx0, my0, mx1, my1) in sorted(markers, key=lambda m: (m[1][1], m[1][0])):
        cx = (mx0 + mx1) / 2
        best, best_area = None, 0
        for i in big:
            x, y, w, h, area = blob_stats[i]
            if i not in claimed and x <= cx < x + w and my0 - 3 * MARKER_GAP <= y + h <= my0 + 1 and area > best_area:
                best, best_area = i, area
        if best is None:
            unpaired.append((cls, (mx0, my0, mx1, my1)))
            continue
        claimed.add(best)
        x, y, w, h, _ = (int(v) for v in blob_stats[best])
        objects.append(Found(cls, _blob_color(blobs, colors, kinds, best, (x, y, x + w, y + h)),
                             (x, y, x + w, y + h), (mx0, my0, mx1, my1), best))
    unmarked = [tuple(int(v) for v in (s[0], s[1], s[0] + s[2], s[1] + s[3]))
                for i, s in enumerate(blob_stats) if i in big and i not in claimed]
    return Analysis(objects, kinds, colors, blobs, unmarked, unpaired)


def _blob_color(blobs, colors, kinds, label, box) -> str:
    """The paint most of the blob's fill pixels have (stroke pixels only when there is no fill)."""
    x0, y0, x1, y1 = box
    inside = blobs[y0:y1, x0:x1] == label
    for kind in (FILL_K, STROKE_K):
        picked = colors[y0:y1, x0:x1][inside & (kinds[y0:y1, x0:x1] == kind)]
        if picked.size:
            return COLOR_NAMES[int(np.bincount(picked, minlength=len(COLOR_NAMES)).argmax())]
    return COLOR_NAMES[0]


# -- GenEval's rules ---------------------------------------------------------------------------

def geneval_satisfied(metadata: dict, objects: list[Found]) -> bool:
    """GenEval's verdict for one image: every `include` entry (count, colour, position), no `exclude` hit.

    Every decoded object counts: no score threshold or 16-per-class cap, as `kept_objects` would apply."""
    by_class: dict[str, list[Found]] = {}
    for o in sorted(objects, key=lambda o: -o.size[0] * o.size[1]):  # GenEval ranks by confidence; we by size
        by_class.setdefault(o.cls, []).append(o)
    return evaluate(metadata, by_class, lambda o, _cls: o.color).correct
