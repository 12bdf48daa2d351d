"""The hand: draws planned groups onto the canvas (with draft mistakes) and carries out refines on it.

Draft mistakes are what make inspect and refine real work. Each new group, independently, and
seeded by the stage's seed (`DraftNoise`, tunable through the session's engine params):

- `relation` (0.30): a group placed relative to another ignores the relation (it may still land
  on the right side by chance, or the canvas may leave no room there);
- `count` (0.06 + 0.08 per instance beyond the first): one instance missing or one extra;
- `color` (0.20, groups with a colour): one instance, or all, in a confusable colour.

`draft_noise` scales all three (0 gives clean drafts); `noise_relation`, `noise_count`,
`noise_color` set one rate each. A refine redraws with the same mistakes at half the rate.

Edits (recolour, remove, add, count, move) work on what the analyser sees on the canvas, as a
person's words name what they see; a model's own edit may go wrong the way a draft does, a
person's is carried out exactly. Erasing paints paper over an object's own pixels and draws back
what it covered of the objects under it (the ledger says which, in drawing order).

Example::

    sketch = Painter(blank(), 120, np.random.default_rng(0), DraftNoise())
    sketch.draw_groups(parse_prompt("a red apple left of a blue cup"), [0, 1])
    refine = Painter(sketch.image, 120, np.random.default_rng(1), DraftNoise(), ledger=sketch.ledger)
    refine.apply(parse_edit("make the cup green"), by_person=True)  # finds the cup in the pixels
    refine.image, refine.ledger  # the new canvas; what it holds (class, colour, box)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

from ...core.domain import StudioError
from ...language import Edit, ObjectGroup, SceneGraph
from ...language.scene import CLASSES, OPPOSITE
from .analyse import COLOR_NAMES, FILL_K, PAPER_K, STROKE_K, Found, analyse
from .draw import HALO, PAINTS, PAPER, SIZE, blank, card_box, default_color, draw_object
from .glyphs import PLACEHOLDERS, shapes
from .layout import CONTACT, UNDER, Space, attached, glyph_size, holds

OnStroke = Callable[[str, Image.Image], None]

CONFUSABLE = {
    "red": ("orange", "pink", "purple"),
    "orange": ("yellow", "red", "brown"),
    "yellow": ("orange", "green", "white"),
    "green": ("yellow", "blue"),
    "blue": ("purple", "green"),
    "purple": ("blue", "pink"),
    "pink": ("red", "purple", "white"),
    "brown": ("orange", "black", "red"),
    "black": ("brown", "blue", "gray"),
    "white": ("yellow", "pink", "gray"),
}


def wrong_color(color: str, rng: np.random.Generator) -> str:
    """A colour a hurried hand might paint instead of `color` (one of CONFUSABLE's)."""
    options = CONFUSABLE.get(color, ("red", "blue"))
    return options[int(rng.integers(len(options)))]


def center_target(rng: np.random.Generator, spread: float) -> tuple[float, float]:
    """A point near the canvas's centre (normal, `spread` pixels), kept 60 pixels off the edges."""
    return tuple(np.clip(SIZE / 2 + rng.normal(0, spread, 2), 60, SIZE - 60))


@dataclass(frozen=True)
class DraftNoise:
    """How often a draft goes wrong, per new group (the rates of the module docstring)."""

    relation: float = 0.30
    count: float = 0.06
    count_step: float = 0.08
    color: float = 0.20
    overlap: float = 0.25  # share of objects allowed to overlap objects of other colours (by up to 15 % of their card)

    @classmethod
    def from_params(cls, params: dict) -> "DraftNoise":
        scale = float(params.get("draft_noise", 1.0))
        base = cls()
        return cls(
            float(params.get("noise_relation", base.relation * scale)),
            float(params.get("noise_count", base.count * scale)),
            base.count_step * scale,
            float(params.get("noise_color", base.color * scale)),
            float(params.get("noise_overlap", base.overlap * scale)),
        )

    def scaled(self, k: float) -> "DraftNoise":
        return DraftNoise(
            self.relation * k, self.count * k, self.count_step * k, self.color * k, self.overlap * k
        )


def _lookahead(scene: SceneGraph, i: int, later: set[int], rng) -> tuple[float, float]:
    """Where an anchor should go so the groups planned against it in this same drawing have room."""
    x, y = center_target(rng, 30)
    for r in scene.relations:
        if r.anchor == i and r.subject in later:
            dx, dy = {
                "right of": (-1, 0),
                "left of": (1, 0),
                "below": (0, -1),
                "above": (0, 1),
                "on": (0, 0.6),
                "in": (0, 0.3),
                "next to": (-1, 0),
            }.get(r.relation, (0, 0))
            x, y = x + dx * 0.22 * SIZE, y + dy * 0.22 * SIZE
    return x, y


class Painter:
    """One stage's drawing session on one canvas: what is there (from pixels), what gets added or changed."""

    def __init__(
        self,
        base: Image.Image,
        unit: int,
        rng: np.random.Generator,
        noise: DraftNoise,
        region: np.ndarray | None = None,
        progress: OnStroke | None = None,
        names=(),
        ledger=(),
    ):
        self.image = base.convert("RGB").copy()
        # open-vocabulary nouns the canvas may show as placeholders, in order
        self.names = list(names)
        self.analysis = analyse(self.image, self.names)
        self.unit, self.rng, self.noise, self.region = unit, rng, noise, region
        self.space = self._space()
        self.progress = progress or (lambda message, preview: None)
        self.mistakes: list[str] = []  # the sketcher's own notes; the inspector never reads them
        self.drawn: list[dict] = []
        # What the canvas holds as the painter knows it (class, colour, box of every object drawn and not
        # erased since): ground truth for benchmarks, carried from image to image; the inspector never reads it.
        self.ledger: list[dict] = [dict(x) for x in ledger]

    def _space(self) -> Space:
        return Space(self.analysis.occupied(), self.region, self.analysis.colors)

    def shape(self, cls: str) -> str:
        """The glyph `cls` is drawn with: its own, its picture, or its placeholder among the plan's other nouns."""
        if cls in CLASSES:
            return cls
        if cls not in self.names:
            self.names.append(cls)
        by_noun = shapes(self.names)
        framed = [n for n in self.names if by_noun[n] in PLACEHOLDERS]
        # it would share a frame with another noun: never seen apart
        if cls in framed and framed.index(cls) >= len(PLACEHOLDERS):
            taken = ", ".join(framed[: len(PLACEHOLDERS)])
            raise StudioError(
                f"The offline sketch engine has no picture for {cls}, and its {len(PLACEHOLDERS)} "
                f"placeholders are taken ({taken}); plan fewer objects it has no picture for."
            )
        return by_noun[cls]

    def _draw(
        self, image, entry: dict, rng, jitter: float, behind: bool = False, knockout: bool = False
    ) -> np.ndarray:
        shape = self.shape(entry["class"])
        word = entry["class"] if shape in PLACEHOLDERS else None
        box = tuple(entry["box"])
        return draw_object(
            image,
            shape,
            entry["color"],
            box,
            rng,
            jitter,
            word=word,
            behind=behind,
            knockout=knockout,
        )

    def _stroke(
        self,
        cls: str,
        color: str,
        box: tuple[int, int, int, int],
        behind: bool = False,
        knockout: bool = False,
    ) -> None:
        entry = {"class": cls, "color": color, "box": list(box)}
        jitter = float(self.rng.uniform(0.6, 1.8))
        self._draw(self.image, entry, self.rng, jitter, behind, knockout)
        self.space.add(card_box(box, cls), COLOR_NAMES.index(color))
        self.drawn.append(dict(entry))
        if behind:  # under what was there: the ledger keeps drawing order, so it goes before them
            self.ledger.insert(self._first_under(box), entry)
        else:
            self.ledger.append(entry)
        self.progress(f"drew {'an' if cls[0] in 'aeiou' else 'a'} {color} {cls}", self.image)

    def _against(self, relation, cls, wh, anchor, slot, share):
        """`attached`'s box; for depth, on the side of the anchor that hides least of its paint (a
        violin covered at its body would read as a bat)."""
        anchor_cls = self._class_at(anchor)
        if relation not in ("behind", "in front of"):
            return attached(relation, cls, wh, anchor, slot, share, self.rng, anchor_cls)
        paint = np.any(np.asarray(self.image) != PAPER, axis=-1)
        x0, y0, x1, y1 = anchor
        options = []
        for side in (-1, 1):
            box = attached(relation, cls, wh, anchor, slot, share, self.rng, anchor_cls, side)
            ix0, iy0 = max(box[0], x0) - HALO, max(box[1], y0) - HALO
            ix1, iy1 = min(box[2], x1) + HALO, min(box[3], y1) + HALO
            hidden = paint[max(iy0, 0) : max(iy1, 0), max(ix0, 0) : max(ix1, 0)].sum()
            options.append((int(hidden), side, box))
        return min(options)[2]

    def _class_at(self, box) -> str:
        """The class of the object drawn in `box` (as read from the canvas, else as just drawn)."""
        for o in self.analysis.objects:
            if tuple(o.box) == tuple(box):
                return o.cls
        return next((d["class"] for d in self.drawn if tuple(d["box"]) == tuple(box)), "")

    def _first_under(self, box) -> int:
        """Where in the ledger (drawing order) an object slid under the others goes: before the first it meets."""
        for k, e in enumerate(self.ledger):
            b = e["box"]
            if (
                b[0] < box[2] + HALO
                and b[2] > box[0] - HALO
                and b[1] < box[3] + HALO
                and b[3] > box[1] - HALO
            ):
                return k
        return len(self.ledger)

    def place(
        self,
        cls: str,
        color: str,
        n: int,
        relations=(),
        siblings=(),
        target=None,
        size: tuple[int, int] | None = None,
    ) -> list[tuple[int, int, int, int]]:
        boxes: list[tuple[int, int, int, int]] = []
        contact = next(((r, a) for r, a in relations if r in CONTACT), None)
        for k in range(n):
            wh = size or glyph_size(cls, self.unit, self.rng)
            if contact is not None:  # drawn against its anchor, over it or under it
                relation, anchors = contact
                anchor = anchors[(len(siblings) + k) % len(anchors)]
                share = max(1, -(-(len(siblings) + n) // len(anchors)))
                slot = (len(siblings) + k) // len(anchors)
                box = self._against(relation, cls, wh, anchor, slot, share)
                knockout = relation in ("worn by", "held by")
                self._stroke(cls, color, box, behind=relation in UNDER, knockout=knockout)
                boxes.append(box)
                continue
            overlap = 0.15 if self.rng.random() < self.noise.overlap else 0.0
            box = self.space.place(
                cls,
                wh,
                self.rng,
                relations=relations,
                siblings=[*siblings, *boxes],
                target=target,
                overlap=overlap,
                color=COLOR_NAMES.index(color),
            )
            self._stroke(cls, color, box)
            boxes.append(box)
        return boxes

    # -- sketch ---------------------------------------------------------------------------------

    def draw_groups(self, scene: SceneGraph, todo: list[int]) -> None:
        """Draw the groups `todo` of `scene`, anchors first, with seeded draft mistakes.

        Anchors drawn in the same call leave room for the groups placed against them; across
        rounds there is no such foresight (a later round may find no room, as a real draft can).
        """
        boxes: dict[int, list] = {}
        order = [i for i in scene.plan_order() if i in todo]
        for k, i in enumerate(order):
            g = scene.groups[i]
            count, color = g.count, g.color or default_color(g.cls)
            if self.rng.random() < self.noise.count + self.noise.count_step * (g.count - 1):
                count += 1 if self.rng.random() < 0.5 else -1
                self.mistakes.append(f"drew {count} of {g.count} {g.cls}")
            colors = [color] * count
            if g.color and count and self.rng.random() < self.noise.color:
                wrong = wrong_color(g.color, self.rng)
                colors = [wrong] * count if self.rng.random() < 0.5 else [wrong] + colors[1:]
                self.mistakes.append(f"drew {g.cls} {wrong} instead of {g.color}")
            relations = []
            for r in scene.relations:
                if r.subject == i:
                    anchors = boxes.get(r.anchor) or [
                        o.box for o in self.analysis.of(scene.groups[r.anchor].cls)
                    ]
                    if anchors:
                        relations.append((r.relation, anchors))
            target = _lookahead(scene, i, set(order[k + 1 :]), self.rng)
            if relations and self.rng.random() < self.noise.relation:
                relations, target = [], tuple(self.rng.uniform(80, SIZE - 80, 2))  # anywhere at all
                self.mistakes.append(f"ignored where the {g.cls} goes")
            boxes[i] = []
            for c in colors:
                boxes[i] += self.place(g.cls, c, 1, relations, siblings=boxes[i], target=target)

    def result(self, base: Image.Image) -> Image.Image:
        """The new canvas; with a region, pixels outside it are the base's, byte for byte."""
        if self.region is None:
            return self.image
        mask = Image.fromarray(self.region.astype(np.uint8) * 255)
        return Image.composite(self.image, base.convert("RGB"), mask)

    # -- edits ----------------------------------------------------------------------------------

    def targets(self, group: ObjectGroup, by_person: bool) -> list[Found]:
        """The objects an edit names; a person naming something not drawn is told so."""
        found = self.analysis.of(group.cls, group.color) or self.analysis.of(group.cls)
        if not found and by_person:
            have = ", ".join(sorted({o.cls for o in self.analysis.objects})) or "nothing yet"
            raise StudioError(
                f"There is no {group.cls} on the canvas to change (it shows: {have}). "
                'Name an object that is drawn, e.g. "make the cup blue".'
            )
        return found

    def _repaint(self, pixels: np.ndarray) -> None:
        self.image = Image.fromarray(pixels)
        # read the canvas again: blob labels change with the pixels
        self.analysis = analyse(self.image, self.names)
        self.space = self._space()

    def erase(self, objs: list[Found]) -> None:
        """Paint over these objects' shapes, nothing of their neighbours; what an erased object covered
        of the objects drawn before it (the ledger knows which, and where) shows again."""
        a, pixels = self.analysis, np.array(self.image)
        entries = [self._entry(o) for o in objs]
        gone = {id(e) for e in entries if e is not None}
        import cv2

        for o, entry in zip(objs, entries):
            x0, y0, x1, y1 = o.box
            hole = np.zeros(a.blobs.shape, dtype=bool)
            hole[y0:y1, x0:x1] = a.blobs[y0:y1, x0:x1] == o.blob
            # and the paper gap it kept around itself, where it may have cut into what lies under it
            grown = cv2.dilate(hole.astype(np.uint8), np.ones((2 * HALO + 3,) * 2, np.uint8)) > 0
            hole |= grown & (a.kinds == PAPER_K)
            pixels[hole] = PAPER
            if entry is not None:
                below = self.ledger[: [id(e) for e in self.ledger].index(id(entry))]
                self._uncover(pixels, hole, [e for e in below if id(e) not in gone])
        self.ledger = [e for e in self.ledger if id(e) not in gone]
        self._repaint(pixels)

    def _uncover(self, pixels: np.ndarray, hole: np.ndarray, below: list[dict]) -> None:
        """Draw again, inside `hole` only, the objects of `below` that reach into it (in their order,
        steadily: the seam may differ from the first stroke by a pixel or two)."""
        ys, xs = np.nonzero(hole)
        if not len(xs):
            return
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        under = [e for e in below if e["box"][0] < x1 and e["box"][2] > x0]
        under = [e for e in under if e["box"][1] < y1 and e["box"][3] > y0]
        if not under:
            return
        scratch = blank()
        for e in under:
            self._draw(scratch, e, np.random.default_rng(0), 0.0)
        redrawn = np.array(scratch)
        shown = hole & np.any(redrawn != PAPER, axis=-1)
        pixels[shown] = redrawn[shown]

    def _entry(self, o: Found) -> dict | None:
        """The ledger's record of a found object: the one whose box overlaps it most."""

        def overlap(e):
            b = e["box"]
            ix = max(0, min(b[2], o.box[2]) - max(b[0], o.box[0]))
            iy = max(0, min(b[3], o.box[3]) - max(b[1], o.box[1]))
            return ix * iy / max(1, (b[2] - b[0]) * (b[3] - b[1]) + o.size[0] * o.size[1] - ix * iy)

        best = max(self.ledger, key=overlap, default=None)
        return best if best is not None and overlap(best) >= 0.3 else None

    def recolor(self, objs: list[Found], color: str) -> None:
        a, pixels = self.analysis, np.array(self.image)
        fill, stroke = PAINTS[color]
        for o in objs:
            x0, y0, x1, y1 = o.box
            mine = a.blobs[y0:y1, x0:x1] == o.blob
            kinds = a.kinds[y0:y1, x0:x1]
            pixels[y0:y1, x0:x1][mine & (kinds == FILL_K)] = fill
            pixels[y0:y1, x0:x1][mine & (kinds == STROKE_K)] = stroke
            entry = self._entry(o)
            if entry is not None:
                entry["color"] = color
        self._repaint(pixels)

    def _pick(self, found: list[Found], n: int) -> list[Found]:
        """Which n of these to remove: those in the region first, then the ones farthest from the rest."""
        if not found:
            return []
        middle = np.median([o.center for o in found], axis=0)

        def key(o: Found):
            inside = self.region is not None and bool(
                self.region[o.box[1] : o.box[3], o.box[0] : o.box[2]].any()
            )
            return (not inside, -float(np.hypot(*(np.asarray(o.center) - middle))))

        return sorted(found, key=key)[:n]

    def apply(self, edit: Edit, by_person: bool) -> Edit:
        """Carry out one edit on the canvas; returns the edit actually made (a move may swap sides)."""
        kind, target = edit.kind, edit.target
        if kind == "recolor":
            color = edit.color
            if not by_person and self.rng.random() < self.noise.color:
                color = wrong_color(edit.color, self.rng)
                self.mistakes.append(f"recoloured {target.cls} {color} instead of {edit.color}")
            self.recolor(self.targets(target, by_person), color)
        elif kind == "remove":
            found = self.targets(target, by_person)
            self.erase(self._pick(found, len(found) if edit.count is None else edit.count))
        elif kind in ("add", "count"):
            have = self.analysis.of(target.cls, target.color) if kind == "count" else []
            n = (edit.count or 1) - (len(have) if kind == "count" else 0)
            if n < 0:
                self.erase(self._pick(have, -n))
            elif n > 0:
                self._add(target, n, edit.relation, edit.anchor)
        elif kind == "move":
            return self._move(edit, by_person)
        return edit

    def _add(
        self, target: ObjectGroup, n: int, relation: str | None, anchor: ObjectGroup | None
    ) -> None:
        kin = self.analysis.of(target.cls, target.color) or self.analysis.of(target.cls)
        color = target.color or (kin[0].color if kin else default_color(target.cls))
        relations = []
        if relation and anchor:
            anchors = self.analysis.of(anchor.cls, anchor.color) or self.analysis.of(anchor.cls)
            if anchors:
                relations = [(relation, [o.box for o in anchors])]
        size = kin[0].size if kin else None
        self.place(
            target.cls,
            color,
            n,
            relations,
            siblings=[o.box for o in kin],
            target=center_target(self.rng, 60),
            size=size,
        )

    def _move(self, edit: Edit, by_person: bool) -> Edit:
        """Move the subjects to the relation's side of the anchors.

        A person's move does exactly that. The engine's own, when there is no room there, puts the
        anchors on the other side of the subjects instead, and failing that redraws both.
        """
        subjects, anchors = (
            self.targets(edit.target, by_person),
            self.targets(edit.anchor, by_person),
        )
        if not subjects or not anchors:
            return edit
        relation = edit.relation
        if not by_person and self.rng.random() < self.noise.relation:
            relation = None
            self.mistakes.append(
                f"moved the {edit.target.cls} without minding the {edit.anchor.cls}"
            )
        snapshot = (
            self.image.copy(),
            self.analysis,
            len(self.drawn),
            [dict(x) for x in self.ledger],
        )
        boxes = self._relocate(subjects, [(relation, [a.box for a in anchors])] if relation else [])
        if (
            by_person
            or relation is None
            or all(holds(relation, b, [a.box for a in anchors]) for b in boxes)
        ):
            return edit
        if relation in OPPOSITE:  # "on", "in", "held by", "worn by" have no anchor-side relation
            flipped = Edit("move", edit.anchor, OPPOSITE[relation], edit.target)
            self._restore(snapshot)
            boxes = self._relocate(anchors, [(flipped.relation, [s.box for s in subjects])])
            if all(holds(flipped.relation, b, [s.box for s in subjects]) for b in boxes):
                return flipped
        self._restore(snapshot)
        self.erase(subjects + anchors)
        side = (
            {"right of": -1, "left of": 1, "below": -1, "above": 1}.get(relation, 0) * 0.22 * SIZE
        )
        x, y = center_target(self.rng, 20)
        target = (x + side, y) if relation in ("left of", "right of") else (x, y + side)
        placed: list = []
        for o in anchors:
            placed += self.place(o.cls, o.color, 1, siblings=placed, size=o.size, target=target)
        moved: list = []
        for o in subjects:
            moved += self.place(
                o.cls, o.color, 1, [(relation, placed)], siblings=moved, size=o.size
            )
        return edit

    def _restore(self, snapshot) -> None:
        self.image, self.analysis = snapshot[0].copy(), snapshot[1]
        self.space = self._space()
        del self.drawn[snapshot[2] :]
        self.ledger = [dict(x) for x in snapshot[3]]

    def _relocate(self, objs: list[Found], relations) -> list[tuple[int, int, int, int]]:
        self.erase(objs)
        boxes: list[tuple[int, int, int, int]] = []
        for o in objs:
            boxes += self.place(
                o.cls,
                o.color,
                1,
                relations,
                siblings=boxes,
                size=o.size,
                target=center_target(self.rng, 60),
            )
        return boxes


def region_mask(region: Image.Image | None) -> np.ndarray | None:
    """A refine's region (a painted layer, non-black where to redraw) as the painter's pixel mask."""
    if region is None:
        return None
    mask = np.asarray(region.convert("L")) > 0
    if mask.shape != (SIZE, SIZE):
        raise StudioError(
            f"The region is {mask.shape[1]}×{mask.shape[0]} pixels; draw it on the {SIZE}×{SIZE} canvas."
        )
    return mask
