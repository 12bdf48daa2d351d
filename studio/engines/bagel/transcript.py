"""What goes into a BAGEL context, as text: the requests, the canonical answers, and the keys of contexts.

The released model does not decide when to draw, so the studio alternates: plan = text generation
after a request for `<ins>`/`<des>`; sketch = image generation on the context; inspect = text
generation over the context with the sketch in it; refine = a `<refine>` text, then image generation
on the context that holds the sketch (BAGEL's editing set-up).

What goes into a context is always the canonical form of what the store holds, written by
studio/core/protocol.py (e.g. `<ins>…</ins><des>…</des><done>…</done>`), so a context rebuilt by prefill
from the stored steps equals the one a continuous run had; the keys below name a context by
everything that went into it.
A person's correction goes in in the same form: an overridden verdict is the inspect step as stored
(the person's checks, so the model's replaced text never enters), and the refine after it is asked to
answer it (`refine_request`); a rejected image with its reason conditions its redraw as the image, an
inspection whose sketch check is `no: REASON` (`reason_verdict`) and a request to redraw that answers it
(`redraw_request`). The rejection conditions the redraw only: the stored redraw puts into its branch's
context what any stored step of its stage puts (a rejected image puts nothing).
This module is plain text handling: no torch, no worker; the exporters call the same functions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ...core import protocol
from ...core.domain import Check, Mode, PersonInput, Review, Session, Stage, Step, person_input

SYSTEM = (
    "You build an image step by step: plan, sketch, inspect, refine. A plan gives the next instruction in "
    "<ins>…</ins>, the whole scene after it in <des>…</des> and <done>yes|no</done>; an inspection checks "
    "the plan against the prompt and the image against the plan in <plan>…</plan><sketch>…</sketch>; a "
    "refinement says what to fix in <refine>…</refine>."
)
INSPECT_REQUEST = (
    "Inspect the image: does the plan contradict the prompt, and does the image follow the plan? "
    "Answer <plan>yes</plan> or <plan>no: why</plan>, then <sketch>yes</sketch> or "
    "<sketch>no: what is wrong</sketch>."
)
REFINE_REQUEST = "Refine the image: say what to fix in <refine>…</refine>."
THINK = " Think first inside <think>…</think>."
IMAGE_STAGES = (Stage.SKETCH, Stage.REFINE)


def plan_request(round_no: int, max_rounds: int, mode: Mode) -> str:
    if mode is Mode.SINGLE:
        return (
            "Plan the whole image in one step: <ins>one instruction for everything</ins>"
            "<des>the whole scene</des><done>yes</done>."
        )
    return (
        f"Plan step {round_no} of at most {max_rounds}: the next instruction in <ins>…</ins>, the whole "
        "scene after it in <des>…</des>, and <done>yes</done> if the prompt is then complete, else <done>no</done>."
    )


def refine_request(verdict: str | None = None) -> str:
    """The request before a refine's `<refine>` text; `verdict`: the critique of a person's verdict the
    refine answers (said again here, so the text-guided drawing is conditioned on it too)."""
    if not verdict:
        return REFINE_REQUEST
    return (
        f"A person judged the image: {protocol.escape(verdict)}. Refine the image so that it answers "
        "them: say what to fix in <refine>…</refine>."
    )


def redraw_request(stage: Stage, reason: str) -> str:
    """The request before a redraw that answers a person's reject reason (after `reason_verdict`)."""
    said = protocol.escape(reason)
    if stage is Stage.REFINE:
        return (
            f"A person rejected the refined image above: {said}. Refine the image again so that it "
            "answers them: say what to fix in <refine>…</refine>."
        )
    return f"A person rejected the image above: {said}. Draw it again for the same plan so that it answers them."


def stored_plan_check(branch: list[Step]) -> Check | None:
    """The plan check as stored for the plan the branch ends in: the latest inspect's since that plan
    (a person's where they overrode it); None where no inspect judged it."""
    for step in reversed(branch):
        if step.stage is Stage.PLAN:
            return None
        if step.stage is Stage.INSPECT and step.plan_check is not None:
            return step.plan_check
    return None


def reason_verdict(plan_check: Check | None, reason: str) -> str:
    """A person's reject reason as the protocol's verdict on the rejected image: the plan check as stored
    (None, where no inspect judged the plan, writes `yes`: the redraw keeps the plan), then
    `<sketch>no: REASON</sketch>`."""
    return protocol.verdict_text(plan_check or Check(True), Check(False, reason.strip()))


def answers_verdict(step: Step) -> str | None:
    """The critique of the person's verdict a stored refine answered (its `person_input`), else None."""
    given = person_input(step)
    return given.text if given is not None and given.kind == "verdict" else None


def stage_request(
    stage: Stage, session: Session, round_no: int, person: PersonInput | None = None
) -> str | None:
    """The request a model stage adds to its context before it answers, given the person's correction it
    answers (`StageContext.person`); None for a sketch that answers no reason (it draws on the plan)."""
    if person is not None and person.kind == "reason" and stage in IMAGE_STAGES:
        return redraw_request(stage, person.text)
    if stage is Stage.REFINE:
        return refine_request(
            person.text if person is not None and person.kind == "verdict" else None
        )
    if stage in (Stage.PLAN, Stage.INSPECT):
        return requests(session, round_no)[stage]
    return None


def verdict_text(plan_check: Check | None, sketch_check: Check | None) -> str | None:
    """None for a step without both checks (a verdict that could not be read): no answer goes into the
    context, rather than a verdict the model never gave."""
    if plan_check is None or sketch_check is None:
        return None
    return protocol.verdict_text(plan_check, sketch_check)


def prompt_line(prompt: str) -> str:
    return f"Prompt: {prompt}"


def root_texts(session: Session) -> list[str]:
    """The two texts every context starts with."""
    return [SYSTEM, prompt_line(session.prompt)]


@dataclass(frozen=True)
class Segment:
    """One piece of a context: a text, or the image a stored step holds."""

    kind: str  # "text" | "image"
    text: str = ""
    step: Step | None = None  # for images: the step holding the ImageRef
    snapshot: bool = False  # a request that begins an image's conditioning text (text-CFG drops it)
    request: bool = False  # the studio's request before a stage's answer (never a model's answer)

    def fingerprint(self) -> tuple[str, str]:
        if self.kind == "image":
            return ("image", self.step.image.sha256 if self.step and self.step.image else "")
        return ("text", self.text)


def thinks(params: dict[str, Any]) -> bool:
    value = params.get("think", False)
    return (
        value
        if isinstance(value, bool)
        else str(value).strip().lower() in ("1", "true", "yes", "on")
    )


def requests(session: Session, round_no: int) -> dict[Stage, str]:
    """The request texts before each stage's answer; thinking (a session setting) is asked for in them.
    The thoughts themselves are kept in the step's meta, never in the context."""
    settings = session.settings
    think = THINK if thinks(settings.engine_params) else ""
    return {
        Stage.PLAN: plan_request(round_no, settings.max_rounds, settings.mode) + think,
        Stage.INSPECT: INSPECT_REQUEST + think,
        Stage.REFINE: REFINE_REQUEST,
    }


def as_drawn(rejected: Step) -> Step:
    """A rejected attempt as it was before the person rejected it: `segments` of it are what it put into
    the context, which is what the redraw that answers its reason is conditioned on."""
    return rejected.replace(review=None, review_note="")


def reason_segments(rejected: Step, plan_check: Check | None, session: Session) -> list[Segment]:
    """What follows a rejected attempt (`segments(as_drawn(rejected))`) in the context of the redraw that
    answers its reason: the inspection request and the person's verdict (the redraw's own request,
    `stage_request`, comes after them)."""
    return [
        Segment("text", requests(session, rejected.round)[Stage.INSPECT], request=True),
        Segment("text", reason_verdict(plan_check, rejected.review_note)),
    ]


def segments(step: Step, session: Session) -> list[Segment]:
    """What one stored step puts into its branch's context (a rejected image puts nothing)."""
    has_image = step.image is not None and step.review is not Review.REJECTED
    if step.stage is Stage.PLAN:
        return [
            Segment("text", requests(session, step.round)[Stage.PLAN], snapshot=True, request=True),
            Segment("text", protocol.plan_text(step.instruction, step.description, step.complete)),
        ]
    if step.stage is Stage.SKETCH:
        return [Segment("image", step=step)] if has_image else []
    # a verdict that could not be read leaves its request, and no answer
    if step.stage is Stage.INSPECT:
        verdict = verdict_text(step.plan_check, step.sketch_check)
        return [Segment("text", requests(session, step.round)[Stage.INSPECT], request=True)] + (
            [Segment("text", verdict)] if verdict is not None else []
        )
    if step.stage is Stage.REFINE:
        return [
            Segment("text", refine_request(answers_verdict(step)), snapshot=True, request=True),
            Segment("text", protocol.refine_text(step.instruction)),
        ] + ([Segment("image", step=step)] if has_image else [])
    return []


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def root_key(session: Session) -> str:
    return _digest("root", session.id, SYSTEM, session.prompt)


def step_key(previous: str, step: Step, session: Session) -> str:
    return _digest(previous, [s.fingerprint() for s in segments(step, session)])


def pending_key(previous: str, stage: Stage, seed: int | None, instruction: str | None) -> str:
    """Where an image stage leaves its context before the store has named the image (by its sha256)."""
    return _digest("pending", previous, stage.value, seed, instruction or "")


def branch_keys(branch: list[Step], session: Session) -> list[str]:
    """keys[i] names the context after the first i steps of the branch (keys[0]: the root texts)."""
    keys = [root_key(session)]
    for step in branch:
        keys.append(step_key(keys[-1], step, session))
    return keys


def candidates(branch: list[Step], keys: list[str]) -> list[tuple[int, str]]:
    """(prefix length, key) of every context that could continue this branch, longest first: each prefix's
    own key, and for an image step also the key its stage stashed under before the image had a name."""
    found: list[tuple[int, str]] = []
    for i in range(len(branch), -1, -1):
        found.append((i, keys[i]))
        if i > 0 and branch[i - 1].stage in IMAGE_STAGES and branch[i - 1].image is not None:
            step = branch[i - 1]
            found.append((i, pending_key(keys[i - 1], step.stage, step.seed, step.instruction)))
    return found
