"""The hand's edits: carrying out one refine on a sketch — recolour, remove, add, count, move.

A mixin of `paint.Painter` (it uses the painter's canvas, analysis, layout, ledger, noise and
`place`). Edits work on what the analyser sees on the canvas, as a person's words name what they
see; a model's own edit may go wrong the way a draft does (see `paint.DraftNoise`), a person's
is carried out exactly. Erasing paints paper over an object's own pixels and draws back what it
covered of the objects under it (the ledger says which, in drawing order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from ...core.domain import StudioError
from ...language import Edit, ObjectGroup
from ...language.scene import OPPOSITE
from .analyse import FILL_K, STROKE_K, Found, analyse
from .draw import PAINTS, PAPER, SIZE, blank, default_color, draw_object
from .layout import holds

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
    options = CONFUSABLE.get(color, ("red", "blue"))
    return options[int(rng.integers(len(options)))]


def center_target(rng: np.random.Generator, spread: float) -> tuple[float, float]:
    return tuple(np.clip(SIZE / 2 + rng.normal(0, spread, 2), 60, SIZE - 60))


class Retouch:
    """Edits on the canvas (a mixin of `paint.Painter`, which holds the state named below)."""

    image: Image.Image
    analysis: Any
    rng: np.random.Generator
    noise: Any
    region: np.ndarray | None
    ledger: list[dict]
    drawn: list[dict]
    mistakes: list[str]
    space: Any

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
        self.analysis = analyse(
            self.image, self.names
        )  # read the canvas again: blob labels change with the pixels
        self.space = self._space()

    def erase(self, objs: list[Found]) -> None:
        """Paint over these objects' shapes, nothing of their neighbours; what an erased object covered
        of the objects drawn before it (the ledger knows which, and where) shows again."""
        a, pixels = self.analysis, np.array(self.image)
        entries = [self._entry(o) for o in objs]
        gone = {id(e) for e in entries if e is not None}
        for o, entry in zip(objs, entries):
            x0, y0, x1, y1 = o.box
            hole = np.zeros(a.blobs.shape, dtype=bool)
            hole[y0:y1, x0:x1] = a.blobs[y0:y1, x0:x1] == o.blob
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
            shape = self.shape(e["class"])
            draw_object(scratch, shape, e["color"], tuple(e["box"]), np.random.default_rng(0), 0.0)
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
        flipped = Edit("move", edit.anchor, OPPOSITE[relation], edit.target)
        self._restore(snapshot)
        boxes = self._relocate(anchors, [(flipped.relation, [s.box for s in subjects])])
        if all(holds(flipped.relation, b, [s.box for s in subjects]) for b in boxes):
            return flipped
        self._restore(snapshot)
        self.erase(subjects + anchors)
        side = {"right of": -1, "left of": 1, "below": -1, "above": 1}[relation] * 0.22 * SIZE
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
