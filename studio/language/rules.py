"""GenEval's scoring rules, once, for every detector that feeds them.

The rules follow GenEval's `evaluate_images.py`:

- a detection counts when its score is above 0.3 (above 0.9 for prompts tagged `counting`), at most
  16 per class, most confident first;
- every `include` entry needs `count` objects of its class among them (more are allowed: `exclude`
  says how many are too many); its colour, when given, must be the colour of all `count` most
  confident ones; its position, when given, must hold between each of them and each object that
  matched the entry it points at (which must itself have matched);
- position compares the two boxes' centres after taking 0.1 × (the sum of their widths, and of their
  heights) off each axis of the offset; what is left must point mostly (> 0.5 of the full offset's
  length) along the relation's direction;
- an `exclude` entry fails the image when `count` or more objects of its class were found.

They live beside the scene model, below the benchmark (`studio.geneval`) and the offline engine
(`studio.engines.offline`: its planner lays objects out, and its inspector judges its own sketches, by the
same rules the benchmark's checkers use), so neither imports the other: numpy and the scene
vocabulary are all this module needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .scene import COLORS

THRESHOLD = 0.3
COUNTING_THRESHOLD = 0.9
MAX_OBJECTS = 16
POSITION_THRESHOLD = 0.1


@dataclass(frozen=True)
class Detection:
    label: str  # a COCO class name in GenEval's spelling
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
    # set when the detector knows it (the offline analyser reads the paint)
    color: str | None = None

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


@dataclass(frozen=True)
class Verdict:
    correct: bool
    reason: str  # GenEval's reason text: one line per failed clause, empty when correct
    found: dict[str, int]  # objects counted per class (after the threshold)


def threshold_for(tag: str | None) -> float:
    return COUNTING_THRESHOLD if tag == "counting" else THRESHOLD


def kept_objects(detections: Iterable[Detection], tag: str | None) -> dict[str, list[Detection]]:
    """Per class, the detections scoring above the tag's threshold, most confident first (ties: larger
    first), at most MAX_OBJECTS."""
    limit = threshold_for(tag)
    by_class: dict[str, list[Detection]] = {}
    for det in sorted(detections, key=lambda d: (-d.score, -d.area)):
        if det.score > limit and len(by_class.get(det.label, ())) < MAX_OBJECTS:
            by_class.setdefault(det.label, []).append(det)
    return by_class


def relative_position(a: Sequence[float], b: Sequence[float]) -> set[str]:
    """Where box `a` lies relative to box `b` (GenEval's rule): a subset of left of / right of / above / below."""
    boxes = np.array([a[:4], b[:4]], dtype=float).reshape(2, 2, 2)
    center_a, center_b = boxes.mean(axis=-2)
    dim_a, dim_b = np.abs(np.diff(boxes, axis=-2))[..., 0, :]
    offset = center_a - center_b
    revised = np.maximum(np.abs(offset) - POSITION_THRESHOLD * (dim_a + dim_b), 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    relations = set()
    if dx < -0.5:
        relations.add("left of")
    if dx > 0.5:
        relations.add("right of")
    if dy < -0.5:
        relations.add("above")
    if dy > 0.5:
        relations.add("below")
    return relations


def evaluate(
    metadata: Mapping[str, Any],
    objects: Mapping[str, list[Detection]],
    color_of: Callable[[Detection, str], str],
) -> Verdict:
    """GenEval's verdict for one image from its kept objects; `color_of(detection, class)` names a colour.

    Only each object's `.box` is read here, so the offline analyser's own objects serve as they are."""
    correct = True
    reasons: list[str] = []
    matched_groups: list[list[Detection] | None] = []
    for req in metadata.get("include", []):
        classname, count = req["class"], req["count"]
        matched = True
        found = list(objects.get(classname, []))[:count]
        if len(found) < count:
            correct = matched = False
            reasons.append(f"expected {classname}>={count}, found {len(found)}")
        else:
            if "color" in req:
                colors = [color_of(det, classname) for det in found]
                if colors.count(req["color"]) < count:
                    correct = matched = False
                    reasons.append(
                        f"expected {req['color']} {classname}>={count}, found {colors.count(req['color'])} "
                        f"{req['color']}; and "
                        + ", ".join(f"{colors.count(c)} {c}" for c in COLORS if c in colors)
                    )
            if "position" in req and matched:
                relation, target = req["position"]
                anchors = matched_groups[target] if target < len(matched_groups) else None
                if anchors is None:
                    correct = matched = False
                    reasons.append(f"no target for {classname} to be {relation}")
                else:
                    for det in found:
                        for anchor in anchors:
                            actual = relative_position(det.box, anchor.box)
                            if relation not in actual:
                                correct = matched = False
                                reasons.append(
                                    f"expected {classname} {relation} target, found "
                                    f"{' and '.join(sorted(actual))} target"
                                )
                                break
                        if not matched:
                            break
        matched_groups.append(found if matched else None)
    for req in metadata.get("exclude", []):
        classname = req["class"]
        if len(objects.get(classname, [])) >= req["count"]:
            correct = False
            reasons.append(f"expected {classname}<{req['count']}, found {len(objects[classname])}")
    return Verdict(correct, "\n".join(reasons), {k: len(v) for k, v in objects.items()})
