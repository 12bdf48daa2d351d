"""Refine instructions read into an `Edit`: "make the cup blue", "move the lamp left of the cat".

The instruction is read with the prompt's own rules (`Reader`'s noun phrases and relation phrases,
`roles.role` for nouns that are not objects: "the number of apples"), so a refine may name any
noun a prompt may. `edit_text` (`studio.language.edits`) writes the sentence this reads back.

Example::

    parse_edit("make the cup blue") == Edit("recolor", ObjectGroup("cup"), color="blue")
    parse_edit("hello")  # None: not one of the five kinds
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..edits import Edit
from ..scene import COLOR_WORDS, NUMBERS, ObjectGroup
from .reader import Reader
from .roles import role

MOVE_VERBS = {"move", "shift", "relocate", "drag", "reposition"}
ADD_VERBS = {"add", "draw", "insert", "include", "put", "place", "create"}
REMOVE_WORDS = {"remove", "delete", "erase", "eliminate", "rid"}


@dataclass
class _Read:
    """What a refine instruction mentions, in order: noun phrases, bare colours, numbers, a relation."""

    nps: list
    colors: list[str]
    nums: list[int]
    rel: str | None
    words: set[str]
    joined: str


def _read(text: str) -> _Read:
    r = Reader(text)
    low = r.low
    found = _Read([], [], [], None, set(low), " ".join(low))
    i = 0
    while i < len(low):
        np = r.np_at(i)
        if np is not None and not np.known and role(r, np) != "object":
            np = None  # "the number of apples", "the colour of the cup"
        if low[i] in COLOR_WORDS and (np is None or (np.bare and np.end == i + 1)):
            # "make the cup orange": a colour, not the fruit
            found.colors.append(COLOR_WORDS[low[i]])
            i += 1
        elif np:
            found.nps.append(np)
            i = np.end
        elif r.relation_at(i) and found.nps and found.rel is None:
            found.rel, i = r.relation_at(i)
        else:
            if low[i] in NUMBERS or low[i].isdigit():
                found.nums.append(int(low[i]) if low[i].isdigit() else NUMBERS[low[i]])
            i += 1
    return found


def parse_edit(text: str) -> Edit | None:
    """A refine instruction -> Edit, or None when it is not one of the five kinds we know."""
    f = _read(text)
    if not f.nps:
        return None
    first, nps, nums = f.nps[0], f.nps, f.nums
    target = ObjectGroup(first.cls, 1, first.color)
    if f.words & REMOVE_WORDS or "take away" in f.joined or "take out" in f.joined:
        # "remove two of the apples", "remove one apple", "delete the extra clock"; "remove the dogs": all
        some = first.explicit or ((first.article or first.extra) and first.count == 1)
        return Edit("remove", target, count=nums[0] if nums else first.count if some else None)
    if re.search(r"\b(number|count|amount) of\b", f.joined):
        count = nums[0] if nums else (nps[-1].count if len(nps) > 1 and nps[-1].explicit else None)
        return Edit("count", target, count=count) if count is not None else None
    return _placement_edit(f, target) or _appearance_edit(f, target)


def _placement_edit(f: _Read, target: ObjectGroup) -> Edit | None:
    """move, or add (somewhere, or anywhere)."""
    first, nps, words = f.nps[0], f.nps, f.words
    if f.rel and len(nps) > 1:
        anchor = ObjectGroup(nps[1].cls, 1, nps[1].color)
        if words & ADD_VERBS and not first.definite and not words & MOVE_VERBS:
            return Edit("add", target, f.rel, anchor, count=first.count)
        return Edit("move", target, f.rel, anchor)
    if words & (ADD_VERBS - {"put", "place"}):
        return Edit("add", target, count=first.count)
    return None


def _appearance_edit(f: _Read, target: ObjectGroup) -> Edit | None:
    """recolor, or a count stated outright ("there should be three apples")."""
    first, nps = f.nps[0], f.nps
    if f.colors:
        if target.color is None and len(f.colors) > 1 and "from" in f.words:
            target = ObjectGroup(first.cls, 1, f.colors[0])
        return Edit("recolor", target, color=f.colors[-1])
    if len(nps) > 1 and nps[1].cls == first.cls and nps[1].color not in (None, first.color):
        return Edit("recolor", target, color=nps[1].color)  # "turn the red cup into a blue cup"
    if first.explicit:
        return Edit("count", target, count=first.count)  # "there should be three apples"
    # "make the orange orange" read the colour as an adjective
    if first.color and first.cls in COLOR_WORDS:
        return Edit("recolor", ObjectGroup(first.cls), color=first.color)
    return None
