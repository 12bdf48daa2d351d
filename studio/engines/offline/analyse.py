"""The pixel inspector: find the objects on a canvas and recognise them by shape and colour.

It sees what a viewer sees: paint on paper, no markers or labels. Each pixel is classified by
nearest reference colour (paper, or a paint's fill or stroke) through a 32×32×32 lookup table.
Paint is split into connected shapes (where shapes of different fill colours overlap, by colour);
each shape is one object candidate. Its colour is its fill's; its class is the glyph whose
silhouette and inner strokes it resembles most:
the shape's mask and its dark-detail mask, each resampled to a 20×20 grid of its bounding box,
and the box's aspect ratio, compared with templates rendered from every glyph (scale-free, so a
small or squashed drawing is still read). A shape that matches no glyph whole but lies against other
paint is compared once more with the parts under that paint left out (`_behind`), as a viewer reads
a horse behind a train. A shape that resembles nothing well enough — two objects of one colour
drawn overlapping, a smudge, a cut with nothing over it — is reported as unrecognised, not guessed at.

Objects the engine has no glyph for are drawn as placeholders (`glyphs.placeholder`); the caller
says which nouns to look for (`names`, in the order the painter used) and the placeholder's frame
says which of them it is. `bench/offline_recognition.py` measures all of this against the
painter's own record of what it drew.

`geneval_satisfied` applies GenEval's rules (`studio.language.rules`, the code the benchmark's
checkers use too), so a verdict here means what GenEval would mean by it.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image

from ...language.rules import evaluate
from .draw import HALO, PAINTS, PAPER
from .glyphs import GLYPHS, PLACEHOLDERS, aspect, is_picture, render_glyph, shapes

PAPER_K, FILL_K, STROKE_K = range(3)
COLOR_NAMES = tuple(PAINTS)
MIN_BLOB = 60  # pixels; smaller specks are ignored
MIN_SIDE = 4  # pixels; a shape thinner than this is a stroke's fragment, never an object
GRID = 20  # a shape's masks are compared on a GRID × GRID resampling of its bounding box
# weight of the log aspect ratio against the two mask differences (each a mean in [0, 1])
ASPECT_WEIGHT = 0.5
MAX_DISTANCE = 0.30  # beyond this a shape is not recognised (glyphs drawn alone score below 0.12)
# a fill colour with at least this share of a shape's fill is an object of its own
OWN_OBJECT_SHARE = 0.15
CLOSE_PX = 2  # paint parts this close are one shape (a wobbly stroke leaves gaps of a pixel or two)
TEMPLATE_SIDE = 110  # pixels: the side of a square template; other aspects keep its area
TEMPLATE_ASPECTS = (0.5, 2.0)  # the widest and the tallest aspect a template is drawn at
TEMPLATE_WOBBLES = 2  # templates per glyph, each with another seed for the painter's wobble
# A shape against other paint may be an object partly under it (`_behind`): how far its glyph may
# go on under that paint, per side, as a share of the shape's size; how much must stay in view.
HIDDEN_REACH = (0.0, 0.25, 0.5)
MIN_IN_VIEW = 0.6  # share of the glyph's paint
MIN_COVERED_SIDE = 20  # pixels; a smaller fragment is never read as a covered object
MAX_COVERED_READS = 8  # shapes a canvas tried as covered (a photo has hundreds of shapes)


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """(kind, colour index) of the nearest reference colour for every 5-bit-per-channel RGB cell."""
    refs = [(PAPER, PAPER_K, -1)]
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
    """Per-pixel kind (PAPER_K, FILL_K, STROKE_K) and paint index (into COLOR_NAMES, -1 for paper)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint16) >> 3
    index = (rgb[..., 0] << 10) | (rgb[..., 1] << 5) | rgb[..., 2]
    kinds, colors = _tables()
    return kinds[index], colors[index]


def _describe(mask: np.ndarray, detail: np.ndarray) -> np.ndarray:
    """Scale-free shape descriptor: mask grid, detail grid, log aspect ratio."""
    import cv2  # imported here: only the analyser needs it

    h, w = mask.shape
    grid = [
        cv2.resize(m.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA).ravel()
        for m in (mask, detail)
    ]
    return np.concatenate([*grid, [np.log(w / h)]])


def _score(descriptors: np.ndarray, one: np.ndarray) -> np.ndarray:
    n = GRID * GRID
    return (
        np.abs(descriptors[:, :n] - one[:n]).mean(1)
        + np.abs(descriptors[:, n : 2 * n] - one[n : 2 * n]).mean(1)
        + ASPECT_WEIGHT * np.abs(descriptors[:, -1] - one[-1])
    )


@lru_cache(maxsize=1)
def templates() -> tuple[tuple[str, ...], np.ndarray]:
    """Every glyph rendered at two wobbles, as descriptors (≈0.3 s once per process)."""
    names, rows = [], []
    fill, line = PAINTS["red"]
    for shape in GLYPHS:
        a = float(np.clip(aspect(shape), *TEMPLATE_ASPECTS))
        w, h = round(TEMPLATE_SIDE * np.sqrt(a)), round(TEMPLATE_SIDE / np.sqrt(a))
        for seed in range(TEMPLATE_WOBBLES):
            canvas = Image.new("RGB", (w + 8, h + 8), PAPER)
            render_glyph(
                canvas, shape, (4, 4, 4 + w, 4 + h), fill, line, PAPER, np.random.default_rng(seed)
            )
            kinds, _ = classify(canvas)
            ys, xs = np.nonzero(kinds != PAPER_K)
            crop = kinds[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
            names.append(shape)
            rows.append(_describe(crop != PAPER_K, crop == STROKE_K))
    return tuple(names), np.stack(rows)


@lru_cache(maxsize=1024)
def _picture_template(shape: str) -> np.ndarray:
    """One picture (`glyphs.PICTURE` shape) drawn as the painter draws it, as a descriptor row."""
    a = float(np.clip(aspect(shape), *TEMPLATE_ASPECTS))
    w, h = round(TEMPLATE_SIDE * np.sqrt(a)), round(TEMPLATE_SIDE / np.sqrt(a))
    fill, line = PAINTS["red"]
    canvas = Image.new("RGB", (w + 8, h + 8), PAPER)
    render_glyph(canvas, shape, (4, 4, 4 + w, 4 + h), fill, line, PAPER, np.random.default_rng(0))
    kinds, _ = classify(canvas)
    ys, xs = np.nonzero(kinds != PAPER_K)
    crop = kinds[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return _describe(crop != PAPER_K, crop == STROKE_K)


def _candidates(pictures: list[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """The glyph templates plus those of the pictures being looked for."""
    names, rows = templates()
    if not pictures:
        return names, rows
    return names + tuple(pictures), np.concatenate([rows, [_picture_template(p) for p in pictures]])


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels, stats  # stats rows: x, y, w, h, area (row 0 is the background)


@dataclass(frozen=True)
class Found:
    """One object read off the canvas."""

    cls: str
    color: str
    box: tuple[int, int, int, int]  # the shape's bounding box, x0 y0 x1 y1 (exclusive)
    blob: int  # label in Analysis.blobs
    shape: str = ""  # the glyph it was recognised as (a class, or a placeholder)
    distance: float = 0.0  # how far from that glyph's templates (0 = identical)
    # partly hidden under other objects (read from the parts in view; `box` reaches on under them)
    covered: bool = False

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
    blobs: np.ndarray  # per-pixel shape label (0 = paper)
    # paint that matches no glyph
    unrecognised: list[tuple[int, int, int, int]] = field(default_factory=list)

    def of(self, cls: str, color: str | None = None) -> list[Found]:
        return [o for o in self.objects if o.cls == cls and (color is None or o.color == color)]

    def occupied(self) -> np.ndarray:
        """Pixels anything is drawn on."""
        return self.kinds != PAPER_K

    def _mask(self, o: Found) -> np.ndarray:
        return self.blobs == o.blob

    def touching(self, a: Found, b: Found) -> bool:
        """Whether the two shapes meet: nothing but the painter's paper gap (HALO) between them."""
        return _gap_between(self._mask(a), self._mask(b)) is not None

    def in_front(self, a: Found, b: Found) -> bool | None:
        """Whether `a` is drawn over `b` (True), under it (False), or the pixels do not say (None).

        Where two shapes meet, the one in front keeps its whole outline (its dark shade) along the
        gap, and the one behind is cut there: its fill runs up to the gap with no outline."""
        ma, mb = self._mask(a), self._mask(b)
        gap = _gap_between(ma, mb)
        if gap is None:
            return None
        cut_a, cut_b = self._cut(ma, gap), self._cut(mb, gap)
        if abs(cut_a - cut_b) < 0.15:
            return None
        return cut_b > cut_a

    def _cut(self, mask: np.ndarray, gap: np.ndarray) -> float:
        edge = gap & mask
        return float((self.kinds[edge] == FILL_K).mean()) if edge.any() else 0.0

    def reads(self, relation: str, a: Found, b: Found) -> bool:
        """Whether the pixels show `a` in `relation` to `b`, for the relations GenEval does not score:
        the boxes' geometry (`layout.contact_holds`) and, for contact and depth, what the pixels add
        (on: the shapes meet; behind / in front of / in: which one covers the other, where the
        outlines show it; where they do not, the geometry alone). GenEval's four: its own rule."""
        from .layout import contact_holds, holds

        if relation in ("left of", "right of", "above", "below"):
            return holds(relation, a.box, [b.box])
        if not contact_holds(relation, a.box, b.box):
            return False
        if relation in ("on", "held by", "worn by"):
            return self.touching(a, b)
        front = self.in_front(a, b)
        if relation in ("behind", "in"):
            return front is False or (front is None and not b.covered)
        if relation == "in front of":
            return front is True or (front is None and not a.covered)
        return True


def analyse(image: Image.Image, names=()) -> Analysis:
    """Read the objects on a canvas. `names`: the open-vocabulary nouns to look for, in the painter's order."""
    by_shape: dict[str, str] = {}
    for name, shape in shapes(list(names)).items():
        by_shape.setdefault(shape, name)
    pictures = [s for s in by_shape if is_picture(s)]
    by_placeholder = {s: n for s, n in by_shape.items() if s in PLACEHOLDERS}
    kinds, colors = classify(image)
    paint = kinds != PAPER_K
    blobs = np.zeros(kinds.shape, dtype=np.int32)
    glyphs, descriptors = _candidates(pictures)
    found, unrecognised = [], []
    labels, stats = _components(_close(paint))
    tries = 0  # shapes tried as partly covered

    def read(part: np.ndarray, x: int, y: int):
        """(box, mask, glyph, distance) of one candidate shape at offset (x, y)."""
        ys, xs = np.nonzero(part)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        mine = part[y0:y1, x0:x1]
        box = (x + int(x0), y + int(y0), x + int(x1), y + int(y1))
        detail = mine & (kinds[box[1] : box[3], box[0] : box[2]] == STROKE_K)
        distances = _score(descriptors, _describe(mine, detail))
        best = int(distances.argmin())
        return box, mine, glyphs[best], float(distances[best])

    for i in range(1, len(stats)):
        x, y, w, h, _ = (int(v) for v in stats[i])
        shape = (labels[y : y + h, x : x + w] == i) & paint[y : y + h, x : x + w]
        if shape.sum() < MIN_BLOB:
            continue
        whole = read(shape, x, y)
        parts = _by_paint(shape, kinds[y : y + h, x : x + w], colors[y : y + h, x : x + w])
        split = (
            [(c, read(p, x, y)) for c, p in parts if p.sum() >= MIN_BLOB] if len(parts) > 1 else []
        )
        if split and all(r[3] <= MAX_DISTANCE for _, r in split):  # a hat on a head: two objects
            candidates = split
        elif whole[3] <= MAX_DISTANCE or len(parts) == 1:  # one object (perhaps partly repainted)
            candidates = [
                (
                    parts[0][0]
                    if len(parts) == 1
                    else _fill_color(
                        shape, kinds[y : y + h, x : x + w], colors[y : y + h, x : x + w]
                    ),
                    whole,
                )
            ]
        else:  # objects of different colours drawn overlapping: read each colour on its own
            candidates = split
        for color, (box, mine, glyph, distance) in candidates:
            covered = None
            label = len(found) + len(unrecognised) + 1
            blobs[box[1] : box[3], box[0] : box[2]][mine] = label
            if (
                distance > MAX_DISTANCE
                and min(box[2] - box[0], box[3] - box[1]) >= MIN_COVERED_SIDE
                and mine.sum() >= 4 * MIN_BLOB
                and tries < MAX_COVERED_READS
                and _touches_other_paint(box, mine, paint)
            ):
                tries += 1
                # partly hidden?
                covered = _behind(box, mine, kinds, paint, by_placeholder, (glyphs, descriptors))
                if covered is not None:
                    glyph, distance, whole_box = covered
            if distance > MAX_DISTANCE or min(box[2] - box[0], box[3] - box[1]) < MIN_SIDE:
                unrecognised.append(box)
                continue
            cls = by_shape.get(glyph) or (
                f"unknown object ({glyph})" if glyph in PLACEHOLDERS else glyph
            )
            if covered is not None:  # where it goes on under the others, as the viewer sees it
                found.append(
                    Found(
                        cls, COLOR_NAMES[color], whole_box, label, glyph, round(distance, 3), True
                    )
                )
            else:
                found.append(Found(cls, COLOR_NAMES[color], box, label, glyph, round(distance, 3)))
    found.sort(key=lambda o: (o.box[1], o.box[0]))
    analysis = Analysis(found, kinds, colors, blobs, unrecognised)
    analysis.objects = [_mark_covered(analysis, o) for o in found]
    return analysis


def _mark_covered(analysis: "Analysis", o: Found) -> Found:
    """The object, marked covered when another one is drawn over it (read from their outlines)."""
    if o.covered:
        return o
    for other in analysis.objects:
        b, c = o.box, other.box
        if (
            other is o
            or b[0] > c[2] + HALO
            or c[0] > b[2] + HALO
            or b[1] > c[3] + HALO
            or c[1] > b[3] + HALO
        ):
            continue
        if analysis.in_front(other, o) is True:
            return dataclasses.replace(o, covered=True)
    return o


def _gap_between(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Where two shapes meet (each within the painter's gap, HALO, of the other), else None."""
    import cv2

    reach = np.ones((HALO + 4,) * 2, np.uint8)
    near_a = cv2.dilate(a.astype(np.uint8), reach) > 0
    near_b = cv2.dilate(b.astype(np.uint8), reach) > 0
    both = near_a & near_b
    return both if both.any() else None


def _touches_other_paint(box, mine: np.ndarray, paint: np.ndarray) -> bool:
    """Whether other paint lies against the shape (within CLOSE_PX + 1 pixels): only then can it be covered."""
    import cv2

    x0, y0, x1, y1 = box
    pad = HALO + 2  # the painter keeps a HALO of paper between an object and what it covers
    wx0, wy0 = max(0, x0 - pad), max(0, y0 - pad)
    wx1, wy1 = min(paint.shape[1], x1 + pad), min(paint.shape[0], y1 + pad)
    own = np.zeros((wy1 - wy0, wx1 - wx0), dtype=np.uint8)
    own[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0] = mine
    near = cv2.dilate(own, np.ones((2 * pad + 1, 2 * pad + 1), np.uint8)) > 0
    return bool((near & paint[wy0:wy1, wx0:wx1] & (own == 0)).any())


def _behind(
    box, mine: np.ndarray, kinds: np.ndarray, paint: np.ndarray, placeholders: dict, candidates
):
    """(glyph, distance, box) of a shape that matches no glyph whole but one glyph partly covered by
    other paint, as a viewer reads a cat behind a chair; None when none fits. The glyph's box (the
    one returned) may reach on under the covering paint and the paper gap around it; only the parts
    in view are compared, and most of the glyph must be. Placeholders are candidates only for the
    nouns being looked for (`placeholders`)."""
    import cv2

    shapes, descriptors = candidates
    n = GRID * GRID
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    own = np.zeros(paint.shape, dtype=bool)
    own[y0:y1, x0:x1] = mine
    others = (paint & ~own).astype(np.uint8)
    near_others = cv2.dilate(others, np.ones((2 * HALO + 3,) * 2, np.uint8)) > 0
    detail, hidden = own & (kinds == STROKE_K), near_others & ~own
    glyphs, glyph_lines = descriptors[:, :n], descriptors[:, n : 2 * n]
    ruled_out = np.array([g in PLACEHOLDERS and g not in placeholders for g in shapes])
    best: tuple[float, int] | None = None
    for left, right, top, bottom in itertools.product(HIDDEN_REACH, repeat=4):
        bx0, by0 = max(0, round(x0 - left * w)), max(0, round(y0 - top * h))
        bx1, by1 = (
            min(paint.shape[1], round(x1 + right * w)),
            min(paint.shape[0], round(y1 + bottom * h)),
        )
        window = (slice(by0, by1), slice(bx0, bx1))
        mask, lines, under = (
            cv2.resize(
                m[window].astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA
            ).ravel()
            for m in (own, detail, hidden)
        )
        in_view = 1.0 - under
        if in_view.sum() < 1:
            continue
        seen = (glyphs * in_view).sum(1) / np.maximum(glyphs.sum(1), 1e-6)
        differ = np.abs(glyphs - mask) + np.abs(glyph_lines - lines)
        score = (differ * in_view).sum(1) / in_view.sum() + ASPECT_WEIGHT * np.abs(
            descriptors[:, -1] - np.log((bx1 - bx0) / (by1 - by0))
        )
        score[(seen < MIN_IN_VIEW) | ruled_out] = np.inf
        k = int(score.argmin())
        if best is None or score[k] < best[0]:
            best = (float(score[k]), k, (bx0, by0, bx1, by1))
    if best is None or best[0] > MAX_DISTANCE:
        return None
    return shapes[best[1]], best[0], best[2]


def _fill_color(shape: np.ndarray, kinds: np.ndarray, colors: np.ndarray) -> int:
    """The paint most of a shape's fill pixels have (its stroke's when it has no fill)."""
    fills = colors[shape & (kinds == FILL_K)]
    return int(
        np.bincount(fills if fills.size else colors[shape], minlength=len(COLOR_NAMES)).argmax()
    )


def _close(mask: np.ndarray) -> np.ndarray:
    """The paint mask grown by CLOSE_PX pixels, so a glyph part a wobbly stroke left just apart stays with it."""
    import cv2

    side = 2 * CLOSE_PX + 1
    return cv2.dilate(mask.astype(np.uint8), np.ones((side, side), np.uint8)) > 0


def _by_paint(shape: np.ndarray, kinds: np.ndarray, colors: np.ndarray):
    """One connected shape as (paint, pixels) objects: itself, or one per fill colour where objects of
    different colours overlap. A shape's colour is its fill's (a repainted body keeps its old outline)."""
    fills = np.bincount(colors[shape & (kinds == FILL_K)], minlength=len(COLOR_NAMES))
    major = [
        c for c in np.argsort(-fills) if fills[c] >= max(MIN_BLOB, OWN_OBJECT_SHARE * fills.sum())
    ]
    if len(major) <= 1:
        return [(_fill_color(shape, kinds, colors), shape)]
    parts = []
    for c in major:
        labels, stats = _components(shape & (colors == c))
        parts += [(int(c), labels == k) for k in range(1, len(stats))]
    return parts


# -- GenEval's rules ---------------------------------------------------------------------------


def geneval_satisfied(metadata: dict, objects: list[Found]) -> bool:
    """GenEval's verdict for one image: every `include` entry (count, colour, position), no `exclude` hit.

    Every recognised object counts: no score threshold or 16-per-class cap, as `kept_objects` would apply."""
    by_class: dict[str, list[Found]] = {}
    # GenEval ranks by confidence; we by size
    for o in sorted(objects, key=lambda o: -o.size[0] * o.size[1]):
        by_class.setdefault(o.cls, []).append(o)
    return evaluate(metadata, by_class, lambda o, _cls: o.color).correct
