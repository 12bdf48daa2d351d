"""What a prompt says around its objects that is not an object: the ground, parts, materials.

The reading loop decides that a noun is not an object (`roles.role`); this module says what it is
instead, so the planner can draw it as what it is: a surface or place the objects stand on or in
("rests on a wooden table" -> ground "wooden table"), a part of an object ("a laptop ... Its
keyboard", "an elephant with long white tusks" -> parts "keyboard", "white tusks"), or the
material an object is made of ("a wooden chair", "a glass vase", "crafted from dark oak").
Abstract words ("the alignment of the stems", "a soft sheen") are none of these.
"""

from __future__ import annotations

from dataclasses import replace

from .. import lexicon as L
from ..scene import COLOR_WORDS, DEFINITE, NUMBERS, ObjectGroup
from .reader import NP, Reader

__all__ = ["fill", "is_ground", "part_of", "phrase"]

# "wooden chair": adjectives that name a material
MATERIAL_ADJECTIVES = {
    "wooden": "wood",
    "woolen": "wool",
    "woollen": "wool",
    "metallic": "metal",
    "metal": "metal",
    "golden": "gold",
    "silver": "silver",
    "leathern": "leather",
    "stone": "stone",
}
_SKIP = DEFINITE | {"a", "an", "its", "their", "his", "her", "some", "each", "every", "both", "all"}


def phrase(r: Reader, np: NP, start: int) -> str:
    """The words of a noun phrase without its article or count: "wooden table", "white tusks"."""
    words = [
        r.low[k]
        for k in range(start, np.end)
        if r.low[k].isalpha() and r.low[k] not in _SKIP and r.low[k] not in NUMBERS
    ]
    return " ".join(words)


def is_ground(r: Reader, np: NP) -> bool:
    """A place or surface the scene stands on or in: the object of a place preposition ("on a
    wooden table", "in a dusty clearing"), not the frame, a part or something abstract."""
    w = r.words[np.head]
    names = {np.cls, r.low[np.head], w.lemma}
    if names & (L.FRAMES | L.ABSTRACT | L.PARTS | L.MATERIALS) or r.possessed(np.head):
        return False
    if w.dep != "pobj" or w.head == np.head:
        return False
    prep = r.low[w.head]
    return prep in L.SETTING_PREPS | L.SURFACE_PREPS or (
        prep == "of" and r.low[r.words[w.head].head] in ("top", "middle", "edge", "corner")
    )


def part_of(r: Reader, np: NP, start: int) -> str | None:
    """The words for a part of an object ("keyboard", "white tusks", "purple cheese"), or None for
    a noun that names no part (the frame, an abstraction)."""
    names = {np.cls, r.low[np.head], r.words[np.head].lemma}
    if names & (L.META | L.ABSTRACT | L.MATERIALS):
        return None
    head = r.low[np.head]
    color = np.color or next(
        (COLOR_WORDS[r.low[k]] for k in range(start, np.head) if r.low[k] in COLOR_WORDS), None
    )
    return f"{color} {head}" if color else head


def material_of(r: Reader, head: int) -> str | None:
    """The material said with an object's noun: "a wooden chair", "a glass vase", "leather jacket"."""
    for c, w in enumerate(r.words):
        if w.head != head or c == head or w.dep not in ("amod", "compound", "nmod"):
            continue
        if r.low[c] in MATERIAL_ADJECTIVES:
            return MATERIAL_ADJECTIVES[r.low[c]]
        if r.low[c] in L.MATERIALS:
            return r.low[c]
    return None


def fill(
    r: Reader,
    groups: list[ObjectGroup],
    head_group: dict[int, int],
    parts: dict[int, list[str]],
    materials: dict[int, str],
) -> None:
    """Put each group's parts and material on it (said with its noun, or as "made of oak")."""
    for h, k in sorted(head_group.items()):
        found = material_of(r, h)
        if found and k not in materials:
            materials[k] = found
    for k, g in enumerate(groups):
        said = tuple(dict.fromkeys(parts.get(k, [])))
        if said or k in materials:
            groups[k] = replace(g, parts=g.parts + said, material=g.material or materials.get(k))
