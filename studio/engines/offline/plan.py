"""What is planned so far, read from the branch; and the next `<ins>` / `<des>` pair.

The planner keeps no state of its own: the branch is the memory. The scene planned so far is the
last plan step's description (a person may have rewritten it) with every later `<refine>` edit
applied, so "make the cup blue" amends the plan as well as the picture. Plans follow the paper's
scene-graph subsampling: one object group per round, anchors before the groups placed against them.
"""

from __future__ import annotations

import dataclasses

from ...core.domain import Author, Mode, Review, Stage, Step, StudioError, last, unchanged
from ...language import (
    Edit,
    ObjectGroup,
    Relation,
    SceneGraph,
    parse_description,
    parse_edit,
    parse_prompt,
)
from ...language.edits import edit_from_dict, edit_to_dict
from ...language.nlp import annotate
from ...language.scene import LEXICON
from .glyphs import PLACEHOLDERS, is_picture, shapes
from .pictures import picture_of


def phrase(group: ObjectGroup) -> str:
    """ "two red apples", "a cup"."""
    return SceneGraph([group]).phrase(0)


def the(group: ObjectGroup) -> str:
    """A definite reference the parser resolves: "the blue cup", "the two red apples"."""
    text = phrase(group)
    for article in ("a ", "an "):
        if text.startswith(article):
            return "the " + text[len(article) :]
    return "the " + text


def prompt_scene(prompt: str) -> SceneGraph:
    scene = parse_prompt(prompt)
    if not scene.groups:
        raise StudioError(
            "The offline sketch engine found no object to draw in the prompt; name some, "
            'e.g. "two red apples below a blue cup".'
        )
    unknown = scene.unknown()
    # two nouns sharing a placeholder could never be told apart
    if len(unknown) > len(PLACEHOLDERS):
        raise StudioError(
            f"The offline sketch engine draws at most {len(PLACEHOLDERS)} kinds of object it has no glyph for, each "
            f"as its own placeholder; this prompt names {len(unknown)} ({', '.join(unknown)}). Name fewer of them, "
            "or use an engine that draws any object."
        )
    return scene


# the first plan's opening line: what the engine read, for a person to check
UNDERSTOOD = "Understood:"


def understood(scene: SceneGraph) -> str:
    """One line saying what the engine read in the prompt: objects, counts, colours, places, and the rest."""
    parts = [f"{UNDERSTOOD} {SceneGraph(scene.groups, scene.relations).describe()}."]
    unknown = scene.unknown()
    by_noun = shapes(unknown)
    pictured = [n for n in unknown if is_picture(by_noun[n])]
    framed = [n for n in unknown if not is_picture(by_noun[n])]
    if pictured:
        parts.append(f"Drawn from OpenMoji pictures: {', '.join(pictured)}.")
    if framed:
        parts.append(
            f"No picture for {', '.join(framed)}: drawn as placeholders that carry the word."
        )
    if scene.negated:
        parts.append(f"Not to be drawn: {', '.join(phrase(g) for g in scene.negated)}.")
    if scene.notes:
        parts.append(f"Could not place: {'; '.join(scene.notes)}.")
    if scene.free_text:
        parts.append(
            "Left out, as only objects are drawn (setting, actions, parts, materials, style): "
            f"{scene.free_text}."
        )
    return " ".join(parts)


# where things are, not things ("on the right", "in the middle", "the top of the shelf")
_PLACES = {
    "right",
    "left",
    "middle",
    "center",
    "centre",
    "top",
    "bottom",
    "side",
    "front",
    "back",
    "corner",
    "edge",
    "distance",
    "background",
    "foreground",
    "row",
    "line",
    "pair",
    "group",
}


def unplanned_nouns(prompt: str, *planned: SceneGraph) -> list[str]:
    """Nouns of things the prompt's text names that the sketcher could draw (a COCO class or a picture)
    but no planned group is: what the reader took as setting, a part or context ("on a wooden chair",
    "a glass of juice"). The plan check names them, so it never claims to cover what it leaves out."""
    have = {g.cls for scene in planned for g in [*scene.groups, *scene.negated]} | _PLACES
    words = annotate(prompt)
    found: list[str] = []
    for k, w in enumerate(words):
        if w.pos not in ("NOUN", "PROPN") or w.dep == "compound":
            continue
        pair = (words[k - 1].low, w.lemma) if k and words[k - 1].dep == "compound" else None
        hit = (
            (LEXICON.get(pair) if pair else None)
            or LEXICON.get((w.lemma,))
            or LEXICON.get((w.low,))
        )
        cls = hit[0] if hit else (w.lemma if picture_of(w.lemma) else None)
        if cls and cls not in have and cls not in found:
            found.append(cls)
    return found


def placeholder_nouns(prompt: SceneGraph, *others: SceneGraph) -> list[str]:
    """The open-vocabulary nouns the canvas may show as placeholders: the prompt's first, then any a
    plan or a person's edit added; the painter and the analyser pair placeholders with them in this order."""
    extra = sorted({cls for scene in others for cls in scene.unknown()} - set(prompt.unknown()))
    return prompt.unknown() + extra


def instruction_scene(instruction: str) -> SceneGraph:
    """What an `<ins>` asks to draw; the "Understood:" line of a first plan is a note, not an instruction."""
    lines = [
        line for line in (instruction or "").splitlines() if not line.strip().startswith(UNDERSTOOD)
    ]
    return parse_prompt("\n".join(lines))


# Step.meta keys of the edits a stage made, as plain data (edit_to_dict): `EDITS` on the canvas only (the
# model's own fixes of the sketch), `PLAN_EDITS` on the plan only (a plan-level finding), `PERSON_EDITS`
# on both (what a person's note asked for: the plan takes it, and later rounds never revert it).
EDITS, PLAN_EDITS, PERSON_EDITS = "edits", "plan_edits", "person_edits"


def edits_meta(key: str, edits) -> dict:
    return {key: [edit_to_dict(e) for e in edits]}


def _edits(step: Step, key: str) -> list[Edit]:
    return [edit_from_dict(d) for d in (step.meta or {}).get(key, ())]


def plan_changes(step: Step) -> list[Edit]:
    """The edits a step after a plan made to it: a plan-level fix, a person's refine or note. A model's
    fix of the sketch changes the canvas only (a step stored before edits were recorded: its refine text)."""
    if step.review is Review.REJECTED or unchanged(step):
        return []
    meta = step.meta or {}
    if PLAN_EDITS in meta or PERSON_EDITS in meta or EDITS in meta:
        return _edits(step, PLAN_EDITS) + _edits(step, PERSON_EDITS)
    if step.stage is Stage.REFINE and step.instruction:
        edit = parse_edit(step.instruction)
        return [edit] if edit is not None else []
    return []


def person_changes(step: Step) -> list[Edit]:
    """What a person asked for on or through `step`: their own refine, or a note a model stage answered."""
    if step.review is Review.REJECTED or unchanged(step):
        return []
    if step.stage is Stage.REFINE and step.author is Author.HUMAN and step.instruction:
        edit = parse_edit(step.instruction)
        return [edit] if edit is not None else []
    return _edits(step, PERSON_EDITS)


def plan_diff(before: SceneGraph, after: SceneGraph) -> list[Edit]:
    """The edits that turn `before` into `after` (a person's rewrite of a plan), each one idempotent:
    applied to a scene that already says it, it changes nothing."""
    edits: list[Edit] = []
    pairs = match(after, before)
    for i, g in enumerate(after.groups):
        j = pairs.get(i)
        h = before.groups[j] if j is not None else None
        if h is None or g.count != h.count:
            edits.append(Edit("count", ObjectGroup(g.cls, 1, g.color), count=g.count))
        if h is not None and g.color != h.color and g.color:
            edits.append(Edit("recolor", ObjectGroup(h.cls, 1, h.color), color=g.color))
    for j, h in enumerate(before.groups):
        if j not in pairs.values():
            edits.append(Edit("remove", ObjectGroup(h.cls, 1, h.color)))
    had = {
        (before.groups[r.subject].cls, r.relation, before.groups[r.anchor].cls)
        for r in before.relations
    }
    for r in after.relations:
        s, a = after.groups[r.subject], after.groups[r.anchor]
        if (s.cls, r.relation, a.cls) not in had:
            edits.append(
                Edit(
                    "move",
                    ObjectGroup(s.cls, 1, s.color),
                    r.relation,
                    ObjectGroup(a.cls, 1, a.color),
                )
            )
    return edits


def _model_scene(plan: Step, field: str) -> SceneGraph:
    """The scene the model planned in `field` ("described" / "instructed"), as it planned it."""
    stored = (plan.meta or {}).get(field)
    if isinstance(stored, dict):
        return SceneGraph.from_dict(stored)
    text = plan.original.get(_FIELDS[field], getattr(plan, _FIELDS[field])) or ""
    return parse_description(text) if field == "described" else instruction_scene(text)


_FIELDS = {"described": "description", "instructed": "instruction"}


def edited_plan(plan: Step) -> list[Edit]:
    """What a person changed in a plan's `<ins>` and `<des>`, as edits (none for a plan as the model wrote it)."""
    edits: list[Edit] = []
    if plan.author is Author.HUMAN and not {"description", "instruction"} & set(plan.original):
        return plan_diff(
            SceneGraph(), parse_description(plan.description or "")
        )  # a person's own plan
    if "description" in plan.original:
        edits += plan_diff(
            _model_scene(plan, "described"), parse_description(plan.description or "")
        )
    if "instruction" in plan.original:
        after = instruction_scene(plan.instruction or "")
        edits += [
            e for e in plan_diff(_model_scene(plan, "instructed"), after) if e.kind != "remove"
        ]
    return edits


def planned(branch: list[Step]) -> tuple[SceneGraph, SceneGraph, Step | None]:
    """(description, instruction) scenes of the last plan, as a person left it (an edit of either one is
    an edit of the plan, so both carry it), with the edits later steps made to the plan; and that plan."""
    plan = last(branch, Stage.PLAN)
    if plan is None:
        return SceneGraph(), SceneGraph(), None
    if "description" in plan.original:
        described = parse_description(plan.description or "")
    else:
        described = _model_scene(plan, "described")
    if "instruction" in plan.original:
        instructed = instruction_scene(plan.instruction or "")
    else:
        instructed = _model_scene(plan, "instructed")
    for edit in edited_plan(plan):
        described, instructed = (
            apply_edit(described, edit, True),
            apply_edit(instructed, edit, True),
        )
    for step in branch[branch.index(plan) + 1 :]:
        for edit in plan_changes(step):
            described, instructed = (
                apply_edit(described, edit, True),
                apply_edit(instructed, edit, True),
            )
    return described, instructed, plan


def _understood_text(line: str) -> str:
    """The reading of the prompt in a first plan's "Understood: …" line (the notes after it left out)."""
    text = line.strip()[len(UNDERSTOOD) :]
    notes = ("Drawn from OpenMoji", "No picture for", "No glyph for", "Not to be drawn:")
    for note in (*notes, "Could not place:", "Left out,"):
        if note in text:
            text = text[: text.index(note)]
    return text.strip()


def reference(prompt: str, branch: list[Step]) -> SceneGraph:
    """What the loop plans and checks against: the prompt as the engine read it, as people corrected it.

    A person's correction of the first plan's "Understood: …" line replaces the reading; every later
    correction (an edited plan, a person's refine, a note a stage answered) is applied on top, so no later
    round plans or checks it back to what the prompt said."""
    scene = prompt_scene(prompt)
    first = next((s for s in branch if s.stage is Stage.PLAN), None)
    if first is not None and "instruction" in first.original:
        mine = [
            ln for ln in (first.instruction or "").splitlines() if ln.strip().startswith(UNDERSTOOD)
        ]
        theirs = [
            ln
            for ln in str(first.original["instruction"]).splitlines()
            if ln.strip().startswith(UNDERSTOOD)
        ]
        if mine and mine != theirs:
            corrected = parse_prompt(_understood_text(mine[0]))
            if corrected.groups:
                corrected.free_text, corrected.ground = scene.free_text, list(scene.ground)
                corrected.notes = []
                scene = corrected
    for step in branch:
        changes = edited_plan(step) if step.stage is Stage.PLAN else person_changes(step)
        for edit in changes:
            scene = apply_edit(scene, edit, True)
    return scene


def find(scene: SceneGraph, target: ObjectGroup) -> list[int]:
    """Groups `target` names: same class, and same colour when it names one."""
    return [
        i
        for i, g in enumerate(scene.groups)
        if g.cls == target.cls and (target.color is None or g.color == target.color)
    ]


def match(a: SceneGraph, b: SceneGraph) -> dict[int, int]:
    """Pair a's groups with b's: same class; same colour and count preferred, then same colour (two
    groups of oranges without colour pair by their numbers); each group used once."""
    pairs: dict[int, int] = {}
    for same_color, same_count in ((True, True), (True, False), (False, False)):
        for i, g in enumerate(a.groups):
            if i in pairs:
                continue
            j = next(
                (
                    j
                    for j, h in enumerate(b.groups)
                    if j not in pairs.values()
                    and h.cls == g.cls
                    and (h.color == g.color or not same_color)
                    and (h.count == g.count or not same_count)
                ),
                None,
            )
            if j is not None:
                pairs[i] = j
    return pairs


def _drop(scene: SceneGraph, gone: set[int]) -> SceneGraph:
    keep = [i for i in range(len(scene.groups)) if i not in gone]
    where = {old: new for new, old in enumerate(keep)}
    relations = [
        Relation(where[r.subject], r.relation, where[r.anchor])
        for r in scene.relations
        if r.subject in where and r.anchor in where
    ]
    out = SceneGraph(
        [scene.groups[i] for i in keep], relations, scene.free_text, list(scene.negated)
    )
    out.notes, out.ground = list(scene.notes), list(getattr(scene, "ground", []))
    return out


def apply_edit(scene: SceneGraph, edit: Edit, to_plan: bool = False) -> SceneGraph:
    """The plan after an edit.

    Colours, places and "change the number" set what the plan says. With `to_plan` (a person's edit, or
    a plan-level fix) "add" and "remove N" change the plan's numbers too; otherwise (a model's fix of the
    sketch) they fix the sketch's instances against the plan and change it only by bringing in a group it
    lacks. "remove the X" (no number) takes the group out of the plan.
    """
    groups, relations = list(scene.groups), list(scene.relations)
    hits = find(scene, edit.target) or find(scene, dataclasses.replace(edit.target, color=None))
    if edit.kind == "recolor":
        for i in hits:
            groups[i] = dataclasses.replace(groups[i], color=edit.color)
    elif edit.kind == "remove" and edit.count is None:
        return _drop(scene, set(hits))
    elif edit.kind == "remove" and to_plan and hits:
        left = groups[hits[0]].count - edit.count
        if left <= 0:
            return _drop(scene, {hits[0]})
        groups[hits[0]] = dataclasses.replace(groups[hits[0]], count=left)
    elif edit.kind == "count" and hits:
        groups[hits[0]] = dataclasses.replace(groups[hits[0]], count=edit.count)
    elif edit.kind == "add" and to_plan and find(scene, edit.target):
        i = find(scene, edit.target)[0]
        groups[i] = dataclasses.replace(groups[i], count=groups[i].count + (edit.count or 1))
    elif edit.kind in ("add", "count") and (not hits or (to_plan and edit.kind == "add")):
        groups.append(ObjectGroup(edit.target.cls, edit.count or 1, edit.target.color))
        anchors = find(scene, edit.anchor) if edit.relation and edit.anchor else []
        if anchors:
            relations.append(Relation(len(groups) - 1, edit.relation, anchors[0]))
    elif edit.kind == "move" and hits:
        anchors = [j for j in find(scene, edit.anchor) if j != hits[0]] if edit.anchor else []
        if anchors:
            pair = {hits[0], anchors[0]}
            relations = [r for r in relations if {r.subject, r.anchor} != pair]
            relations.append(Relation(hits[0], edit.relation, anchors[0]))
    out = SceneGraph(groups, relations, scene.free_text, list(scene.negated), list(scene.notes))
    out.ground = list(getattr(scene, "ground", []))
    return out


@dataclasses.dataclass(frozen=True)
class NextPlan:
    """One round's plan: the `<ins>` and `<des>` texts, and the scenes they say (kept in the plan step's
    meta, so later stages read what was planned rather than re-reading the text)."""

    instruction: str
    description: str
    complete: bool
    described: SceneGraph
    instructed: SceneGraph

    def meta(self) -> dict:
        return {"described": self.described.to_dict(), "instructed": self.instructed.to_dict()}


def _keep(scene: SceneGraph, indices: list[int]) -> SceneGraph:
    return _drop(scene, set(range(len(scene.groups))) - set(indices))


def next_plan(prompt: SceneGraph, so_far: SceneGraph, mode: Mode, rounds_left: int) -> NextPlan:
    """The next round's plan against `prompt` (the prompt's reading, as people corrected it).

    One prompt group per round, in plan order; single-pass mode plans everything at once, and when
    the rounds left cannot hold one group each, everything left is folded into this plan.
    """
    done = set(match(prompt, so_far))
    remaining = [i for i in prompt.plan_order() if i not in done]
    if not remaining:
        described = so_far if so_far.groups else prompt
        return NextPlan(
            "Keep the sketch as it is: everything in the prompt is planned.",
            described.describe(),
            True,
            described,
            SceneGraph(),
        )
    fold = mode is Mode.SINGLE or len(remaining) - 1 > rounds_left
    chosen = remaining if fold else remaining[:1]

    # the new description: what was planned so far plus the chosen groups and their relations
    groups, relations = list(so_far.groups), list(so_far.relations)
    where = {p: s for p, s in match(prompt, so_far).items()}
    for i in chosen:
        where[i] = len(groups)
        groups.append(prompt.groups[i])
    for r in prompt.relations:
        if (r.subject in chosen or r.anchor in chosen) and r.subject in where and r.anchor in where:
            relations.append(Relation(where[r.subject], r.relation, where[r.anchor]))
    scene = SceneGraph(groups, relations, prompt.free_text)
    if prompt.free_text and len(parse_description(scene.describe()).groups) != len(groups):
        scene.free_text = ""  # context that would read back as objects stays out of the description
    new = [where[i] for i in chosen]

    anchors = {r.anchor for r in relations if r.subject in new}
    if len(new) == 1:
        rels = [r for r in relations if r.subject == new[0]]
        where_to = " and ".join(f"{r.relation} {the(groups[r.anchor])}" for r in rels)
        instruction = f"Draw {phrase(groups[new[0]])}" + (f" {where_to}" if where_to else "") + "."
    else:
        instruction = f"Draw {scene.describe(sorted(set(new) | anchors))}."
    drawn = _keep(scene, sorted(set(new) | anchors))
    return NextPlan(instruction, scene.describe(), len(chosen) == len(remaining), scene, drawn)
