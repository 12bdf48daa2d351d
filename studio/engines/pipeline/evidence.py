"""What the pipeline engine's detector found, turned into a verdict's evidence (COCO or OWLv2)."""

from __future__ import annotations

from typing import Any

from ...core.domain import Box
from ..torch_support import (
    load_error,
    pick_device,
    pick_dtype,
    resolve_model,
)


def planned_groups(description: str, open_vocabulary: bool = True):
    """(the plan's groups the detector can look for, the plan's nouns it cannot).

    The COCO detector knows GenEval's 80 classes only (`studio.language.scene.is_known`, the classes the offline
    engine has glyphs for); OWLv2 is asked about any noun. A noun the detector cannot look for is
    named in its evidence, never dropped in silence, and never reported missing by a detector blind to it.
    """
    from ...language import parse_description
    from ...language.scene import is_known

    groups = parse_description(description or "").groups
    if open_vocabulary:
        return groups, []
    return [g for g in groups if is_known(g.cls)], sorted(
        {g.cls for g in groups if not is_known(g.cls)}
    )


def judge(
    description: str,
    detections: list[tuple[str, float, tuple[float, float, float, float]]],
    open_vocabulary: bool = True,
):
    """(text for the inspector, evidence boxes, problems, plain findings, planned nouns not looked for)."""
    counts: dict[str, int] = {}
    for label, _, _ in detections:
        counts[label] = counts.get(label, 0) + 1
    text = ", ".join(f"{n} {label}" for label, n in sorted(counts.items())) or "no known objects"
    checkable, unseen = planned_groups(description, open_vocabulary)
    if unseen:
        text += (
            f" (not among the detector's classes, so not looked for: {', '.join(unseen)}; "
            "judge those from the image)"
        )
    boxes = tuple(Box(*box, label=label, score=round(score, 3)) for label, score, box in detections)
    problems = []
    for group in checkable:
        seen = counts.get(group.cls, 0)
        if seen == 0:
            problems.append(f"The detector found no {group.cls}.")
        elif seen < group.count:
            problems.append(f"The detector found {seen} {group.cls}, the plan has {group.count}.")
    found = [
        {"label": label, "score": round(score, 3), "box": [round(v, 1) for v in box]}
        for label, score, box in detections
    ]
    return text, boxes, problems, found, unseen


class CocoEvidence:
    def __init__(self, detector, threshold: float):
        self.detector, self.threshold = detector, threshold

    def examine(self, image, description: str):
        detections = [
            (d.label, d.score, d.box) for d in self.detector.detect(image, self.threshold)
        ]
        return judge(description, detections, open_vocabulary=False)


class OwlEvidence:
    """OWLv2 (or OWL-ViT) open-vocabulary detection, queried with the classes the plan mentions."""

    def __init__(self, model, processor, device: str, dtype, threshold: float):
        self.model, self.processor, self.device, self.dtype, self.threshold = (
            model,
            processor,
            device,
            dtype,
            threshold,
        )

    @classmethod
    def load(cls, section: dict[str, Any], where: str) -> "OwlEvidence":
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        source, local = resolve_model(
            section["model"], what="detector model", setting_name=f"[detector] model in {where}"
        )
        device = pick_device(section["device"])
        dtype = pick_dtype(section["dtype"], device)
        try:
            processor = AutoProcessor.from_pretrained(source, local_files_only=local)
            model = AutoModelForZeroShotObjectDetection.from_pretrained(
                source, dtype=dtype, local_files_only=local
            )
        except (OSError, ValueError, KeyError) as exc:
            raise load_error("detector model", source, exc) from exc
        return cls(model.to(device).eval(), processor, device, dtype, float(section["threshold"]))

    def examine(self, image, description: str):
        import torch

        labels = sorted({g.cls for g in planned_groups(description)[0]})
        if not labels:
            return judge(description, [])
        image = image.convert("RGB")
        queries = [[f"a photo of a {label}" for label in labels]]
        inputs = self.processor(text=queries, images=image, return_tensors="pt", truncation=True)
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        # OWLv2 pads to a square: boxes are on the padded image
        if "owlv2" in type(self.model).__name__.lower():
            target = (max(image.size), max(image.size))
        else:
            target = (image.height, image.width)
        post = getattr(self.processor, "image_processor", self.processor)
        result = post.post_process_object_detection(
            outputs, threshold=self.threshold, target_sizes=[target]
        )[0]
        detections = []
        for score, label, box in zip(
            result["scores"].tolist(), result["labels"].tolist(), result["boxes"].tolist()
        ):
            x0, y0, x1, y1 = (max(0.0, v) for v in box)
            detections.append(
                (labels[label], float(score), (x0, y0, min(x1, image.width), min(y1, image.height)))
            )
        return judge(description, detections)
