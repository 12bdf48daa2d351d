"""Verdicts: the plan against the prompt, and the sketch (as read from its pixels) against the plan.

Each problem found is an `Issue`: one critique sentence, the evidence boxes that show it, and the
edit that would fix it. The first issue is what the next `<refine>` fixes; a `Check` carries the
first critique and every issue's evidence. Plan problems come first — a contradictory plan makes
every later sketch wrong — then, in the sketch: missing, extra or unplanned objects, colours, places.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.domain import Box, Check
from ...language import Edit, ObjectGroup, Relation, SceneGraph
from ...language.rules import relative_position
from ...language.scene import OPPOSITE, RELATIONS
from .analyse import Analysis, Found
from .plan import match, phrase, the


@dataclass(frozen=True)
class Issue:
    critique: str
    edit: Edit
    evidence: tuple[Box, ...] = ()


def _one(group: ObjectGroup) -> ObjectGroup:
    return ObjectGroup(group.cls, 1, group.color)


def _box(o: Found, note: str = "") -> Box:
    """Evidence for one object: its name, and after ": " what is wrong with it ("should be red"), if
    anything (the page colours a box by that, and writes it as a sentence)."""
    label = f"{o.color} {o.cls}" + (f": {note}" if note else "")
    return Box(*o.box, label=label)


def _count(n: int, cls: str) -> str:
    """ "no apples", "one apple", "three apples"."""
    if n == 1:
        return "one " + phrase(ObjectGroup(cls)).split(" ", 1)[1]
    return (
        phrase(ObjectGroup(cls, n)) if n else f"no {phrase(ObjectGroup(cls, 2)).split(' ', 1)[1]}"
    )


def plan_issues(
    prompt: SceneGraph, described: SceneGraph, instructed: SceneGraph, complete: bool
) -> list[Issue]:
    """Where the plan's description or instruction contradicts the prompt (or leaves part of it out)."""
    issues: list[Issue] = []
    for scene, name in ((described, "plan"), (instructed, "instruction")):
        to_prompt = match(scene, prompt)
        for i, g in enumerate(scene.groups):
            if i not in to_prompt:
                refused = any(n.cls == g.cls and n.color in (None, g.color) for n in prompt.negated)
                why = "asks not to have" if refused else "does not ask for"
                issues.append(
                    Issue(
                        f"The {name} includes {phrase(g)}, which the prompt {why}.",
                        Edit("remove", _one(g)),
                    )
                )
                continue
            want = prompt.groups[to_prompt[i]]
            if want.color and g.color != want.color:
                have = f"{g.color} {g.cls}" if g.color else f"{g.cls} without a colour"
                issues.append(
                    Issue(
                        f"The {name} has a {have}, but the prompt asks for {phrase(want)}.",
                        Edit("recolor", _one(g), color=want.color),
                    )
                )
            if g.count != want.count:
                issues.append(
                    Issue(
                        f"The {name} has {phrase(g)}, but the prompt asks for {phrase(want)}.",
                        Edit("count", _one(g), count=want.count),
                    )
                )
        back = {p: s for s, p in to_prompt.items()}
        for r in prompt.relations:
            if r.subject not in back or r.anchor not in back:
                continue
            s, a = back[r.subject], back[r.anchor]
            said = [x.relation for x in scene.relations if (x.subject, x.anchor) == (s, a)]
            said += [
                OPPOSITE[x.relation]
                for x in scene.relations
                if (x.subject, x.anchor) == (a, s) and x.relation in OPPOSITE
            ]
            if r.relation not in said:
                subject, anchor = scene.groups[s], scene.groups[a]
                where = (
                    f"puts {the(subject)} {said[0]} {the(anchor)}"
                    if said
                    else f"does not place {the(subject)}"
                )
                issues.append(
                    Issue(
                        f"The {name} {where}; the prompt wants it {r.relation} {the(anchor)}.",
                        Edit("move", _one(subject), r.relation, _one(anchor)),
                    )
                )
    if complete:
        to_plan = match(prompt, described)
        for i in prompt.plan_order():
            if i not in to_plan:
                g = prompt.groups[i]
                rel = next(
                    (r for r in prompt.relations if r.subject == i and r.anchor in to_plan), None
                )
                edit = Edit(
                    "add",
                    _one(g),
                    rel.relation if rel else None,
                    _one(prompt.groups[rel.anchor]) if rel else None,
                    count=g.count,
                )
                issues.append(
                    Issue(f"The plan is marked complete but leaves out {phrase(g)}.", edit)
                )
    unique: dict[Edit, Issue] = {}
    for issue in issues:
        unique.setdefault(issue.edit, issue)
    return list(unique.values())


def _objects_for(plan: SceneGraph, analysis: Analysis, i: int) -> list[Found]:
    g = plan.groups[i]
    shared = sum(h.cls == g.cls for h in plan.groups) > 1
    return analysis.of(g.cls, g.color if shared else None)


def merged(plan: SceneGraph) -> SceneGraph:
    """The plan with groups of one class and colour as one group ("three balls" and "a ball" are four
    balls): the canvas cannot tell which instance belongs to which, so the sketch is counted by the sum."""
    first: dict[tuple, int] = {}
    groups: list[ObjectGroup] = []
    where: dict[int, int] = {}
    for i, g in enumerate(plan.groups):
        key = (g.cls, g.color)
        if key in first:
            k = first[key]
            groups[k] = ObjectGroup(g.cls, groups[k].count + g.count, g.color)
        else:
            first[key] = k = len(groups)
            groups.append(g)
        where[i] = k
    relations = list(
        dict.fromkeys(
            Relation(where[r.subject], r.relation, where[r.anchor])
            for r in plan.relations
            if where[r.subject] != where[r.anchor]
        )
    )
    return SceneGraph(groups, relations, plan.free_text)


def hidden_note(plan: SceneGraph, analysis: Analysis, hidden: dict[str, int]) -> str:
    """What the hand drew that the pixels do not show, where the plan asks for more than is seen: the
    refine's reason for not drawing it again ("" when nothing planned is hidden)."""
    notes = []
    for g in merged(plan).groups:
        seen = len(analysis.of(g.cls))
        if seen < g.count and hidden.get(g.cls, 0) > 0:
            n = min(hidden[g.cls], g.count - seen)
            notes.append(f"{_count(n, g.cls)} drawn but hidden from view")
    if not notes:
        return ""
    return (
        f"Not drawing again what is already drawn: {', '.join(notes)} "
        "(inside, behind or under another object)."
    )


def _held(relation: str, analysis: Analysis, o: Found, anchors: list[Found]) -> bool:
    """Whether object `o` stands in `relation` to the anchors as the pixels show it: GenEval's four
    against every anchor (its rule), the others against any one of them (a kettle next to a row of
    cups stands beside the nearest, a tulip is in one of the vases)."""
    if relation in RELATIONS:
        return all(relation in relative_position(o.box, t.box) for t in anchors)
    return any(analysis.reads(relation, o, t) for t in anchors if t is not o)


def _unclaimed(plan: SceneGraph, analysis: Analysis, cls: str) -> list[Found]:
    """Objects of `cls` in a colour none of its groups asks for, where several groups share the class
    (a yellow sheep where the plan has a black one and two white ones)."""
    groups = [g for g in plan.groups if g.cls == cls]
    if len(groups) < 2 or any(g.color is None for g in groups):
        return []
    return [o for o in analysis.of(cls) if all(o.color != g.color for g in groups)]


def sketch_issues(
    plan: SceneGraph, analysis: Analysis, hidden: dict[str, int] | None = None
) -> list[Issue]:
    """Where the objects read off the canvas differ from everything planned so far.

    `hidden`: per class, objects the hand drew that the analyser does not see (the painter's record
    less what is read; the refiner knows what it drew, the inspector passes none). They count as
    drawn, so what is drawn but covered is never drawn again."""
    hidden = hidden or {}
    plan = merged(plan)
    missing, extra, colors, places = [], [], [], []
    for i in plan.plan_order():
        g, objs = plan.groups[i], _objects_for(plan, analysis, i)
        boxes = tuple(_box(o) for o in objs)
        others = _unclaimed(plan, analysis, g.cls)
        if len(objs) + hidden.get(g.cls, 0) < g.count and others:
            # drawn, in a colour no group of its class has: recoloured, never drawn again
            n = min(len(others), g.count - len(objs))
            colors.append(
                Issue(
                    f"In the sketch {_count(n, g.cls)} {'is' if n == 1 else 'are'} {others[0].color}; "
                    f"the plan asks for {phrase(g)}.",
                    Edit("recolor", ObjectGroup(g.cls, 1, others[0].color), color=g.color),
                    tuple(_box(w, f"should be {g.color}") for w in others),
                )
            )
        elif len(objs) + hidden.get(g.cls, 0) < g.count:
            rel = next((r for r in plan.relations if r.subject == i), None)
            anchor = (
                _one(plan.groups[rel.anchor])
                if rel and _objects_for(plan, analysis, rel.anchor)
                else None
            )
            what = (
                f"only {_count(len(objs), g.cls)}"
                if objs
                else (f"no {g.cls}" if g.count == 1 else _count(0, g.cls))
            )
            missing.append(
                Issue(
                    f"The sketch has {what}; the plan asks for {phrase(g)}.",
                    Edit(
                        "add",
                        _one(g),
                        rel.relation if anchor else None,
                        anchor,
                        count=g.count - len(objs) - hidden.get(g.cls, 0),
                    ),
                    boxes,
                )
            )
        elif len(objs) > g.count:
            wrong = [o for o in objs if g.color and o.color != g.color]
            color = wrong[0].color if wrong else g.color
            extra.append(
                Issue(
                    f"The sketch has {_count(len(objs), g.cls)}; the plan asks for {phrase(g)}.",
                    Edit("remove", ObjectGroup(g.cls, 1, color), count=len(objs) - g.count),
                    tuple(
                        _box(o, f"is one of {len(objs)}; the plan asks for {g.count}") for o in objs
                    ),
                )
            )
        wrong = [o for o in objs if g.color and o.color != g.color]
        if wrong:
            o = wrong[0]
            subject = (
                f"the {g.cls}"
                if g.count == 1
                else f"{len(wrong)} of the {phrase(ObjectGroup(g.cls, 2)).split(' ', 1)[1]}"
            )
            colors.append(
                Issue(
                    f"In the sketch {subject} {'is' if len(wrong) == 1 else 'are'} {o.color}; "
                    f"the plan asks for {g.color}.",
                    Edit("recolor", ObjectGroup(g.cls, 1, o.color), color=g.color),
                    tuple(_box(w, f"should be {g.color}") for w in wrong),
                )
            )
    for r in plan.relations:
        subjects, anchors = (
            _objects_for(plan, analysis, r.subject),
            _objects_for(plan, analysis, r.anchor),
        )
        bad = [o for o in subjects if anchors and not _held(r.relation, analysis, o, anchors)]
        if bad:
            s, a = plan.groups[r.subject], plan.groups[r.anchor]
            places.append(
                Issue(
                    f"In the sketch {the(s)} {'is' if s.count == 1 else 'are'} not {r.relation} {the(a)}.",
                    Edit("move", _one(s), r.relation, _one(a)),
                    tuple(_box(o, f"should be {r.relation} {the(a)}") for o in subjects)
                    + tuple(_box(t) for t in anchors),
                )
            )
    planned_classes = {g.cls for g in plan.groups}
    for cls in sorted({o.cls for o in analysis.objects} - planned_classes):
        objs = analysis.of(cls)
        extra.append(
            Issue(
                f"The sketch has {_count(len(objs), cls)}, which the plan does not include.",
                Edit("remove", ObjectGroup(cls)),
                tuple(_box(o, "is not in the plan") for o in objs),
            )
        )
    return missing + extra + colors + places


def verdict(issues: list[Issue], passed_text: str, evidence: tuple[Box, ...] = ()) -> Check:
    if not issues:
        return Check(True, passed_text, evidence)
    more = len(issues) - 1
    critique = issues[0].critique + (
        f" ({more} more problem{'s' if more > 1 else ''} after this one.)" if more else ""
    )
    boxes = tuple(b for issue in issues for b in issue.evidence)
    return Check(False, critique, boxes)
