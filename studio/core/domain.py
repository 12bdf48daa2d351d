"""Sessions, steps and trajectories: the pure data model of the process loop.

A session holds a tree of steps (each step points at its parent), so rewinding and
forking never destroy history; a *branch* is the path from the root to one step.
This module imports no torch, gradio or sqlalchemy: the runner, the store, the
exporters and the UI all share these types; `studio.core.codec` turns them into plain data and back.
"""

from __future__ import annotations

import dataclasses
import enum
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

from .people import (  # noqa: F401
    Judgement,
    Person,
    can_see,
    judgement_from_dict,
    judgement_to_dict,
    local_user,
    may_share,
)

MAX_PROMPT_CHARS = 4000


class Stage(str, enum.Enum):
    PLAN = "plan"
    SKETCH = "sketch"
    INSPECT = "inspect"
    REFINE = "refine"
    FINAL = "final"


class Author(str, enum.Enum):
    MODEL = "model"
    HUMAN = "human"


class Review(str, enum.Enum):
    """A human's decision on an image step (sketch or refine)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Mode(str, enum.Enum):
    PROCESS = "process"  # plan → sketch → inspect → refine … → final
    SINGLE = "single"  # one plan for everything, one sketch, no inspect


class StudioError(Exception):
    """An error a person can fix; the message says how. Never shown with a traceback."""


class Conflict(StudioError):
    """Someone else (another tab, another process) changed the session first."""


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> float:
    return time.time()


@dataclass(frozen=True)
class Box:
    """Evidence for a verdict: a labelled rectangle in image pixels."""

    x0: float
    y0: float
    x1: float
    y1: float
    label: str = ""
    score: float | None = None


@dataclass(frozen=True)
class Check:
    """One inspect verdict: plan vs prompt, or sketch vs instruction."""

    passed: bool
    critique: str = ""
    evidence: tuple[Box, ...] = ()


@dataclass(frozen=True)
class ImageRef:
    """A content-addressed PNG kept by the store."""

    sha256: str
    width: int
    height: int
    byte_size: int


@dataclass(frozen=True)
class Region:
    """A mask drawn on the canvas to target a refine: only these pixels may change."""

    image: ImageRef  # a single-channel PNG; non-zero pixels are inside the region


@dataclass(frozen=True)
class Step:
    """One stage of the loop, by the model or by a person.

    `instruction` holds `<ins>` for a plan and `<refine>` for a refine; `original`
    keeps the model's values of any field a human changed (field name → value);
    `annotator` names the person behind the latest human action on the step (their
    edit, refine, accept or reject), None on a step no person touched.
    """

    id: str
    session_id: str
    parent_id: str | None
    stage: Stage
    round: int = 0
    author: Author = Author.MODEL
    instruction: str | None = None
    description: str | None = None
    plan_check: Check | None = None
    sketch_check: Check | None = None
    image: ImageRef | None = None
    region: Region | None = None
    complete: bool = False  # plan: this instruction finishes the scene
    review: Review | None = None
    review_note: str = ""
    original: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)  # engine's own notes (e.g. a layout)
    elapsed_s: float | None = None
    sampling_steps: int = 0
    created_at: float = field(default_factory=now)
    annotator: str | None = None

    @property
    def passed(self) -> bool:
        """An inspect step passes when both checks pass."""
        return bool(
            self.plan_check
            and self.plan_check.passed
            and self.sketch_check
            and self.sketch_check.passed
        )

    def replace(self, **changes: Any) -> "Step":
        return dataclasses.replace(self, **changes)


PERSON_INPUT = (
    "person_input"  # Step.meta key: the correction a model stage answered (PersonInput.to_dict())
)
UNCHANGED = "unchanged"  # Step.meta key: why a refine is no progress (its image, or its region, stayed as it was)
INPUT_KINDS = ("verdict", "reason", "plan")


@dataclass(frozen=True)
class PersonInput:
    """A person's correction that a model stage was given to answer, and what the engine did with it.

    `kind` says where it came from: "verdict" (a check a person overrode; the refine answers it),
    "reason" (why a person rejected an image; the redraw answers it) or "plan" (a plan a person
    edited; the sketch draws it). `text` is the person's words as stored on `step_id`. `used` and
    `note` are the engine's account: whether it acted on the text, and what it did or why it could not
    (None/"" until the stage has answered)."""

    kind: str
    step_id: str
    text: str
    used: bool | None = None
    note: str = ""

    def answered(self, used: bool, note: str) -> "PersonInput":
        return dataclasses.replace(self, used=bool(used), note=note.strip())

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PersonInput":
        return cls(
            kind=str(data.get("kind", "")),
            step_id=str(data.get("step_id", "")),
            text=str(data.get("text", "")),
            used=None if data.get("used") is None else bool(data.get("used")),
            note=str(data.get("note", "")),
        )


def person_input(step: Step) -> PersonInput | None:
    """The person's correction `step` answered, with what the engine did with it; None for a step that
    answered none."""
    data = step.meta.get(PERSON_INPUT) if step.meta else None
    return PersonInput.from_dict(data) if isinstance(data, dict) else None


def unchanged(step: Step) -> str:
    """Why a refine is no progress ("" when it changed the image): its image is the one it refined, or
    a region refine changed no pixel inside the region. Such a step is kept (a person sees it and may try
    again) but is no round of the budget and no edit to learn from."""
    reason = step.meta.get(UNCHANGED) if step.meta else None
    return str(reason) if reason else ""


def overridden_checks(step: Step) -> list[str]:
    """The checks of an inspect step a person changed ("plan_check", "sketch_check"); the model's own
    values are kept in `step.original`."""
    if step.stage is not Stage.INSPECT or step.author is not Author.HUMAN:
        return []
    return [name for name in ("plan_check", "sketch_check") if name in step.original]


@dataclass
class RunSettings:
    """How the runner drives a session; stored with it."""

    max_rounds: int = 6  # plan and refine cycles on a branch before the final step
    mode: Mode = Mode.PROCESS
    engine_params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_rounds": self.max_rounds,
            "mode": self.mode.value,
            "engine_params": dict(self.engine_params),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "RunSettings":
        data = data or {}
        return cls(
            max_rounds=int(data.get("max_rounds", cls.max_rounds)),
            mode=Mode(data.get("mode", Mode.PROCESS.value)),
            engine_params=dict(data.get("engine_params", {})),
        )


@dataclass
class Session:
    id: str
    prompt: str
    engine: str
    seed: int
    title: str = ""
    settings: RunSettings = field(default_factory=RunSettings)
    tags: tuple[str, ...] = ()
    head_id: str | None = None  # the step the next advance continues from
    version: int = 0  # bumped by every write; a stale version means a conflict
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    # who started it; "" on a session no owner was recorded for (everyone sees it)
    owner: str = ""
    shared: bool = False  # False: only its owner (and admins) see it when people log in


@dataclass
class Trajectory:
    """A session with all of its steps: the tree, its branches and what comes next."""

    session: Session
    steps: dict[str, Step] = field(default_factory=dict)
    _children: dict[str | None, list[str]] = field(default_factory=dict, repr=False, compare=False)
    _last_branch: tuple[str | None, list[Step]] = field(
        default=(None, []), repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for step in self.steps.values():
            self._children.setdefault(step.parent_id, []).append(step.id)

    @classmethod
    def of(cls, session: Session, steps: Iterable[Step]) -> "Trajectory":
        return cls(session, {s.id: s for s in sorted(steps, key=lambda s: s.created_at)})

    def put(self, step: Step) -> None:
        """Add a new step or replace one (same id, same parent)."""
        if step.id in self.steps:
            self._last_branch = (None, [])
        else:
            self._children.setdefault(step.parent_id, []).append(step.id)
        self.steps[step.id] = step

    def children(self, step_id: str | None) -> list[Step]:
        return [self.steps[i] for i in self._children.get(step_id, ())]

    def leaves(self) -> list[Step]:
        return [s for s in self.steps.values() if not self._children.get(s.id)]

    def branch(self, step_id: str | None = None) -> list[Step]:
        """Root → `step_id` (default: the session head), rejected steps included where on the path.

        The last branch is remembered, so extending it by one step costs the same at any
        depth: a stage's cost must not grow with the trajectory.
        """
        step_id = step_id or self.session.head_id
        remembered_id, remembered = self._last_branch
        step = self.steps.get(step_id) if step_id else None
        if step_id is not None and step_id == remembered_id:
            path = remembered
        elif step is not None and remembered_id is not None and step.parent_id == remembered_id:
            path = remembered + [step]
        else:
            path = self._walk(step_id)
        self._last_branch = (step_id, path)
        return list(path)

    def _walk(self, step_id: str | None) -> list[Step]:
        path: list[Step] = []
        while step_id is not None:
            step = self.steps.get(step_id)
            if step is None:
                raise StudioError(f"Step {step_id} is not part of session {self.session.id}.")
            path.append(step)
            step_id = step.parent_id
        return path[::-1]

    def tree_order(self) -> list[Step]:
        """Every step, each parent before its children (what a foreign key needs on insert)."""
        ordered: list[Step] = []
        pending: list[str | None] = [None]
        while pending:
            children = sorted(
                self.children(pending.pop()), key=lambda s: (s.created_at, s.id), reverse=True
            )
            ordered += children[::-1]
            pending += [c.id for c in children]
        if len(ordered) != len(self.steps):
            raise StudioError(f"Session {self.session.id} has steps whose parents are missing.")
        return ordered

    def head(self) -> Step | None:
        return self.steps.get(self.session.head_id) if self.session.head_id else None


def last(branch: list[Step], *stages: Stage) -> Step | None:
    for step in reversed(branch):
        if step.stage in stages:
            return step
    return None


def last_image(branch: list[Step]) -> Step | None:
    """The step holding the branch's current image: its newest image that was not rejected (what the
    next stage looks at, refines or finishes with)."""
    for step in reversed(branch):
        if step.image is not None and step.review is not Review.REJECTED:
            return step
    return None


ROUND_STAGES = (Stage.PLAN, Stage.REFINE)  # each plan and each refine is one round of the budget


def rounds_used(branch: list[Step]) -> int:
    """Plans and refines on the branch that made progress (a refine that changed nothing is no round)."""
    return sum(1 for s in branch if s.stage in ROUND_STAGES and not unchanged(s))


def stage_round(branch: list[Step], stage: Stage) -> int:
    """The round a `stage` run after `branch` belongs to: a plan or a refine opens the next one (the
    first is 1); a sketch, an inspect or the final stays in the round that is open."""
    return max(1, rounds_used(branch) + (1 if stage in ROUND_STAGES else 0))


def next_stage(branch: list[Step], settings: RunSettings) -> Stage | None:
    """What the loop does after the end of `branch`; None when the branch is finished.

    plan → sketch → inspect; a failed inspect → refine → inspect; a passed one → the
    next plan, or final once the plan is complete. Rounds (plans + refines) are capped
    by `settings.max_rounds`; single-pass mode skips inspect entirely.
    """
    if not branch:
        return Stage.PLAN
    tail = branch[-1]
    if tail.stage is Stage.FINAL:
        return None
    if tail.stage is Stage.PLAN:
        return Stage.SKETCH
    if tail.stage is Stage.REFINE and unchanged(tail) and tail.review is not Review.REJECTED:
        if tail.author is Author.HUMAN:
            # a person's refine that changed nothing: the loop goes on as if it were not there
            return next_stage(branch[:-1], settings)
        # the model could not change anything for this verdict: move on rather than repeat itself
        plan = last(branch, Stage.PLAN)
        if (plan and plan.complete) or rounds_used(branch) >= settings.max_rounds:
            return Stage.FINAL
        return Stage.PLAN
    plan = last(branch, Stage.PLAN)
    plan_complete = bool(plan and plan.complete)
    budget_left = rounds_used(branch) < settings.max_rounds
    if tail.stage in (Stage.SKETCH, Stage.REFINE):
        if tail.review is Review.REJECTED:
            return tail.stage  # a rejected image is redrawn
        if settings.mode is Mode.SINGLE:
            return Stage.FINAL if plan_complete or not budget_left else Stage.PLAN
        return Stage.INSPECT
    # inspect
    plan_only = bool(tail.sketch_check and tail.sketch_check.passed and tail.plan_check)
    if not tail.passed and budget_left and plan_only and not plan_complete:
        return Stage.PLAN  # a finding on the plan alone is the next plan's to fix, not the canvas's
    if not tail.passed and budget_left:
        return Stage.REFINE
    if plan_complete or not budget_left:
        return Stage.FINAL
    return Stage.PLAN
