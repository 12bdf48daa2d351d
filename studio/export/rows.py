"""Samples and sessions as plain rows, shared by the `folder` (JSONL) and `hf` (parquet) formats.

Both formats hold the same columns; only the image cell differs (a relative path, or
the bytes), and `hf` stores nested values as JSON text so every column has one type.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..core.codec import judgement_to_dict, trajectory_to_dict
from ..core.domain import ImageRef, Judgement, Trajectory
from .subsets import AlignmentSample, ConflictSample, MultiTurn

ImageCell = Callable[[ImageRef], Any]


def _nested(value: Any, as_json: bool) -> Any:
    return (
        json.dumps(value, ensure_ascii=False, sort_keys=True)
        if as_json and value is not None
        else value
    )


def multi_turn_row(sample: MultiTurn, image: ImageCell, as_json: bool = False) -> dict[str, Any]:
    """Turns in order; an image turn points into `images` by position and names its sha256."""
    turns, images = [], []
    for turn in sample.turns:
        entry = {
            "kind": turn.kind,
            "stage": turn.stage,
            "step_id": turn.step_id,
            "author": turn.author,
            "annotator": turn.annotator,
            "target": turn.target,
        }
        if turn.kind == "text":
            entry["text"] = turn.text
        else:
            entry.update(image=len(images), sha256=turn.image.sha256)
            images.append(image(turn.image))
        if turn.review:
            entry.update(review=turn.review, review_note=turn.review_note)
        if turn.original:
            entry["original"] = turn.original
        turns.append(entry)
    return {
        "id": sample.id,
        "session_id": sample.session_id,
        "prompt": sample.prompt,
        "engine": sample.engine,
        "human": sample.human,
        "annotators": sample.annotators,
        "turns": _nested(turns, as_json),
        "images": images,
        "final_image": image(sample.final_image) if sample.final_image else None,
    }


def conflict_row(sample: ConflictSample, as_json: bool = False) -> dict[str, Any]:
    return {
        "id": sample.id,
        "session_id": sample.session_id,
        "prompt": sample.prompt,
        "instruction": sample.instruction,
        "description": sample.description,
        "passed": sample.passed,
        "label": sample.label,
        "critique": sample.critique,
        "plan_step_id": sample.plan_step_id,
        "plan_author": sample.plan_author,
        "plan_original": _nested(sample.plan_original or None, as_json),
        "verdict_author": sample.verdict_author,
        "verdict_original": _nested(sample.verdict_original, as_json),
        "plan_annotator": sample.plan_annotator,
        "verdict_annotator": sample.verdict_annotator,
        "annotators": sample.annotators,
    }


def alignment_row(
    sample: AlignmentSample, image: ImageCell, as_json: bool = False
) -> dict[str, Any]:
    return {
        "id": sample.id,
        "session_id": sample.session_id,
        "prompt": sample.prompt,
        "image": image(sample.image),
        "image_step_id": sample.image_step_id,
        "image_stage": sample.image_stage,
        "image_author": sample.image_author,
        "instruction": sample.instruction,
        "description": sample.description,
        "passed": sample.passed,
        "label": sample.label,
        "explanation": sample.explanation,
        "corrective_instruction": sample.corrective_instruction,
        "source": sample.source,
        "verdict_author": sample.verdict_author,
        "verdict_original": _nested(sample.verdict_original, as_json),
        "image_annotator": sample.image_annotator,
        "verdict_annotator": sample.verdict_annotator,
        "annotators": sample.annotators,
    }


def session_images(trajectory: Trajectory) -> list[ImageRef]:
    """Every image a session references (step images and region masks), once, by hash."""
    refs = {}
    for step in trajectory.steps.values():
        for ref in (step.image, step.region.image if step.region else None):
            if ref is not None:
                refs[ref.sha256] = ref
    return [refs[k] for k in sorted(refs)]


def session_row(
    trajectory: Trajectory,
    split: str,
    image: ImageCell,
    judgements: list[Judgement],
    as_json: bool = False,
) -> dict[str, Any]:
    """The whole session tree, its ratings and preferences (what `studio import` restores) and its
    images."""
    return {
        "session_id": trajectory.session.id,
        "split": split,
        "trajectory": _nested(trajectory_to_dict(trajectory), as_json),
        "judgements": _nested([judgement_to_dict(j) for j in judgements], as_json),
        "images": [image(ref) for ref in session_images(trajectory)],
    }
