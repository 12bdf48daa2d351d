"""The one codec of the model: a Step, a Session, a Trajectory, a Check and a Box as plain data and back.

Every JSON form of the model is written here: the trajectory the CLI prints (`--json`), the PNG
chunk and the exports carry, the store's JSON columns (`store.steps.step_row` only maps the image
references onto their columns), the page's cards (`ui.board.card` adds its view fields) and what
`core.untrusted` checks before it calls `trajectory_from_dict`. A Box has two forms, both here: the
stored one names its corners, the page's one is a list the canvas draws.

Example usage::

    data = trajectory_to_dict(trajectory)  # JSON-ready: json.dumps(data) is the `--json` output
    assert trajectory_from_dict(data).steps == trajectory.steps

    box_to_dict(Box(1, 2, 30, 40, "cat"))  # {"x0": 1, "y0": 2, "x1": 30, "y1": 40, "label": "cat", "score": None}
    box_to_view(Box(1, 2, 30, 40, "cat"))  # {"label": "cat", "box": [1, 2, 30, 40], "score": None}

Plain functions over the dataclasses of `core.domain` (no pydantic): the forms must stay byte for
byte what files already hold, and the import side's one-line messages come from `core.untrusted`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from .domain import (
    Author,
    Box,
    Check,
    ImageRef,
    Region,
    Review,
    RunSettings,
    Session,
    Stage,
    Step,
    Trajectory,
)
from .people import judgement_from_dict, judgement_to_dict

__all__ = [
    "BOX_CORNERS",
    "box_from_dict",
    "box_to_dict",
    "box_to_view",
    "check_from_dict",
    "check_to_dict",
    "check_to_view",
    "image_from_dict",
    "image_to_dict",
    "judgement_from_dict",
    "judgement_to_dict",
    "original_from_dict",
    "original_to_dict",
    "session_from_dict",
    "session_to_dict",
    "step_from_dict",
    "step_to_dict",
    "trajectory_from_dict",
    "trajectory_to_dict",
]

BOX_CORNERS = ("x0", "y0", "x1", "y1")  # the stored form's keys of a box's corners, in image pixels

CheckForm = Callable[[Check | None], dict[str, Any] | None]


# -- boxes and verdicts ------------------------------------------------------------------------


def box_to_dict(box: Box) -> dict[str, Any]:
    """The stored form: each corner by name, then the label and score."""
    return dataclasses.asdict(box)


def box_to_view(box: Box) -> dict[str, Any]:
    """The page's form: the corners as one `[x0, y0, x1, y1]` list the canvas draws."""
    return {"label": box.label, "box": [box.x0, box.y0, box.x1, box.y1], "score": box.score}


def box_from_dict(data: dict[str, Any]) -> Box:
    return Box(**data)


def check_to_dict(check: Check | None) -> dict[str, Any] | None:
    """The stored form of a verdict (None stays None)."""
    if check is None:
        return None
    evidence = tuple(box_to_dict(box) for box in check.evidence)
    return {"passed": check.passed, "critique": check.critique, "evidence": evidence}


def check_to_view(check: Check | None) -> dict[str, Any] | None:
    """The page's form of a verdict: its boxes as `box_to_view` draws them."""
    if check is None:
        return None
    evidence = [box_to_view(box) for box in check.evidence]
    return {"passed": check.passed, "critique": check.critique, "evidence": evidence}


def check_from_dict(data: dict[str, Any] | None) -> Check | None:
    if data is None:
        return None
    evidence = tuple(box_from_dict(box) for box in data.get("evidence", ()))
    return Check(bool(data["passed"]), data.get("critique", ""), evidence)


# -- a step's parts ----------------------------------------------------------------------------


def image_to_dict(image: ImageRef) -> dict[str, Any]:
    return dataclasses.asdict(image)


def image_from_dict(data: dict[str, Any]) -> ImageRef:
    return ImageRef(**data)


def original_to_dict(original: dict[str, Any], checks: CheckForm = check_to_dict) -> dict[str, Any]:
    """A step's `original` (the model's values of fields a person changed), its verdicts in the form
    `checks` writes (the stored one, or `check_to_view` for the page)."""
    return {k: checks(v) if isinstance(v, Check) else v for k, v in original.items()}


def original_from_dict(data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `original_to_dict`: a `*_check` field holds a verdict."""
    return {k: check_from_dict(v) if k.endswith("_check") else v for k, v in data.items()}


# -- steps, sessions, trajectories -------------------------------------------------------------


def step_to_dict(step: Step) -> dict[str, Any]:
    """Every field of the step in declaration order; enums as their values, verdicts and images as
    dicts (a region as `{"image": {...}}`)."""
    data = dataclasses.asdict(step)
    data.update(
        stage=step.stage.value,
        author=step.author.value,
        review=step.review.value if step.review else None,
        plan_check=check_to_dict(step.plan_check),
        sketch_check=check_to_dict(step.sketch_check),
        original=original_to_dict(step.original),
    )
    return data


_STEP_PARTS = ("stage", "author", "plan_check", "sketch_check", "original")


def step_from_dict(data: dict[str, Any]) -> Step:
    fields = dict(data)
    image = fields.pop("image", None)
    region = fields.pop("region", None)
    review = fields.pop("review", None)
    return Step(
        **{k: v for k, v in fields.items() if k not in _STEP_PARTS},
        stage=Stage(data["stage"]),
        author=Author(data["author"]),
        plan_check=check_from_dict(data.get("plan_check")),
        sketch_check=check_from_dict(data.get("sketch_check")),
        image=image_from_dict(image) if image else None,
        region=Region(image_from_dict(region["image"])) if region else None,
        review=Review(review) if review else None,
        original=original_from_dict(data.get("original", {})),
    )


def session_to_dict(session: Session) -> dict[str, Any]:
    """Every field of the session; its settings as `RunSettings.to_dict` writes them, tags a list."""
    data = dataclasses.asdict(session)
    data.update(settings=session.settings.to_dict(), tags=list(session.tags))
    return data


def session_from_dict(data: dict[str, Any]) -> Session:
    return Session(
        id=data["id"],
        prompt=data["prompt"],
        engine=data["engine"],
        seed=int(data["seed"]),
        title=data.get("title", ""),
        settings=RunSettings.from_dict(data.get("settings")),
        tags=tuple(data.get("tags", ())),
        head_id=data.get("head_id"),
        version=int(data.get("version", 0)),
        created_at=float(data["created_at"]),
        updated_at=float(data["updated_at"]),
        owner=data.get("owner", ""),
        shared=bool(data.get("shared", False)),
    )


def trajectory_to_dict(trajectory: Trajectory) -> dict[str, Any]:
    """The whole tree: the session, every step (parents link them) and the head's branch."""
    return {
        "session": session_to_dict(trajectory.session),
        "branch": [s.id for s in trajectory.branch()] if trajectory.session.head_id else [],
        "steps": [step_to_dict(s) for s in trajectory.steps.values()],
    }


def trajectory_from_dict(data: dict[str, Any]) -> Trajectory:
    """The inverse of `trajectory_to_dict`."""
    return Trajectory(
        session_from_dict(data["session"]), {s["id"]: step_from_dict(s) for s in data["steps"]}
    )
