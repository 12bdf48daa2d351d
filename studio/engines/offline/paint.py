"""The hand: draws planned groups onto the canvas (with draft mistakes); its edits are in `retouch`.

Draft mistakes are what make inspect and refine real work. Each new group, independently, and
seeded by the stage's seed (`DraftNoise`, tunable through the session's engine params):

- `relation` (0.30): a group placed relative to another ignores the relation (it may still land
  on the right side by chance, or the canvas may leave no room there);
- `count` (0.06 + 0.08 per instance beyond the first): one instance missing or one extra;
- `color` (0.20, groups with a colour): one instance, or all, in a confusable colour.

`draft_noise` scales all three (0 gives clean drafts); `noise_relation`, `noise_count`,
`noise_color` set one rate each. A refine redraws with the same mistakes at half the rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

from ...core.domain import StudioError
from ...language.scene import CLASSES, SceneGraph
from .analyse import COLOR_NAMES, analyse
from .draw import SIZE, card_box, default_color, draw_object
from .glyphs import PLACEHOLDERS, placeholder
from .layout import Space, glyph_size
from .retouch import Retouch, center_target, wrong_color

OnStroke = Callable[[str, Image.Image], None]


@dataclass(frozen=True)
class DraftNoise:
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
            dx, dy = {"right of": (-1, 0), "left of": (1, 0), "below": (0, -1), "above": (0, 1)}[
                r.relation
            ]
            x, y = x + dx * 0.22 * SIZE, y + dy * 0.22 * SIZE
    return x, y


class Painter(Retouch):
    """One stage's drawing session on one canvas: what is there (from pixels), what gets added."""

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
        self.names = list(
            names
        )  # open-vocabulary nouns the canvas may show as placeholders, in order
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
        """The glyph `cls` is drawn with: its own, or its placeholder among the plan's other nouns."""
        if cls in CLASSES:
            return cls
        if cls not in self.names:
            self.names.append(cls)
        if self.names.index(cls) >= len(
            PLACEHOLDERS
        ):  # it would share a frame with another noun: never seen apart
            taken = ", ".join(self.names[: len(PLACEHOLDERS)])
            raise StudioError(
                f"The offline sketch engine has no glyph for {cls}, and its {len(PLACEHOLDERS)} "
                f"placeholders are taken ({taken}); plan fewer objects it has no glyph for."
            )
        return placeholder(cls, self.names)

    def _stroke(self, cls: str, color: str, box: tuple[int, int, int, int]) -> None:
        draw_object(
            self.image,
            self.shape(cls),
            color,
            box,
            self.rng,
            jitter=float(self.rng.uniform(0.6, 1.8)),
        )
        self.space.add(card_box(box, cls), COLOR_NAMES.index(color))
        self.drawn.append({"class": cls, "color": color, "box": list(box)})
        self.ledger.append({"class": cls, "color": color, "box": list(box)})
        self.progress(f"drew {'an' if cls[0] in 'aeiou' else 'a'} {color} {cls}", self.image)

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
        for _ in range(n):
            wh = size or glyph_size(cls, self.unit, self.rng)
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


def region_mask(region: Image.Image | None) -> np.ndarray | None:
    if region is None:
        return None
    mask = np.asarray(region.convert("L")) > 0
    if mask.shape != (SIZE, SIZE):
        raise StudioError(
            f"The region is {mask.shape[1]}×{mask.shape[0]} pixels; draw it on the {SIZE}×{SIZE} canvas."
        )
    return mask
