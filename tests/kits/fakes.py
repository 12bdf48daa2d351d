"""A scripted engine for testing the runner and store — a stand-in for a real engine.

It stands in for the model behind an engine: it plans one part of the prompt per
round (parts separated by " and "), draws a flat-coloured square whose colour comes
from the seed (so a redraw with a new seed gives a different image), and fails the
sketch check in the rounds listed in `fail_rounds` until a refine fixes it. It is
never registered in the product; tests register it under a name of their own.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PIL import Image

from studio.core.domain import Check, Stage, Step
from studio.engines.base import (
    Capabilities,
    Engine,
    FinalResult,
    ImageResult,
    InspectResult,
    PlanResult,
    RefineResult,
    StageContext,
)


def _square(seed: int, size: int = 32) -> Image.Image:
    colour = (seed % 251, (seed // 251) % 251, (seed // 63001) % 251)
    return Image.new("RGB", (size, size), colour)


class ScriptedEngine(Engine):
    name = "scripted"
    label = "scripted test engine (flat squares)"
    capabilities = Capabilities(region_edit=True)

    def __init__(
        self,
        fail_rounds: tuple[int, ...] = (),
        plan_fail_word: str = "WRONG",
        delay: float = 0.0,
        gate: Path | None = None,
        started: Path | None = None,
    ):
        self.fail_rounds = set(fail_rounds)
        self.plan_fail_word = plan_fail_word
        self.delay = delay
        self.gate = gate  # when set, sketch waits until this file exists (for kill tests)
        self.started = started  # touched when a sketch begins
        self.calls: list[Stage] = []
        self.lock = threading.Lock()

    def _record(self, stage: Stage) -> None:
        with self.lock:
            self.calls.append(stage)

    def plan(self, ctx: StageContext) -> PlanResult:
        self._record(Stage.PLAN)
        parts = [p.strip() for p in ctx.prompt.split(" and ")]
        done = sum(1 for s in ctx.branch if s.stage is Stage.PLAN)
        index = min(done, len(parts) - 1)
        return PlanResult(
            f"draw {parts[index]}",
            ", ".join(parts[: index + 1]),
            complete=index == len(parts) - 1,
            meta={"part": index},
        )

    def sketch(self, ctx: StageContext) -> ImageResult:
        self._record(Stage.SKETCH)
        if self.started is not None:
            self.started.touch()
        if self.gate is not None:
            while not self.gate.exists():
                ctx.progress(0.5, "waiting for the gate")
                threading.Event().wait(0.02)
        steps = 4
        for i in range(steps):
            if self.delay:
                threading.Event().wait(self.delay / steps)
            ctx.progress((i + 1) / steps, f"stroke {i + 1}", preview=_square(ctx.seed + i, 8))
        return ImageResult(_square(ctx.seed), meta={"seed": ctx.seed}, sampling_steps=steps)

    def inspect(self, ctx: StageContext) -> InspectResult:
        self._record(Stage.INSPECT)
        plan = next(s for s in reversed(ctx.branch) if s.stage is Stage.PLAN)
        plan_ok = self.plan_fail_word not in (plan.description or "") + (plan.instruction or "")
        refined = any(
            s.stage is Stage.REFINE
            for s in ctx.branch
            if s.round == ctx.round or s.round == ctx.round - 1
        )
        image_step: Step = next(s for s in reversed(ctx.branch) if s.image is not None)
        sketch_ok = (
            not (image_step.stage is Stage.SKETCH and plan.round in self.fail_rounds) or refined
        )
        return InspectResult(
            Check(
                plan_ok,
                "The plan matches the prompt." if plan_ok else "The plan contradicts the prompt.",
            ),
            Check(
                sketch_ok,
                "The sketch follows the instruction." if sketch_ok else "Something is missing.",
            ),
        )

    def refine(self, ctx: StageContext, instruction: str | None, region) -> RefineResult:
        self._record(Stage.REFINE)
        base = ctx.current_image()
        fixed = _square(ctx.seed + 1, base.width if base else 32)
        if region is not None and base is not None:
            fixed = Image.composite(fixed, base.convert("RGB"), region.convert("L"))
        return RefineResult(instruction or "fix what is missing", fixed, sampling_steps=2)

    def finalize(self, ctx: StageContext) -> FinalResult:
        self._record(Stage.FINAL)
        return FinalResult()
