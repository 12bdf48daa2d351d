"""Refine instructions: the five edits the offline engine carries out, and the sentence for each.

A person's `<refine>` ("make the cup blue", "move the lamp left of the cat") and the engine's own
are the same kind of thing: an `Edit` the planner applies to the plan and the painter to the
sketch. `edit_text` writes the canonical sentence; the reader's `parse_edit`
(`studio.language.reader`) reads it back to the same Edit, for GenEval's classes and
open-vocabulary nouns alike.

Example::

    edit_text(Edit("move", ObjectGroup("dog"), "right of", ObjectGroup("cat")))
    # 'move the dog right of the cat'
"""

from __future__ import annotations

from dataclasses import dataclass

from .scene import ObjectGroup, group_phrase, group_reference, noun, number_word


@dataclass(frozen=True)
class Edit:
    """One refine instruction, structured so the refiner can apply it to a SceneGraph."""

    kind: str  # "move" | "recolor" | "remove" | "add" | "count"
    target: ObjectGroup  # identifies the group by class and colour; its count stays 1 (numbers go in `count`)
    relation: str | None = None  # for move (and optionally add: where to put the new objects)
    anchor: ObjectGroup | None = None
    color: str | None = None
    count: int | None = None


def edit_text(edit: Edit) -> str:
    """The canonical instruction for an Edit; parse_edit(edit_text(e)) == e."""
    t = edit.target
    ref = group_reference(ObjectGroup(t.cls, 1, t.color))
    if edit.kind == "move":
        return f"move {ref} {edit.relation} {group_reference(edit.anchor)}"
    if edit.kind == "recolor":
        return f"recolor {ref} to {edit.color}"
    if edit.kind == "remove":
        some = (
            None
            if edit.count is None
            else f"{number_word(edit.count)} {noun(t.cls, edit.count, t.color)}"
        )
        return f"remove {some or ref}"
    if edit.kind == "count":
        return f"change the number of {noun(t.cls, 2, t.color)} to {number_word(edit.count)}"
    if edit.kind == "add":
        text = "add " + group_phrase(ObjectGroup(t.cls, edit.count or 1, t.color))
        if edit.relation and edit.anchor:
            text += f" {edit.relation} {group_reference(edit.anchor)}"
        return text
    raise ValueError(f"unknown edit kind: {edit.kind}")


def edit_to_dict(edit: Edit) -> dict:
    """An Edit as plain data, for a step's meta (`edit_from_dict` reads it back)."""
    out: dict = {"kind": edit.kind, "target": edit.target.to_dict()}
    if edit.relation:
        out["relation"] = edit.relation
    if edit.anchor is not None:
        out["anchor"] = edit.anchor.to_dict()
    if edit.color:
        out["color"] = edit.color
    if edit.count is not None:
        out["count"] = edit.count
    return out


def edit_from_dict(data: dict) -> Edit:
    anchor = data.get("anchor")
    return Edit(
        str(data["kind"]),
        ObjectGroup.from_dict(data["target"]),
        data.get("relation"),
        ObjectGroup.from_dict(anchor) if anchor else None,
        data.get("color"),
        data.get("count"),
    )
