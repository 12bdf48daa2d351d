"""The requests the GPU engines send their models for plan, inspect and refine, and what the engines
make of the answers.

The tags themselves (how a plan, a verdict and a refine are written and read) belong to
studio/core/protocol.py; this module reads answers with its lenient mode. Models that are not trained on
the tags still answer something: a plan or a refine then falls back to the plain text, and says so in
the stage's meta (`format_ok: false`); a verdict that says neither yes nor no is an error
(`protocol.UnreadableText`), never a pass. Pure Python: no torch.
"""

from __future__ import annotations

import re
from typing import Any

from ..core import protocol
from ..core.domain import Check, Mode, Stage, Step, last
from .base import InspectResult, PlanResult, StageContext

PLAN_SYSTEM = (
    "You plan an image that a painter builds step by step: plan, sketch, inspect, refine. Each plan adds "
    "one part of the scene, in an order that never contradicts the prompt. Answer with three tags only:\n"
    "<ins>the next instruction: what to draw now</ins>\n"
    "<des>a description of the whole image after this step</des>\n"
    "<done>yes</done> when nothing of the prompt is left to draw after this step, otherwise <done>no</done>."
)
PLAN_SYSTEM_SINGLE = (
    "You plan an image that a painter draws in one step. Answer with three tags only:\n"
    "<ins>one instruction that draws everything the prompt asks for</ins>\n"
    "<des>a description of the whole image</des>\n<done>yes</done>"
)
INSPECT_SYSTEM = (
    "You inspect a draft image against its plan. Check two things: (1) does the plan (the instruction and "
    "the description) contradict the prompt? (2) does the image show what the instruction and the "
    "description say: the objects, their number, colours and positions? Answer with two tags only:\n"
    "<plan>yes</plan> or <plan>no: what contradicts the prompt</plan>\n"
    "<sketch>yes</sketch> or <sketch>no: what is wrong or missing in the image</sketch>"
)
REFINE_SYSTEM = (
    "You correct a draft image. Write one short editing instruction that fixes the problem the inspector "
    "found, inside <refine>…</refine>, and nothing else."
)

MAX_TEXT = 1000


def thought(text: str) -> str:
    """What a model wrote inside <think>…</think> (kept in the step's meta, never in a context)."""
    match = re.search(r"<think>(.*?)(?:</think>|$)", text, re.S | re.I)
    return match.group(1).strip() if match else ""


def _clean(text: str) -> str:
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    text = re.sub(r"<think>.*?</think>", " ", text, flags=re.S | re.I)
    text = re.sub(r"</?[a-z_]+>", " ", text, flags=re.I)
    return re.sub(r"\s+", " ", text).strip()[:MAX_TEXT]


def _first_line(text: str) -> str:
    for line in re.sub(r"<think>.*?</think>", "", text, flags=re.S | re.I).splitlines():
        line = _clean(line)
        if line:
            return line[:300]
    return ""


# -- what the branch says so far -------------------------------------------------------------


def latest_plan(branch: list[Step]) -> Step | None:
    return last(branch, Stage.PLAN)


def latest_failure(branch: list[Step]) -> str:
    """The critique of the newest failed verdict since the newest image, if any."""
    inspect = last(branch, Stage.INSPECT)
    if inspect is None:
        return ""
    parts = [
        c.critique
        for c in (inspect.plan_check, inspect.sketch_check)
        if c is not None and not c.passed
    ]
    return " ".join(p for p in parts if p)


def image_description(ctx: StageContext) -> str:
    """What the next image should show: the plan's <des>, else its <ins>, else the prompt."""
    plan = latest_plan(ctx.branch)
    if plan is not None:
        return plan.description or plan.instruction or ctx.prompt
    return ctx.prompt


# -- plan -------------------------------------------------------------------------------------


def plan_request(ctx: StageContext) -> tuple[str, str]:
    """(system, user) for a planner that sees no earlier turns: the branch so far is summarised."""
    plan = latest_plan(ctx.branch)
    lines = [f"Prompt: {ctx.prompt}"]
    if plan is not None:
        lines.append(f"Drawn so far: {plan.description or plan.instruction}")
    else:
        lines.append("Nothing is drawn yet.")
    failure = latest_failure(ctx.branch)
    if failure:
        lines.append(f"The inspector said: {failure}")
    if ctx.mode is not Mode.SINGLE:
        lines.append(f"Steps left, this one included: {max(1, ctx.rounds_left + 1)}.")
    lines.append("Write the next plan.")
    return (PLAN_SYSTEM_SINGLE if ctx.mode is Mode.SINGLE else PLAN_SYSTEM), "\n".join(lines)


def plan_result(raw: str, ctx: StageContext, **meta: Any) -> PlanResult:
    """Parse a plan; fall back to the plain text (or the prompt) when the tags are missing."""
    read = protocol.read_plan(raw)
    ins, des, done = read.instruction, read.description, read.complete
    format_ok = bool(ins) and bool(des) and done is not None
    previous = latest_plan(ctx.branch)
    if not ins:
        line = _first_line(raw)
        ins = line or (
            f"Draw {ctx.prompt}" if previous is None else f"Complete the image: {ctx.prompt}"
        )
    if not des:
        des = ins if previous is None else f"{previous.description or previous.instruction}; {ins}"
    complete = True if ctx.mode is Mode.SINGLE else bool(done)
    return PlanResult(
        _clean(ins),
        _clean(des),
        complete,
        meta={"raw": raw[: MAX_TEXT * 2], "format_ok": format_ok, **meta},
    )


# -- inspect ----------------------------------------------------------------------------------


def inspect_request(ctx: StageContext, evidence: str = "") -> tuple[str, str]:
    plan = latest_plan(ctx.branch)
    lines = [f"Prompt: {ctx.prompt}"]
    if plan is not None:
        lines += [f"Instruction: {plan.instruction}", f"Description: {plan.description}"]
    refine = last(ctx.branch, Stage.REFINE)
    if refine is not None and plan is not None and refine.created_at > plan.created_at:
        lines.append(f"Last correction: {refine.instruction}")
    if evidence:
        lines.append(f"An object detector found: {evidence}")
    lines.append("The image is the current draft. Give your two verdicts.")
    return INSPECT_SYSTEM, "\n".join(lines)


def inspect_result(
    raw: str, *, evidence_boxes: tuple = (), detector_problems: list[str] | None = None, **meta: Any
) -> InspectResult:
    """Parse a verdict; one that says neither yes nor no raises protocol.UnreadableText (never a pass)."""
    try:
        verdict = protocol.read_verdict(raw)
    except protocol.UnreadableText as error:
        # the detector's findings still fail the sketch; only the model's word is missing
        if detector_problems:
            error.readable["sketch_check"] = Check(
                False, " ".join(detector_problems), tuple(evidence_boxes)
            )
        raise
    plan_ok, plan_text = verdict.plan.passed, _clean(verdict.plan.critique)
    sketch_ok, sketch_text = verdict.sketch.passed, _clean(verdict.sketch.critique)
    plan_check = Check(
        plan_ok,
        plan_text
        or ("The plan agrees with the prompt." if plan_ok else "The plan contradicts the prompt."),
        verdict.plan.evidence,
    )
    if not sketch_text:
        sketch_text = (
            "The image follows the plan." if sketch_ok else "The image does not follow the plan."
        )
    if detector_problems:
        found = " ".join(detector_problems)
        sketch_text = found if sketch_ok else f"{sketch_text} {found}"
        sketch_ok = False
    sketch_check = Check(
        sketch_ok, sketch_text.strip(), tuple(evidence_boxes) or verdict.sketch.evidence
    )
    return InspectResult(
        plan_check, sketch_check, meta={"raw": raw[: MAX_TEXT * 2], "format_ok": True, **meta}
    )


# -- refine -----------------------------------------------------------------------------------


def refine_request(ctx: StageContext) -> tuple[str, str]:
    lines = [f"Prompt: {ctx.prompt}", f"The image should show: {image_description(ctx)}"]
    failure = latest_failure(ctx.branch)
    lines.append(
        f"The inspector found: {failure}"
        if failure
        else "Make the image match the description better."
    )
    return REFINE_SYSTEM, "\n".join(lines)


def refine_instruction(raw: str, ctx: StageContext) -> tuple[str, bool]:
    """(the <refine> instruction, whether the tag was there); falls back to the text or the critique."""
    found = protocol.read_refine(raw)
    if found:
        return _clean(found), True
    line = _first_line(raw)
    if line:
        return line, False
    failure = latest_failure(ctx.branch)
    return (
        f"Fix the image: {failure}"
        if failure
        else f"Make the image match: {image_description(ctx)}"
    ), False


def redraw_prompt(ctx: StageContext, instruction: str) -> str:
    """For a model that cannot edit pixels: the whole description with the correction folded in."""
    return f"{image_description(ctx)}. {instruction}".strip()
