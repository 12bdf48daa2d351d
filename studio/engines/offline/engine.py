"""The offline engine: a real plan → sketch → inspect → refine loop on a CPU, in well under a second.

It draws scene layouts, not photographs: each object is a simple glyph in its colour, with no
marker or label (see `studio.engines.offline.draw`); nouns without a glyph are drawn as placeholders. The
inspector's evidence boxes carry the names, for the studio to overlay. The planner reads what was
planned so far from the branch, the sketcher adds the new groups to the previous canvas without
moving anything (and makes seeded draft mistakes), the inspector reads objects back from the
pixels only, and the refiner carries out one edit — its own, from the first problem found, or a person's.
"""

from __future__ import annotations

import collections
import dataclasses
import re

import numpy as np
from PIL import Image

from ...core.domain import Box, Review, Stage, StudioError, last_image
from ...language import Edit, SceneGraph, edit_text, parse_edit
from ...language.critique import read_critique
from ...language.edits import edit_to_dict
from ...language.scene import OPPOSITE
from ..base import (
    Capabilities,
    Engine,
    ImageResult,
    InspectResult,
    Param,
    PlanResult,
    RefineResult,
    StageContext,
    UsedInput,
)
from .analyse import analyse
from .draw import SIZE, blank
from .judge import hidden_note, plan_issues, sketch_issues, verdict
from .layout import unit_size
from .paint import DraftNoise, Painter, region_mask
from .plan import (
    EDITS,
    PERSON_EDITS,
    PLAN_EDITS,
    apply_edit,
    edited_plan,
    edits_meta,
    find,
    next_plan,
    phrase,
    placeholder_nouns,
    planned,
    prompt_scene,
    reference,
    understood,
    unplanned_nouns,
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


DEPARTS = "It departs from the prompt"


def _departure(prompt: SceneGraph, wanted: SceneGraph) -> str:
    """How the corrected reading differs from the prompt's ("" when it does not)."""
    same = [g.to_dict() for g in prompt.groups] == [g.to_dict() for g in wanted.groups] and [
        (r.subject, r.relation, r.anchor) for r in prompt.relations
    ] == [(r.subject, r.relation, r.anchor) for r in wanted.relations]
    return "" if same else SceneGraph(wanted.groups, wanted.relations).describe()


def _last_fix(branch) -> tuple | None:
    """(edit, finding) of the last edit the model made on the canvas since the last plan, if any."""
    for step in reversed(branch):
        if step.stage is Stage.PLAN:
            return None
        if step.stage is Stage.REFINE and step.review is not Review.REJECTED:
            answered = (step.meta or {}).get("answered")
            if answered:
                return (answered[0], answered[1])
            if (step.meta or {}).get(EDITS) != []:  # a refine that made no edit is passed over
                return None
    return None


def _hidden(painter: Painter) -> dict[str, int]:
    """Per class, what the hand drew on this canvas (its own record) that the analyser does not read
    back: covered, inside another object, or drawn over a same-coloured one. Drawing it again floods."""
    drawn = collections.Counter(e["class"] for e in painter.ledger)
    seen = collections.Counter(o.cls for o in painter.analysis.objects)
    return dict(drawn - seen)


def _alternative(edit: Edit) -> Edit | None:
    """Another edit for a finding the last one did not fix: the anchor moved to the other side instead
    of the subject, an object added anywhere instead of beside another; None where there is no other."""
    if edit.kind == "move" and edit.anchor is not None and edit.relation in OPPOSITE:
        return Edit("move", edit.anchor, OPPOSITE[edit.relation], edit.target)
    if edit.kind == "add" and edit.relation:
        return Edit("add", edit.target, count=edit.count)
    return None


def _carry_out(painter: Painter, edits: list[Edit]) -> tuple[list[Edit], list[str]]:
    """A person's edits on the canvas, each exactly; what could not be done is said, not raised."""
    done, why = [], []
    for edit in edits:
        try:
            done.append(painter.apply(edit, by_person=True))
        except (StudioError, KeyError, ValueError) as error:
            message = str(error).split(". ")[0] if isinstance(error, StudioError) else ""
            why.append(f"{edit_text(edit)}: {message or 'the offline engine cannot draw that'}")
    return done, why


def done_text(edit: Edit) -> str:
    """What an edit did, in the past tense a note's answer reads as: "recoloured the apple yellow",
    "changed the green cups to one", "moved the dog right of the cat"."""
    text = edit_text(edit)
    if edit.kind == "recolor":
        return re.sub(r"^recolor (.*) to (\w+)$", r"recoloured \1 \2", text)
    if edit.kind == "count":
        return re.sub(r"^change the number of (.*) to ", r"changed the \1 to ", text)
    verb, rest = text.split(" ", 1)
    return {"add": "added", "remove": "removed", "move": "moved"}.get(verb, verb) + " " + rest


def _answer(person, done: list[Edit], why: list[str], read=None) -> UsedInput:
    """What was done with a person's note, in the words the card shows."""
    if done:
        note = "; ".join(done_text(e) for e in done)
        if why:
            note += f" (could not: {'; '.join(why)})"
        return UsedInput(True, note)
    reasons = list(why) + (list(read.unread) if read is not None else [])
    if read is not None and not read.edits and not reasons:
        reasons = [f"no edit could be read from {person.text!r}"]
    if person.kind == "plan" and not reasons:
        return UsedInput(True, "drew the plan as you edited it")
    return UsedInput(False, "; ".join(reasons) or f"no edit could be read from {person.text!r}")


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
        wanted = reference(ctx.prompt, ctx.branch)
        so_far, _, previous = planned(ctx.branch)
        # a plan-level finding is the plan's to fix: what contradicts the (corrected) prompt is planned anew
        fixes = [i.edit for i in plan_issues(wanted, so_far, SceneGraph(), False)]
        for edit in fixes:
            so_far = apply_edit(so_far, edit, to_plan=True)
        nxt = next_plan(wanted, so_far, ctx.mode, ctx.rounds_left)
        instruction = nxt.instruction
        if fixes:
            instruction += " The plan now says: " + "; ".join(edit_text(e) for e in fixes) + "."
        # the first card says what was read, so a person can correct it before drawing
        if previous is None:
            instruction = f"{understood(prompt_scene(ctx.prompt))}\n{instruction}"
        ctx.progress(1.0, "planned")
        meta = {"understood": prompt_scene(ctx.prompt).to_dict(), **nxt.meta()}
        return PlanResult(instruction, nxt.description, nxt.complete, meta=meta)

    def sketch(self, ctx: StageContext) -> ImageResult:
        described, scene, plan = planned(ctx.branch)
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
        present = {o.cls for o in painter.analysis.objects}
        person_edits: list[Edit] = []
        on_canvas: list[Edit] = []
        read = None
        if ctx.person is not None and ctx.person.kind == "reason":
            read = read_critique(ctx.person.text, described)
            person_edits = list(read.edits)
            for edit in person_edits:
                if find(scene, edit.target) and edit.target.cls not in present:
                    scene = apply_edit(scene, edit, to_plan=True)  # drawn so, as the reason asks
                else:
                    on_canvas.append(edit)
        elif ctx.person is not None and ctx.person.kind == "plan" and plan is not None:
            # the plan as a whole: what the edit changed of objects drawn in earlier rounds, on the canvas
            person_edits = edited_plan(plan)
            on_canvas = [e for e in person_edits if e.target.cls in present and e.kind != "count"]
        # groups the instruction only refers to ("… below the blue cup") are already on the canvas
        anchors = {r.anchor for r in scene.relations}
        todo = [i for i, g in enumerate(scene.groups) if not (i in anchors and g.cls in present)]
        painter.draw_groups(scene, todo)
        _, why = _carry_out(painter, on_canvas)
        used = _answer(ctx.person, person_edits, why, read) if ctx.person is not None else None
        ctx.progress(1.0, "sketched", painter.image.copy())
        meta = {
            "drawn": painter.drawn,
            "draft_mistakes": painter.mistakes,
            "canvas": painter.ledger,
        }
        if ctx.person is not None and ctx.person.kind == "reason":
            meta.update(edits_meta(PERSON_EDITS, person_edits))
        return ImageResult(
            painter.image, meta=meta, sampling_steps=len(painter.drawn), used_input=used
        )

    def inspect(self, ctx: StageContext) -> InspectResult:
        prompt = prompt_scene(ctx.prompt)
        wanted = reference(ctx.prompt, ctx.branch)
        described, instructed, plan = planned(ctx.branch)
        image = _canvas(ctx)
        analysis = analyse(
            image if image is not None else blank(),
            placeholder_nouns(prompt, described, instructed),
        )
        complete = bool(plan and plan.complete)
        problems = plan_issues(wanted, described, instructed, complete)
        if complete:
            said = SceneGraph(described.groups, described.relations).describe()
            left = unplanned_nouns(ctx.prompt, described, wanted)
            if left:
                plan_ok = (
                    f"The plan has every object read from the prompt: {said}. The prompt also names "
                    f"{', '.join(left)}: read as setting, a part or context, and not drawn."
                )
            else:
                plan_ok = f"The plan covers the prompt: {said}."
            if wanted.notes:
                plan_ok += f" Placed freely, as the prompt gives no left/right/above/below: {'; '.join(wanted.notes)}."
        else:
            left = [
                phrase(wanted.groups[i])
                for i in wanted.plan_order()
                if wanted.groups[i].cls not in {g.cls for g in described.groups}
            ]
            plan_ok = "The plan so far agrees with the prompt" + (
                f"; still to come: {', '.join(left)}." if left else "."
            )
        departs = _departure(prompt, wanted)
        if departs and not any(
            DEPARTS in ((s.plan_check.critique if s.plan_check else "") or "") for s in ctx.branch
        ):
            plan_ok += f" {DEPARTS} where a person corrected it: {departs}."
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
        meta: dict = {}
        texts: list[str] = []
        used = None
        if instruction:
            edit = parse_edit(instruction)
            if edit is None:
                raise StudioError(
                    f"The offline engine could not read {instruction!r} as an edit; "
                    f"try e.g. {EDIT_EXAMPLES}."
                )
            painter.apply(edit, by_person=True)
            texts.append(instruction)
        if ctx.person is not None and ctx.person.kind in ("verdict", "reason"):
            read = read_critique(ctx.person.text, described)
            done, why = _carry_out(painter, list(read.edits))
            meta.update(edits_meta(PERSON_EDITS, done))
            used = _answer(ctx.person, done, why, read)
            if done:
                texts.append("; ".join(edit_text(e) for e in done))
            elif not instruction:
                texts.append(f"Could not use your note: {used.note}.")
        if not instruction and not meta.get(PERSON_EDITS):
            own = self._own_fix(ctx, painter, described, instructed, plan)
            meta.update(own["meta"])
            if own.get("nothing") and ctx.person is None:
                return RefineResult(
                    own["text"], base, meta={"canvas": painter.ledger, **own["meta"]}
                )
            if not own.get("nothing"):  # beside a note it could not use: never "nothing to fix"
                texts.append(("Instead: " if texts else "") + own["text"])
        ctx.progress(1.0, "refined", painter.image.copy())
        meta.update(
            {"drawn": painter.drawn, "draft_mistakes": painter.mistakes, "canvas": painter.ledger}
        )
        return RefineResult(
            " ".join(texts),
            painter.result(base),
            meta=meta,
            sampling_steps=max(1, len(painter.drawn)),
            used_input=used,
        )

    def _own_fix(self, ctx, painter, described, instructed, plan) -> dict:
        """The model's own refine: a plan-level finding amends the plan (never drawn as such); then the
        first finding of the sketch against that plan is fixed on the canvas, unless the same edit was
        just made for the same finding (then the next one, or none)."""
        wanted = reference(ctx.prompt, ctx.branch)
        complete = bool(plan and plan.complete)
        plan_edits = [i.edit for i in plan_issues(wanted, described, instructed, complete)]
        for edit in plan_edits:
            described = apply_edit(described, edit, to_plan=True)
        before = _last_fix(ctx.branch)
        hidden = _hidden(painter)
        issues = []
        for issue in sketch_issues(described, painter.analysis, hidden):
            if (edit_to_dict(issue.edit), issue.critique) != before:
                issues.append(issue)
            elif (
                _alternative(issue.edit) is not None
            ):  # the same finding again: another way to fix it
                issues.append(dataclasses.replace(issue, edit=_alternative(issue.edit)))
        meta = edits_meta(PLAN_EDITS, plan_edits) if plan_edits else {}
        parts = (
            [f"In the plan: {'; '.join(edit_text(e) for e in plan_edits)}."] if plan_edits else []
        )
        if not issues:
            if plan_edits:
                return {"text": " ".join(parts), "meta": meta | edits_meta(EDITS, [])}
            text = "Nothing to fix: the sketch matches the plan."
            if before:
                text = "Not repeating the last edit: it did not fix the same finding last time."
            held = hidden_note(described, painter.analysis, hidden)
            if held:
                text = held
            return {
                "text": text,
                "meta": meta | edits_meta(EDITS, []),
                "nothing": True,
            }
        made = painter.apply(issues[0].edit, by_person=False)
        meta |= edits_meta(EDITS, [made]) | {
            "answered": [edit_to_dict(issues[0].edit), issues[0].critique]
        }
        return {"text": " ".join(parts + [edit_text(made)]), "meta": meta}
