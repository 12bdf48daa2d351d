"""Where a new object goes: a free spot on the canvas that honours its relations, near its kin.

The layout never moves what is already drawn. It reads the occupied pixels of the current canvas,
scores every candidate spot on a coarse grid (free of other cards, inside the region if one is
given, GenEval's direction rule satisfied with a margin, close to its anchor or siblings, a little
seeded randomness) and takes the best. When no free spot satisfies a relation it still returns the
best spot it has — the draft is then wrong, as an incremental draft can be, and inspect will say so.

The relations of contact and depth are drawn against the anchor itself (`attached`): "on" stands
the subject on the anchor's top, touching it; "in" sets it into the anchor, its lower part hidden
by the anchor's front; "behind" slides it under the anchor's side, a little higher, partly covered;
"in front of" draws it over the anchor's side, a little lower; "held by" puts it at the holder's
hand; "worn by" on the wearer (a hat on the head, a scarf or tie at the neck, anything else on the
body). "next to" is a spot beside the anchor, level with it and close.
"""

from __future__ import annotations

import math

import numpy as np

from ...language.rules import POSITION_THRESHOLD
from .draw import SIZE
from .glyphs import aspect

Box = tuple[int, int, int, int]
EDGE = 4  # cards keep this far from the canvas border
GAP = 8  # and this far from each other
STEP = 6  # candidate grid, pixels
SATISFIED = 0.62  # GenEval needs > 0.5; the margin survives a few pixels of wobble


def unit_size(total_instances: int) -> int:
    """A glyph's typical side for a scene of this many objects: big for one, smaller for many."""
    return int(np.clip(230 / math.sqrt(max(total_instances, 1) + 1), 56, 160))


def glyph_size(cls: str, unit: int, rng: np.random.Generator) -> tuple[int, int]:
    """A drawn size that varies as a hand's does: ±20 % in scale, ±8 % in proportion."""
    a = float(np.clip(aspect(cls), 0.5, 2.0)) * rng.uniform(0.92, 1.08)
    k = rng.uniform(0.8, 1.2)
    return max(16, round(unit * math.sqrt(a) * k)), max(16, round(unit / math.sqrt(a) * k))


CONTACT = ("on", "in", "behind", "in front of", "held by", "worn by")  # drawn against the anchor
UNDER = ("behind", "in")  # drawn under the anchor, where it is paper
HEADWEAR = {
    "hat",
    "cap",
    "crown",
    "helmet",
    "beanie",
    "beret",
    "bonnet",
    "top hat",
    "glasses",
    "sunglasses",
}
NECKWEAR = {"scarf", "tie", "necklace", "bow tie", "collar", "medal"}
# Where a holder's hand is, as a share of its box (the person glyph's right hand); other holders: mid side.
HANDS = {"person": (0.88, 0.58)}


def attached(
    relation: str,
    cls: str,
    size: tuple[int, int],
    anchor: Box,
    k: int,
    n: int,
    rng: np.random.Generator,
    anchor_cls: str = "",
    side: int | None = None,
) -> Box:
    """The box of instance k of n of `cls` standing in a contact or depth `relation` to `anchor`
    (`side`: -1 left, 1 right of the anchor for "behind" and "in front of"; by default by `rng`)."""
    ax0, ay0, ax1, ay1 = anchor
    aw, ah = ax1 - ax0, ay1 - ay0
    w, h = size
    slot = ax0 + aw * (k + 0.5) / n  # instances share the anchor's width
    if relation == "on":
        w, h = _fit(w, h, 0.85 * aw / n, 1.2 * ah)
        cx, bottom = slot + rng.uniform(-0.05, 0.05) * aw / n, ay0 + 2
        box = (cx - w / 2, bottom - h, cx + w / 2, bottom)
    elif relation == "in":
        w, h = _fit(w, h, 0.75 * aw / n, 0.9 * ah)
        cx, bottom = slot, ay0 + 0.3 * h
        box = (cx - w / 2, bottom - h, cx + w / 2, bottom)
    elif relation in ("behind", "in front of"):
        w, h = _fit(w, h, 1.2 * aw, 1.2 * ah)
        if side is None:
            side = 1 if (k + int(rng.integers(2))) % 2 else -1
        cx = (ax0 + ax1) / 2 + side * (0.5 * aw + 0.25 * w)
        bottom = ay1 - 0.2 * ah if relation == "behind" else ay1 + 0.12 * h
        box = (cx - w / 2, bottom - h, cx + w / 2, bottom)
    elif relation == "held by":
        w, h = _fit(w, h, 0.6 * aw, 0.45 * ah)
        hx, hy = HANDS.get(anchor_cls, (0.95, 0.5))
        cx, cy = ax0 + hx * aw, ay0 + hy * ah
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    else:  # worn by
        head = cls in HEADWEAR
        if head or cls in NECKWEAR:
            w, h = _fit(w, h, 0.42 * aw, 0.25 * ah)
        else:
            w, h = _fit(w, h, 0.6 * aw, 0.4 * ah)
        cx = (ax0 + ax1) / 2
        cy = ay0 + (0.08 * ah if head else 0.3 * ah if cls in NECKWEAR else 0.45 * ah)
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return _inside(box)


def _fit(w: float, h: float, max_w: float, max_h: float) -> tuple[int, int]:
    k = min(1.0, max_w / max(w, 1), max_h / max(h, 1))
    return max(16, round(w * k)), max(16, round(h * k))


def _inside(box) -> Box:
    """The box moved (not resized) to keep EDGE from the canvas border."""
    x0, y0, x1, y1 = (round(v) for v in box)
    dx = max(EDGE - x0, 0) - max(x1 - (SIZE - EDGE), 0)
    dy = max(EDGE - y0, 0) - max(y1 - (SIZE - EDGE), 0)
    return x0 + dx, y0 + dy, x1 + dx, y1 + dy


def contact_holds(relation: str, box: Box, anchor: Box) -> bool:
    """Whether the boxes stand as `relation` (of CONTACT, or "next to") asks, by geometry alone."""
    bx0, by0, bx1, by1 = box
    ax0, ay0, ax1, ay1 = anchor
    aw, ah, bw, bh = ax1 - ax0, ay1 - ay0, bx1 - bx0, by1 - by0
    cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
    ix = max(0, min(bx1, ax1) - max(bx0, ax0))
    iy = max(0, min(by1, ay1) - max(by0, ay0))
    if relation == "on":
        return ax0 <= cx <= ax1 and ay0 - 16 <= by1 <= ay0 + 0.4 * ah
    if relation == "in":
        return ax0 <= cx <= ax1 and ay0 < by1 <= ay1 + 4 and bw <= 1.1 * aw
    if relation == "behind":
        return ix * iy > 0 and by1 < ay1
    if relation == "in front of":
        return ix * iy > 0 and by1 >= ay1 - 4
    if relation == "held by":
        return ax0 - 0.3 * aw <= cx <= ax1 + 0.3 * aw and ay0 + 0.2 * ah <= cy <= ay1
    if relation == "worn by":
        return ix * iy >= 0.5 * bw * bh
    if relation == "next to":
        gap = max(bx0 - ax1, ax0 - bx1)
        return abs(cy - (ay0 + ay1) / 2) <= 0.5 * max(ah, bh) and -0.2 * min(
            aw, bw
        ) <= gap <= 0.8 * min(aw, bw)
    raise ValueError(relation)


def strength(relation: str, cand: np.ndarray, anchor: Box) -> np.ndarray:
    """How strongly candidate boxes (N×4) stand in `relation` to `anchor`, GenEval's way (> 0.5 holds)."""
    a = np.asarray(anchor, dtype=float)
    offset = (cand[:, :2] + cand[:, 2:]) / 2 - (a[:2] + a[2:]) / 2
    dims = (cand[:, 2:] - cand[:, :2]) + (a[2:] - a[:2])
    revised = np.maximum(np.abs(offset) - POSITION_THRESHOLD * dims, 0) * np.sign(offset)
    unit = revised / np.maximum(np.linalg.norm(offset, axis=1, keepdims=True), 1e-6)
    if relation in ("next to", *CONTACT):  # beside, level and close: 1 at a GAP's distance
        gap = np.maximum(cand[:, 0] - a[2], a[0] - cand[:, 2])
        level = np.abs(offset[:, 1]) / np.maximum(dims[:, 1], 1)
        return 1.0 - np.abs(gap - 2 * GAP) / np.maximum(dims[:, 0] / 2, 1) - level
    return {
        "right of": unit[:, 0],
        "left of": -unit[:, 0],
        "below": unit[:, 1],
        "above": -unit[:, 1],
    }[relation]


def holds(relation: str, box: Box, anchors: list[Box]) -> bool:
    if relation == "next to" or relation in CONTACT:
        return all(contact_holds(relation, box, a) for a in anchors)
    cand = np.asarray([box], dtype=float)
    return all(strength(relation, cand, a)[0] > SATISFIED for a in anchors)


def _integral(mask: np.ndarray) -> np.ndarray:
    out = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int32)
    out[1:, 1:] = mask.astype(np.int32).cumsum(0).cumsum(1)
    return out


def _sums(integral: np.ndarray, rects: np.ndarray) -> np.ndarray:
    h, w = integral.shape[0] - 1, integral.shape[1] - 1
    x0, y0 = np.clip(rects[:, 0], 0, w), np.clip(rects[:, 1], 0, h)
    x1, y1 = np.clip(rects[:, 2], 0, w), np.clip(rects[:, 3], 0, h)
    return integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]


class Space:
    """The canvas's free space: occupied pixels as read, plus the cards placed since."""

    def __init__(
        self,
        occupied: np.ndarray,
        region: np.ndarray | None = None,
        colors: np.ndarray | None = None,
    ):
        self.occupied = _integral(occupied)
        self.outside = None if region is None else _integral(~region)
        self.colors = colors  # per-pixel paint index of what is drawn (-1 paper), for overlaps
        self._same: dict[int, np.ndarray] = {}
        self.cards: list[tuple[Box, int]] = []

    def add(self, card: Box, color: int = -1) -> None:
        self.cards.append((card, color))

    def _same_color(self, color: int) -> np.ndarray:
        if color not in self._same:
            self._same[color] = _integral(self.colors == color)
        return self._same[color]

    def place(
        self,
        cls: str,
        size: tuple[int, int],
        rng: np.random.Generator,
        *,
        relations: list[tuple[str, list[Box]]] = (),
        siblings: list[Box] = (),
        target: tuple[float, float] | None = None,
        overlap: float = 0.0,
        color: int = -1,
    ) -> Box:
        """The best glyph box for one new object of `cls` and `size` (w, h).

        `overlap` > 0 lets the box cover up to that share of its area of objects in *other* colours
        (paint `color`), as a drawing's objects may overlap; same-coloured ones are never touched.
        """
        w, h = size
        xs = np.arange(EDGE, SIZE - EDGE - w + 1, STEP)
        ys = np.arange(EDGE, SIZE - EDGE - h + 1, STEP)
        if not len(xs) or not len(ys):
            xs, ys = np.array([EDGE]), np.array([EDGE])
        gx, gy = (g.ravel() for g in np.meshgrid(xs, ys))
        glyphs = np.stack([gx, gy, gx + w, gy + h], 1).astype(float)
        cards = glyphs.astype(int)
        gap = GAP if overlap <= 0 else 0  # an overlap is measured on the whole card, not inside it
        padded = cards + np.array([-gap, -gap, gap, gap])
        area = (cards[:, 2] - cards[:, 0]) * (cards[:, 3] - cards[:, 1])

        clash = _sums(self.occupied, padded).astype(float)
        same = (
            _sums(self._same_color(color), cards + np.array([-GAP, -GAP, GAP, GAP])).astype(float)
            if overlap > 0 and self.colors is not None and color >= 0
            else np.zeros(len(cards))
        )
        strict = cards + np.array([-GAP, -GAP, GAP, GAP])
        for c, c_color in self.cards:
            mine = overlap > 0 and c_color == color
            pad = strict if mine else padded
            ix = np.clip(np.minimum(pad[:, 2], c[2]) - np.maximum(pad[:, 0], c[0]), 0, None)
            iy = np.clip(np.minimum(pad[:, 3], c[3]) - np.maximum(pad[:, 1], c[1]), 0, None)
            if mine:
                same += ix * iy
            else:
                clash += ix * iy
        if overlap > 0:  # tuck the object partly behind or over another one, as drawings do
            score = -1000.0 * ((same > 0) | (clash > overlap * area)) + 60.0 * np.minimum(
                clash / area, overlap
            )
        else:
            score = -1000.0 * (clash > 0) - 100.0 * clash / area
        if self.outside is not None:
            score -= 500.0 * (_sums(self.outside, cards) > 0)

        centers = (glyphs[:, :2] + glyphs[:, 2:]) / 2
        near = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in siblings]
        for relation, anchors in relations:
            worst = np.min([strength(relation, glyphs, a) for a in anchors], axis=0)
            score += 200.0 * (worst > SATISFIED) + 40.0 * worst
            near += [((a[0] + a[2]) / 2, (a[1] + a[3]) / 2) for a in anchors]
        if near:
            dist = np.min([np.hypot(*(centers - p).T) for p in near], axis=0)
            score -= 80.0 * dist / SIZE
        elif target is not None:
            score -= 60.0 * np.hypot(*(centers - np.asarray(target)).T) / SIZE
        score += rng.uniform(0, 6, len(score))
        x0, y0, x1, y1 = glyphs[int(np.argmax(score))]
        return int(x0), int(y0), int(x1), int(y1)
