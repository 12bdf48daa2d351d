"""The offline engine: a real plan → sketch → inspect → refine loop on a CPU, in well under a second.

It draws scene layouts, not photographs: each object is a simple glyph in its colour, with no
marker or label (see `studio.engines.offline.draw`); nouns without a glyph are drawn as placeholders. The
inspector's evidence boxes carry the names, for the studio to overlay. The planner reads what was
planned so far from the branch, the sketcher adds the new groups to the previous canvas without
moving anything (and makes seeded draft mistakes), the inspector reads objects back from the
pixels only, and the refiner carries out one edit — its own, from the first problem found, or a person's.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ...core.domain import Box, Stage, StudioError, last, last_image
from ...language import SceneGraph, edit_text, parse_edit
from ..base import (
    Capabilities,
    Engine,
    ImageResult,
    InspectResult,
    Param,
    PlanResult,
    RefineResult,
    StageContext,
)
from .analyse import analyse
from .draw import SIZE, blank
from .judge import plan_issues, sketch_issues, verdict
from .layout import unit_size
from .paint import DraftNoise, Painter, region_mask
from .plan import (
    instruction_scene,
    next_plan,
    phrase,
    placeholder_nouns,
    planned,
    prompt_scene,
    understood,
)

EDIT_EXAMPLES = (
    '"move the dog to the right of the cat", "make the cup blue", "remove one apple" '
    'or "add a red apple"'
)


def _canvas(ctx: StageContext) -> Image.Image | None:
    image = ctx.current_image()
    if image is not None and image.size != (SIZE, SIZE):
        image = image.convert("RGB").resize((SIZE, SIZE), Image.NEAREST)
    return image


def _ledger(ctx: StageContext) -> list[dict]:
    """The painter's record of what the current canvas holds (benchmarks' ground truth), if it drew it."""
    step = last_image(ctx.branch)
    return list(step.meta.get("canvas", [])) if step is not None and step.meta else []


def _unit(*scenes: SceneGraph) -> int:
    """Glyph size for the whole scene, so objects drawn in different rounds match."""
    return unit_size(max(sum(g.count for g in s.groups) for s in scenes))


def _reporter(ctx: StageContext, total: int):
    done = [0]

    def report(message: str, preview: Image.Image) -> None:
        done[0] += 1
        ctx.progress(min(0.95, done[0] / max(total, 1)), message, preview.copy())

    return report


class OfflineEngine(Engine):
    name = "offline"
    label = "offline sketch engine: draws scene layouts with strokes and shapes, not photographs"
    capabilities = Capabilities(region_edit=True)
    max_concurrent = 4  # keeps no state between calls, so sessions can share it freely
    params = {
        "draft_noise": Param(float, 0.0, 10.0),
        "noise_relation": Param(float, 0.0, 1.0),
        "noise_count": Param(float, 0.0, 1.0),
        "noise_color": Param(float, 0.0, 1.0),
    }

    def plan(self, ctx: StageContext) -> PlanResult:
        prompt = prompt_scene(ctx.prompt)
        so_far, _, previous = planned(ctx.branch)
        instruction, description, complete = next_plan(prompt, so_far, ctx.mode, ctx.rounds_left)
        # the first card says what was read, so a person can correct it before drawing
        if previous is None:
            instruction = f"{understood(prompt)}\n{instruction}"
        ctx.progress(1.0, "planned")
        return PlanResult(instruction, description, complete, meta={"understood": prompt.to_dict()})

    def sketch(self, ctx: StageContext) -> ImageResult:
        plan = last(ctx.branch, Stage.PLAN)
        scene = instruction_scene(plan.instruction or "") if plan else SceneGraph()
        described, _, _ = planned(ctx.branch)
        prompt = prompt_scene(ctx.prompt)
        painter = Painter(
            _canvas(ctx) or blank(),
            _unit(prompt, described),
            np.random.default_rng(ctx.seed),
            DraftNoise.from_params(ctx.params),
            progress=_reporter(ctx, sum(g.count for g in scene.groups)),
            names=placeholder_nouns(prompt, described, scene),
            ledger=_ledger(ctx),
        )
        # groups the instruction only refers to ("… below the blue cup") are already on the canvas
        present = {o.cls for o in painter.analysis.objects}
        anchors = {r.anchor for r in scene.relations}
        todo = [i for i, g in enumerate(scene.groups) if not (i in anchors and g.cls in present)]
        painter.draw_groups(scene, todo)
        ctx.progress(1.0, "sketched", painter.image.copy())
        return ImageResult(
            painter.image,
            meta={
                "drawn": painter.drawn,
                "draft_mistakes": painter.mistakes,
                "canvas": painter.ledger,
            },
            sampling_steps=len(painter.drawn),
        )

    def inspect(self, ctx: StageContext) -> InspectResult:
        prompt = prompt_scene(ctx.prompt)
        described, instructed, plan = planned(ctx.branch)
        image = _canvas(ctx)
        analysis = analyse(
            image if image is not None else blank(),
            placeholder_nouns(prompt, described, instructed),
        )
        problems = plan_issues(prompt, described, instructed, bool(plan and plan.complete))
        if plan and plan.complete:
            plan_ok = f"The plan covers the prompt: {SceneGraph(described.groups, described.relations).describe()}."
            if prompt.notes:
                plan_ok += f" Placed freely, as the prompt gives no left/right/above/below: {'; '.join(prompt.notes)}."
        else:
            left = [
                phrase(prompt.groups[i])
                for i in prompt.plan_order()
                if prompt.groups[i].cls not in {g.cls for g in described.groups}
            ]
            plan_ok = "The plan so far agrees with the prompt" + (
                f"; still to come: {', '.join(left)}." if left else "."
            )
        found = tuple(Box(*o.box, label=f"{o.color} {o.cls}") for o in analysis.objects)
        shown = ", ".join(b.label for b in found) or "nothing"
        ctx.progress(1.0, "inspected")
        return InspectResult(
            verdict(problems, plan_ok),
            verdict(
                sketch_issues(described, analysis),
                f"The sketch shows what is planned: {shown}.",
                found,
            ),
            meta={
                "found": [
                    {"class": o.cls, "color": o.color, "box": list(o.box), "distance": o.distance}
                    for o in analysis.objects
                ],
                "unrecognised_shapes": [list(b) for b in analysis.unrecognised],
            },
        )

    def refine(
        self, ctx: StageContext, instruction: str | None, region: Image.Image | None
    ) -> RefineResult:
        base = _canvas(ctx)
        if base is None:
            raise StudioError(
                "There is no sketch to refine yet; let the sketch stage draw one first."
            )
        prompt = prompt_scene(ctx.prompt)
        described, instructed, plan = planned(ctx.branch)
        painter = Painter(
            base,
            _unit(prompt, described),
            np.random.default_rng(ctx.seed),
            DraftNoise.from_params(ctx.params).scaled(0.5),
            region_mask(region),
            progress=_reporter(ctx, 2),
            names=placeholder_nouns(prompt, described, instructed),
            ledger=_ledger(ctx),
        )
        if instruction:
            edit = parse_edit(instruction)
            if edit is None:
                raise StudioError(
                    f"The offline engine could not read {instruction!r} as an edit; "
                    f"try e.g. {EDIT_EXAMPLES}."
                )
            painter.apply(edit, by_person=True)
            text = instruction
        else:
            issues = plan_issues(prompt, described, instructed, bool(plan and plan.complete))
            issues += sketch_issues(described, painter.analysis)
            if not issues:
                return RefineResult(
                    "Nothing to fix: the sketch matches the plan.",
                    base,
                    meta={"canvas": painter.ledger},
                )
            text = edit_text(painter.apply(issues[0].edit, by_person=False))
        ctx.progress(1.0, "refined", painter.image.copy())
        return RefineResult(
            text,
            painter.result(base),
            meta={
                "drawn": painter.drawn,
                "draft_mistakes": painter.mistakes,
                "canvas": painter.ledger,
            },
            sampling_steps=max(1, len(painter.drawn)),
        )
