"""The paper's three training subsets (Table 1), derived from a session's branches.

1. Multi-turn generation: the engine's own transcript of a finished branch (its system text,
   the prompt line, each stage's request, then the answers: plans, sketches, verdicts, refines,
   the final image), one per finished branch. What is learned and what is only seen is decided
   by the one rule in `studio.export.provenance` (the model's mistakes a person caught are
   context, the person's verdicts and corrections targets); a rejected draft rides along as
   context, followed by the person's reason as a verdict target and, before its redraw, the
   engine's request to redraw so that it answers the reason (as the engine's redraw context holds
   them).
2. Instruction–intermediate conflict: a plan (`<ins>` + `<des>`) against the prompt, with
   the verdict and critique; one per inspect step.
3. Image–instruction alignment: an image against its plan's `<ins>`, with the verdict, the
   explanation and the corrective `<refine>`; one per inspect step, plus one per image a
   person accepted or rejected. A model verdict that contradicts a person's gives no sample.

Every sample keeps who wrote what (`author`) and, where a person changed the model's
value, the model's `original`. Samples carry image *references* only: bytes are read
by the writers, once, so deriving is cheap enough to run over every session first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..core import protocol
from ..core.codec import check_to_dict, original_to_dict
from ..core.domain import (
    Author,
    ImageRef,
    Review,
    Stage,
    Step,
    Trajectory,
    last,
    last_image,
    overridden_checks,
    person_input,
)
from ..engines.bagel import transcript
from .provenance import (
    OUT,
    TARGET,
    person_verdicts,
    plan_target,
    reject_verdict,
    review_verdict,
    roles,
)
from .select import rejected_before

POSITIVE, NEGATIVE = "positive", "negative"


def _check_author(step: Step, name: str) -> str:
    """Who gave one verdict of an inspect step: a person where they changed it (the model's is kept)."""
    return Author.HUMAN.value if name in step.original else Author.MODEL.value


def _check_annotator(step: Step, name: str) -> str | None:
    return step.annotator if name in step.original else None


def _original(step: Step) -> dict[str, Any]:
    return original_to_dict(step.original)


@dataclass(frozen=True)
class Turn:
    """One element of a trajectory: a text or an image, and whether a model should learn to produce it."""

    kind: str  # "text" | "image"
    # plan | sketch | inspect | refine | final | request (the engine's request before a stage's
    # answer) | critique (a person's reject, written as a verdict)
    stage: str
    step_id: str
    author: str
    target: bool
    text: str | None = None
    image: ImageRef | None = None
    review: str | None = None
    review_note: str = ""
    original: dict[str, Any] = field(default_factory=dict)
    annotator: str | None = (
        None  # the person behind a human action on the step (None: nobody touched it)
    )

    def provenance(self) -> dict[str, Any]:
        data = {
            "stage": self.stage,
            "step_id": self.step_id,
            "author": self.author,
            "annotator": self.annotator,
        }
        if self.review:
            data.update(review=self.review, review_note=self.review_note)
        if self.original:
            data["original"] = self.original
        return data


@dataclass(frozen=True)
class MultiTurn:
    id: str  # the branch's final step
    session_id: str
    prompt: str
    engine: str
    turns: tuple[Turn, ...]
    final_image: ImageRef | None
    split: str = "train"
    root: tuple[
        str, ...
    ] = ()  # the texts every engine context starts with (system text, prompt line)
    final_learned: bool = True  # False where a person marked the final image wrong

    @property
    def human(self) -> bool:
        return any(t.author == Author.HUMAN.value or t.review for t in self.turns)

    @property
    def annotators(self) -> list[str]:
        """Everyone behind a human action on the trajectory (a row-level `annotators`, for filtering)."""
        return sorted({t.annotator for t in self.turns if t.annotator})

    def key(self) -> str:
        parts = [self.prompt] + [
            [t.kind, t.target, t.text if t.kind == "text" else t.image.sha256] for t in self.turns
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class _Judged:
    """A verdict sample (a conflict or an alignment): its label, and whether a person gave it."""

    passed: bool
    verdict_author: str
    verdict_annotator: str | None

    @property
    def label(self) -> str:
        return POSITIVE if self.passed else NEGATIVE

    @property
    def human(self) -> bool:
        return self.verdict_author == Author.HUMAN.value

    @property
    def annotators(self) -> list[str]:
        """Everyone behind the sample's human parts (plan edit or image, and verdict)."""
        names = (
            getattr(self, "plan_annotator", None),
            getattr(self, "image_annotator", None),
            self.verdict_annotator,
        )
        return sorted({n for n in names if n})


@dataclass(frozen=True)
class ConflictSample(_Judged):
    id: str  # the inspect step
    session_id: str
    prompt: str
    instruction: str
    description: str
    passed: bool
    critique: str
    plan_step_id: str
    plan_author: str
    plan_original: dict[str, Any]
    verdict_author: str
    verdict_original: dict[str, Any] | None  # the model's check, when a person overrode it
    split: str = "train"
    plan_annotator: str | None = None  # who edited the plan
    verdict_annotator: str | None = None  # who overrode the verdict

    def key(self) -> tuple:
        return (self.prompt, self.instruction, self.description)


@dataclass(frozen=True)
class AlignmentSample(_Judged):
    id: str  # the inspect step, or the reviewed image step
    session_id: str
    prompt: str
    image: ImageRef
    image_step_id: str
    image_stage: str
    image_author: str
    instruction: str
    description: str
    passed: bool
    explanation: str
    corrective_instruction: str
    source: str  # "inspect": a verdict (the model's or a person's override); "review": a person's accept/reject
    verdict_author: str
    verdict_original: dict[str, Any] | None
    split: str = "train"
    image_annotator: str | None = None  # who drew (refined) or reviewed the image
    verdict_annotator: str | None = None  # who overrode the verdict, or accepted/rejected the image
    # the full verdict in the protocol's form (both checks): the inspect's as stored, or a person's
    # review with the plan check as stored (`provenance.review_verdict`)
    verdict: str = ""
    plan_step_id: str = ""  # the plan the image was drawn for
    verdict_step_id: str = ""  # the inspect step ("" for a review)
    overridden: bool = False  # a person changed a check of the verdict (the full verdict is theirs)

    @property
    def human(self) -> bool:
        return self.verdict_author == Author.HUMAN.value or self.overridden

    def key(self) -> tuple:
        return (self.image.sha256, self.instruction)


@dataclass
class Subsets:
    multi_turn: list[MultiTurn] = field(default_factory=list)
    conflict: list[ConflictSample] = field(default_factory=list)
    alignment: list[AlignmentSample] = field(default_factory=list)

    def extend(self, other: "Subsets") -> None:
        self.multi_turn += other.multi_turn
        self.conflict += other.conflict
        self.alignment += other.alignment


# -- text forms: the loop's own (studio/core/protocol.py), so a model learns what its engine reads --------


def plan_text(step: Step) -> str:
    return protocol.plan_text(step.instruction, step.description, step.complete)


def inspect_text(step: Step) -> str | None:
    """The verdict, or None for a step that lacks a check (it teaches no verdict)."""
    if step.plan_check is None or step.sketch_check is None:
        return None
    return protocol.verdict_text(step.plan_check, step.sketch_check)


def refine_text(step: Step) -> str:
    return protocol.refine_text(step.instruction)


def _text(step: Step, stage: str, text: str, target: bool = True) -> Turn:
    return Turn(
        "text",
        stage,
        step.id,
        step.author.value,
        target,
        text=text,
        original=_original(step),
        annotator=step.annotator,
    )


def _image(step: Step, target: bool) -> Turn:
    return Turn(
        "image",
        step.stage.value,
        step.id,
        step.author.value,
        target,
        image=step.image,
        review=step.review.value if step.review else None,
        review_note=step.review_note,
        annotator=step.annotator,
    )


def _request(step: Step, text: str) -> Turn:
    """The engine's request before a stage's answer: context, never learned."""
    return Turn("text", "request", step.id, Author.MODEL.value, False, text=text)


def _rejected(trajectory: Trajectory, branch: list[Step], step: Step) -> list[Turn]:
    """A rejected draft as the engine drew it (a refine's request and text, and the image) as context,
    then the inspect request and the person's reason as a verdict (`<sketch>no: REASON</sketch>`),
    which is learned."""
    session = trajectory.session
    turns = []
    for segment in _drawn_segments(transcript.as_drawn(step), session):
        if segment.kind == "image":
            turns.append(_image(step, target=False))
        elif segment.request:
            turns.append(_request(step, segment.text))
        else:
            turns.append(_text(step, step.stage.value, segment.text, target=False))
    turns += [
        _request(step, transcript.requests(session, step.round)[Stage.INSPECT]),
        Turn(
            "text",
            "critique",
            step.id,
            Author.HUMAN.value,
            True,
            text=reject_verdict(branch, step),
            review=Review.REJECTED.value,
            review_note=step.review_note,
            annotator=step.annotator,
        ),
    ]
    return turns


def _drawn_segments(step: Step, session) -> list[transcript.Segment]:
    """What the engine's context held when it drew `step` (`transcript.segments`), where a redraw that
    answered a person's reject reason was asked to answer it (`transcript.stage_request`) in place of
    its stage's plain request."""
    segments = transcript.segments(step, session)
    given = person_input(step)
    if given is None or given.kind != "reason" or step.stage not in transcript.IMAGE_STAGES:
        return segments
    request = transcript.stage_request(step.stage, session, step.round, given)
    if request is None:
        return segments
    asked = transcript.Segment("text", request, request=True)
    return [asked] + [segment for segment in segments if not segment.request]


def _answer(step: Step, text: str, role: str) -> str:
    """What a step's answer text is in the data: a plan target without the engine's note lines, else
    the text as the engine's context holds it."""
    return plan_target(step) if step.stage is Stage.PLAN and role == TARGET else text


def _step_turns(step: Step, session, role_text: str, role_image: str) -> list[Turn]:
    """One kept step as the engine's transcript holds it (`transcript.segments`): its request, its
    answer text and its image, each marked by the rule's role."""
    turns: list[Turn] = []
    for segment in _drawn_segments(step, session):
        if segment.kind == "image":
            if role_image != OUT:
                turns.append(_image(step, target=role_image == TARGET))
        elif segment.request:  # the studio's request, whatever the correction it asks to answer
            turns.append(_request(step, segment.text))
        elif role_text != OUT:
            turns.append(
                _text(
                    step,
                    step.stage.value,
                    _answer(step, segment.text, role_text),
                    role_text == TARGET,
                )
            )
    return turns if any(t.stage != "request" for t in turns) else []


def multi_turn(
    trajectory: Trajectory, branch: list[Step], unstamped_sha: Callable[[ImageRef], str]
) -> MultiTurn | None:
    """A finished branch as the engine's transcript, each part marked target or context by the rule
    (`studio.export.provenance.roles`); None for an unfinished branch.

    `unstamped_sha` gives a final image's hash without its trajectory chunk, so a final that
    only re-saves the last drawn image is not learned twice.
    """
    if not branch or branch[-1].stage is not Stage.FINAL:
        return None
    session = trajectory.session
    said = person_verdicts(trajectory, branch)
    turns: list[Turn] = []
    last_sha = None
    for step in branch[:-1]:
        if step.stage in (Stage.SKETCH, Stage.REFINE):
            for rejected in rejected_before(trajectory, step):
                turns += _rejected(trajectory, branch, rejected)
            if step.review is Review.REJECTED:  # rejected and not (yet) redrawn
                turns += _rejected(trajectory, branch, step)
                continue
        role = roles(step, branch, said)
        kept = _step_turns(step, session, role.text, role.image)
        turns += kept
        if any(t.kind == "image" for t in kept):
            last_sha = step.image.sha256
    final = branch[-1]
    role = roles(final, branch, said)
    if final.image is not None and unstamped_sha(final.image) != last_sha and role.image != OUT:
        turns.append(_image(final, target=role.image == TARGET))
    return MultiTurn(
        final.id,
        session.id,
        session.prompt,
        session.engine,
        tuple(turns),
        final.image,
        root=tuple(transcript.root_texts(session)),
        final_learned=role.image == TARGET,
    )


def inspect_samples(
    trajectory: Trajectory, branch: list[Step]
) -> tuple[list[ConflictSample], list[AlignmentSample]]:
    """The two inspect subsets from the verdicts on a branch, and from a person's reviews of its images."""
    session = trajectory.session
    said = person_verdicts(trajectory, branch)
    conflicts: list[ConflictSample] = []
    alignments: list[AlignmentSample] = []
    for index, step in enumerate(branch):
        before = branch[:index]
        plan = last(before, Stage.PLAN)
        if step.stage is Stage.INSPECT and roles(step, branch, said).text != TARGET:
            continue  # a verdict that contradicts a person's, or could not be read: no sample
        if step.stage is Stage.INSPECT and plan is not None:
            if step.plan_check is not None:
                conflicts.append(
                    ConflictSample(
                        step.id,
                        session.id,
                        session.prompt,
                        plan.instruction or "",
                        plan.description or "",
                        step.plan_check.passed,
                        step.plan_check.critique,
                        plan.id,
                        plan.author.value,
                        _original(plan),
                        _check_author(step, "plan_check"),
                        check_to_dict(step.original.get("plan_check")),
                        plan_annotator=plan.annotator,
                        verdict_annotator=_check_annotator(step, "plan_check"),
                    )
                )
            shown = last_image(before)
            if step.sketch_check is not None and shown is not None and shown.image is not None:
                following = branch[index + 1] if index + 1 < len(branch) else None
                corrective = (
                    following.instruction or ""
                    if following
                    and following.stage is Stage.REFINE
                    and roles(following, branch, said).text == TARGET
                    else ""
                )
                alignments.append(
                    AlignmentSample(
                        step.id,
                        session.id,
                        session.prompt,
                        shown.image,
                        shown.id,
                        shown.stage.value,
                        shown.author.value,
                        plan.instruction or "",
                        plan.description or "",
                        step.sketch_check.passed,
                        step.sketch_check.critique,
                        "" if step.sketch_check.passed else corrective,
                        "inspect",
                        _check_author(step, "sketch_check"),
                        check_to_dict(step.original.get("sketch_check")),
                        image_annotator=shown.annotator,
                        verdict_annotator=_check_annotator(step, "sketch_check"),
                        verdict=protocol.verdict_text(step.plan_check, step.sketch_check),
                        plan_step_id=plan.id,
                        verdict_step_id=step.id,
                        overridden=bool(overridden_checks(step)),
                    )
                )
        elif step.stage in (Stage.SKETCH, Stage.REFINE) and plan is not None:
            for reviewed in rejected_before(trajectory, step) + [step]:
                if reviewed.review is not None and reviewed.image is not None:
                    alignments.append(
                        AlignmentSample(
                            reviewed.id,
                            session.id,
                            session.prompt,
                            reviewed.image,
                            reviewed.id,
                            reviewed.stage.value,
                            reviewed.author.value,
                            plan.instruction or "",
                            plan.description or "",
                            reviewed.review is Review.ACCEPTED,
                            reviewed.review_note,
                            "",
                            "review",
                            Author.HUMAN.value,
                            None,
                            image_annotator=reviewed.annotator,
                            verdict_annotator=reviewed.annotator,
                            verdict=review_verdict(branch, reviewed),
                            plan_step_id=plan.id,
                        )
                    )
    return conflicts, alignments


def derive(
    trajectory: Trajectory, branches: Iterable[list[Step]], unstamped_sha: Callable[[ImageRef], str]
) -> Subsets:
    """All three subsets from the chosen branches of one session (a shared step counts once)."""
    out = Subsets()
    seen: set[tuple[str, str]] = set()
    for branch in branches:
        sample = multi_turn(trajectory, branch, unstamped_sha)
        if sample is not None:
            out.multi_turn.append(sample)
        conflicts, alignments = inspect_samples(trajectory, branch)
        for name, items, target in (
            ("c", conflicts, out.conflict),
            ("a", alignments, out.alignment),
        ):
            for item in items:
                if (name, item.id) not in seen:
                    seen.add((name, item.id))
                    target.append(item)
    return out


def with_split(items: list, split_of: Callable[[str], str]) -> list:
    return [dataclasses.replace(item, split=split_of(item.session_id)) for item in items]
