"""Loss on what is right, mistakes as context: the one rule every export format uses.

Per step of a branch, from its provenance (who wrote it, how a person reviewed it, whether a person's
verdict overrode it, whether it changed anything, what the engine did with a person's input), each
of its parts — its text (a plan, a verdict, a refine instruction) and its image — is one of:

- TARGET: a model should learn to produce it (need_loss);
- CONTEXT: it is seen, not learned (a mistake a person caught, shown so that the person's verdict and
  correction that follow it are learned in context);
- OUT: it is not exported at all (a refine that changed nothing, a verdict that could not be read).

| step | its text | its image |
|---|---|---|
| plan a person edited | target | – |
| plan whose check a person overrode to "no" (model's or edited) | context | – |
| other plan | target | – |
| sketch / refine image a person rejected | context | context |
| image whose sketch check a person overrode to "no" | – | context |
| a person's verdict (an overridden inspect) | target | – |
| a reject with a reason (written as a verdict) | target | – |
| model verdict contradicting a person's (passes what a person failed, fails what one passed) | context | – |
| model verdict | target | – |
| verdict without both checks | out | – |
| a person's own refine | target | target |
| model refine after a person's "no" the engine did not act on (`used` not True) | context | context |
| refine that changed nothing (`unchanged`) | out | out |
| other model refine | target | target |
| final image a person rejected or marked wrong | – | context |

A model's own "no" does not make a step context: only a person's word marks a step wrong. A format
that cannot mark a part "context, not a target" (`think-trace`) leaves the context parts out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core import protocol
from ..core.domain import (
    Author,
    Check,
    Review,
    Stage,
    Step,
    Trajectory,
    last,
    last_image,
    overridden_checks,
    person_input,
    unchanged,
)
from ..engines.bagel import transcript
from .select import rejected_before

TARGET, CONTEXT, OUT = "target", "context", "out"
NO_NOTE = "This draft does not match the instruction; draw it again."
# The offline engine's first plan opens with a line saying what it read in the prompt
# (studio/engines/offline/plan.py's UNDERSTOOD): a note for a person, not part of the plan to learn.
NOTE_LINES = ("Understood:",)


@dataclass(frozen=True)
class Roles:
    """What a step's text and image are in training data: TARGET, CONTEXT or OUT."""

    text: str
    image: str
    why: str = ""


@dataclass
class Verdicts:
    """What people said on a branch: plans (by step id) and images (by sha256) they passed or failed."""

    wrong_plans: set[str] = field(default_factory=set)
    right_plans: set[str] = field(default_factory=set)
    wrong_images: set[str] = field(default_factory=set)
    right_images: set[str] = field(default_factory=set)


def person_verdicts(trajectory: Trajectory, branch: list[Step]) -> Verdicts:
    """Every person's verdict on the branch: overridden checks, accepts and rejects (of the branch's
    images and of the rejected attempts beside them)."""
    said = Verdicts()
    for index, step in enumerate(branch):
        if step.stage is Stage.INSPECT:
            before = branch[:index]
            plan, shown = last(before, Stage.PLAN), last_image(before)
            for name in overridden_checks(step):
                check = getattr(step, name)
                if check is None:
                    continue
                if name == "plan_check" and plan is not None:
                    (said.right_plans if check.passed else said.wrong_plans).add(plan.id)
                if name == "sketch_check" and shown is not None and shown.image is not None:
                    (said.right_images if check.passed else said.wrong_images).add(
                        shown.image.sha256
                    )
        if step.stage in (Stage.SKETCH, Stage.REFINE, Stage.FINAL):
            for reviewed in rejected_before(trajectory, step) + [step]:
                if reviewed.image is not None and reviewed.review is not None:
                    good = reviewed.review is Review.ACCEPTED
                    (said.right_images if good else said.wrong_images).add(reviewed.image.sha256)
    said.right_images -= said.wrong_images  # a person's "no" outweighs another's "yes"
    said.right_plans -= said.wrong_plans
    return said


def plans_failed(trajectory: Trajectory) -> set[str]:
    """The plans a person failed anywhere in the session's tree (an overridden plan check of "no" on
    any branch through the plan): a plan a person marked wrong is never a target, on any branch."""
    failed = set()
    for step in trajectory.steps.values():
        check = step.plan_check
        if "plan_check" in overridden_checks(step) and check is not None and not check.passed:
            plan = last(trajectory.branch(step.id)[:-1], Stage.PLAN)
            if plan is not None:
                failed.add(plan.id)
    return failed


def _answers_person_verdict(branch: list[Step], index: int) -> bool:
    """A model refine that follows an inspect where a person failed a check: it must answer that verdict."""
    before = last(branch[:index], Stage.INSPECT)
    return bool(
        before is not None
        and any(
            not getattr(before, n).passed for n in overridden_checks(before) if getattr(before, n)
        )
    )


def contradicts(step: Step, branch: list[Step], said: Verdicts) -> str:
    """Why a model's inspect contradicts a person's verdict on the same plan or image ("" if it does not)."""
    index = _position(branch, step)
    plan, shown = last(branch[:index], Stage.PLAN), last_image(branch[:index])
    if step.plan_check is not None and plan is not None:
        if step.plan_check.passed and plan.id in said.wrong_plans:
            return "passes a plan a person failed"
        if not step.plan_check.passed and plan.id in said.right_plans:
            return "fails a plan a person passed"
    if step.sketch_check is not None and shown is not None and shown.image is not None:
        sha = shown.image.sha256
        if step.sketch_check.passed and sha in said.wrong_images:
            return "passes an image a person failed"
        if not step.sketch_check.passed and sha in said.right_images:
            return "fails an image a person passed or accepted"
    return ""


def roles(step: Step, branch: list[Step], said: Verdicts) -> Roles:
    """The rule (the table above) for one step on `branch`; `said` is `person_verdicts` of the branch."""
    sha = step.image.sha256 if step.image is not None else None
    image_wrong = step.review is Review.REJECTED or (sha is not None and sha in said.wrong_images)
    image = (CONTEXT if image_wrong else TARGET) if sha is not None else OUT
    if step.stage is Stage.PLAN:
        if step.id in said.wrong_plans:
            return Roles(CONTEXT, OUT, "a person failed this plan")
        return Roles(TARGET, OUT)
    if step.stage is Stage.INSPECT:
        if step.plan_check is None or step.sketch_check is None:
            return Roles(OUT, OUT, "the verdict could not be read")
        if overridden_checks(step):
            return Roles(TARGET, OUT, "a person's verdict")
        why = contradicts(step, branch, said)
        return Roles(CONTEXT, OUT, why) if why else Roles(TARGET, OUT)
    if step.stage is Stage.SKETCH:
        return Roles(OUT, image, "a person rejected or failed this image" if image_wrong else "")
    if step.stage is Stage.REFINE:
        if unchanged(step):
            return Roles(OUT, OUT, unchanged(step))
        if step.review is Review.REJECTED:
            return Roles(CONTEXT, CONTEXT, "a person rejected this refine")
        if step.author is Author.MODEL:
            index = _position(branch, step)
            given = person_input(step)
            answers = (given is not None and given.kind == "verdict") or _answers_person_verdict(
                branch, index
            )
            if answers and not (given is not None and given.used is True):
                return Roles(CONTEXT, CONTEXT, "the engine did not act on the person's verdict")
        return Roles(TARGET, image, "a person failed this image" if image_wrong else "")
    if step.stage is Stage.FINAL:
        shown = last_image(branch[: _position(branch, step)])
        shown_wrong = (
            shown is not None
            and shown.image is not None
            and shown.image.sha256 in said.wrong_images
        )
        wrong = image_wrong or shown_wrong
        return Roles(OUT, (CONTEXT if wrong else TARGET) if sha else OUT)
    return Roles(OUT, OUT)


def plan_target(step: Step) -> str:
    """A plan in the protocol's form, without the engine's note lines (what a planner should write)."""
    lines = [
        line
        # "\n" only: str.splitlines would also cut (and drop) \x1c-\x1e, \x85, \u2028 in a person's text
        for line in (step.instruction or "").split("\n")
        if not line.strip().startswith(NOTE_LINES)
    ]
    return protocol.plan_text("\n".join(lines).strip(), step.description, step.complete)


def _position(branch: list[Step], step: Step) -> int:
    """Where `step` is on the branch, or where it would be (a rejected sibling: after its parent)."""
    ids = [s.id for s in branch]
    if step.id in ids:
        return ids.index(step.id)
    return ids.index(step.parent_id) + 1 if step.parent_id in ids else len(branch)


def stored_plan_check(branch: list[Step], step: Step) -> Check:
    """The plan check as stored for the plan an accepted image was drawn for: the last inspect of that
    plan before the image, else the first after it on the branch; a plain pass where no inspect judged
    it."""
    index = _position(branch, step)
    plan = last(branch[:index], Stage.PLAN)
    start = _position(branch, plan) + 1 if plan is not None else 0
    stop = next(
        (i for i in range(index, len(branch)) if branch[i].stage is Stage.PLAN), len(branch)
    )
    before = [s for s in branch[start:index] if s.stage is Stage.INSPECT and s.plan_check]
    after = [s for s in branch[index:stop] if s.stage is Stage.INSPECT and s.plan_check]
    found = before[-1] if before else after[0] if after else None
    return found.plan_check if found is not None else Check(True)


def reject_verdict(branch: list[Step], rejected: Step) -> str:
    """A reject as a verdict in the protocol's form, as the engine puts it into the context of the redraw
    that answers it (`transcript.reason_verdict`): the plan check stored on the branch before the
    rejected image (`transcript.stored_plan_check`; a pass where none: a person who rejected only the
    image left the plan standing; an inspect of the rejected image itself is not in that context), and
    the person's reason as a failed sketch check (`<sketch>no: REASON</sketch>`)."""
    note = rejected.review_note.strip() or NO_NOTE
    before = branch[: _position(branch, rejected)]
    return transcript.reason_verdict(transcript.stored_plan_check(before), note)


def review_verdict(branch: list[Step], reviewed: Step) -> str:
    """An accept or a reject as a full verdict (the plan check as stored)."""
    if reviewed.review is Review.REJECTED:
        return reject_verdict(branch, reviewed)
    return protocol.verdict_text(
        stored_plan_check(branch, reviewed), Check(True, reviewed.review_note.strip())
    )
