"""What is planned so far, read from the branch; and the next `<ins>` / `<des>` pair.

The planner keeps no state of its own: the branch is the memory. The scene planned so far is the
last plan step's description (a person may have rewritten it) with every later `<refine>` edit
applied, so "make the cup blue" amends the plan as well as the picture. Plans follow the paper's
scene-graph subsampling: one object group per round, anchors before the groups placed against them.
"""

from __future__ import annotations

import dataclasses

from ...core.domain import Mode, Review, Stage, Step, StudioError, last
from ...language import (
    Edit,
    ObjectGroup,
    Relation,
    SceneGraph,
    parse_description,
    parse_edit,
    parse_prompt,
)
from .glyphs import PLACEHOLDERS


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
    if unknown:
        parts.append(
            f"No glyph for {', '.join(unknown)}: drawn as placeholders (named in the evidence overlay)."
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


def planned(branch: list[Step]) -> tuple[SceneGraph, SceneGraph, Step | None]:
    """(description, instruction) scenes of the last plan, with later refine edits applied; and that plan."""
    plan = last(branch, Stage.PLAN)
    if plan is None:
        return SceneGraph(), SceneGraph(), None
    described = parse_description(plan.description or "")
    instructed = instruction_scene(plan.instruction or "")
    for step in branch[branch.index(plan) + 1 :]:
        if step.stage is Stage.REFINE and step.review is not Review.REJECTED and step.instruction:
            edit = parse_edit(step.instruction)
            if edit is not None:
                described, instructed = apply_edit(described, edit), apply_edit(instructed, edit)
    return described, instructed, plan


def find(scene: SceneGraph, target: ObjectGroup) -> list[int]:
    """Groups `target` names: same class, and same colour when it names one."""
    return [
        i
        for i, g in enumerate(scene.groups)
        if g.cls == target.cls and (target.color is None or g.color == target.color)
    ]


def match(a: SceneGraph, b: SceneGraph) -> dict[int, int]:
    """Pair a's groups with b's: same class, same colour preferred; each group used once."""
    pairs: dict[int, int] = {}
    for same_color in (True, False):
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
    return SceneGraph([scene.groups[i] for i in keep], relations, scene.free_text)


def apply_edit(scene: SceneGraph, edit: Edit) -> SceneGraph:
    """The plan after a refine edit.

    Colours, places and "change the number" set what the plan says. "add" and "remove N" fix the
    sketch's instances against the plan, so they change the plan only by bringing in a group it
    lacks; "remove the X" (no number) takes the group out of the plan.
    """
    groups, relations = list(scene.groups), list(scene.relations)
    hits = find(scene, edit.target) or find(scene, dataclasses.replace(edit.target, color=None))
    if edit.kind == "recolor":
        for i in hits:
            groups[i] = dataclasses.replace(groups[i], color=edit.color)
    elif edit.kind == "remove" and edit.count is None:
        return _drop(scene, set(hits))
    elif edit.kind == "count" and hits:
        groups[hits[0]] = dataclasses.replace(groups[hits[0]], count=edit.count)
    elif edit.kind in ("add", "count") and not hits:
        groups.append(ObjectGroup(edit.target.cls, edit.count or 1, edit.target.color))
        anchors = find(scene, edit.anchor) if edit.relation and edit.anchor else []
        if anchors:
            relations.append(Relation(len(groups) - 1, edit.relation, anchors[0]))
    elif edit.kind == "move" and hits:
        anchors = [j for j in find(scene, edit.anchor) if j != hits[0]]
        if anchors:
            pair = {hits[0], anchors[0]}
            relations = [r for r in relations if {r.subject, r.anchor} != pair]
            relations.append(Relation(hits[0], edit.relation, anchors[0]))
    return SceneGraph(groups, relations, scene.free_text)


def next_plan(
    prompt: SceneGraph, so_far: SceneGraph, mode: Mode, rounds_left: int
) -> tuple[str, str, bool]:
    """(`<ins>`, `<des>`, complete) for the next round.

    One prompt group per round, in plan order; single-pass mode plans everything at once, and when
    the rounds left cannot hold one group each, everything left is folded into this plan.
    """
    done = set(match(prompt, so_far))
    remaining = [i for i in prompt.plan_order() if i not in done]
    if not remaining:
        return (
            "Keep the sketch as it is: everything in the prompt is planned.",
            so_far.describe() if so_far.groups else prompt.describe(),
            True,
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

    if len(new) == 1:
        rels = [r for r in relations if r.subject == new[0]]
        where_to = " and ".join(f"{r.relation} {the(groups[r.anchor])}" for r in rels)
        instruction = f"Draw {phrase(groups[new[0]])}" + (f" {where_to}" if where_to else "") + "."
    else:
        anchors = {r.anchor for r in relations if r.subject in new}
        instruction = f"Draw {scene.describe(sorted(set(new) | anchors))}."
    return instruction, scene.describe(), len(chosen) == len(remaining)
