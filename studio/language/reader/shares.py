"""One thing said of some of a group: "Two cats sit. One cat is orange, the other is black."

A description often introduces several objects at once and then tells them apart: "one … the
other", "the first two … the last one", "the larger suitcase … the smaller one", "two of them …",
"the laptop on the left … the one on the right". Each such clause names a share of the group
(how many, and which), and what it says of the share (a colour, a side) belongs to that share
only. `distribute` reads those clauses from spaCy's parse once the whole prompt is read, and splits
the group into one group per colour; relations of the group hold for each part of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .. import lexicon as L
from ..scene import COLOR_WORDS, NUMBERS, ObjectGroup, Relation
from .finish import group_name, predicate_subject
from .reader import SIDES, Reader

ORDINALS = frozenset("first second third fourth fifth last middle final other".split())
REST = frozenset("other others rest remaining remainder".split())
WHOLE = frozenset("both all each every".split())


@dataclass
class Share:
    """`count` of the group (None: the rest of it), the colour said of them, their side if said."""

    group: int
    count: int | None
    color: str
    side: str | None
    order: int


def _color(r: Reader, c: int) -> str | None:
    w = r.low[c]
    if w in COLOR_WORDS:
        return COLOR_WORDS[w]
    if w in L.COLOR_SYNONYMS and w not in L.WEAK_COLORS:
        return L.COLOR_SYNONYMS[w]
    return None


def _children(r: Reader, k: int) -> list[int]:
    return [c for c, w in enumerate(r.words) if w.head == k and c != k]


def _selector(r: Reader, subj: int) -> tuple[int | None, str | None] | None:
    """How many of a group the subject names and its side: "One cat" (1), "the other" (the rest),
    "the first two" (2), "the larger suitcase" (1), "two of them" (2), "the one on the right"
    (1, right of). None when the subject is the whole group ("both", "each", "the cats")."""
    words, low = r.words, r.low
    kids = _children(r, subj)
    said = {low[c] for c in kids} | {low[subj]}
    if said & WHOLE:
        return None
    side = next(
        (
            SIDES[low[p]]
            for c in kids
            if low[c] in ("on", "to", "at")
            for p in _children(r, c)
            if low[p] in ("left", "right")
        ),
        None,
    )
    if low[subj] in REST:
        return None, side  # "the other is black", "the rest are white"
    number = next(
        (NUMBERS[low[c]] for c in [subj, *kids] if low[c] in NUMBERS and low[c] != "one"), None
    )
    if number is not None:
        return number, side  # "the first two", "two of them"
    chosen = (
        low[subj] == "one"
        or said & ORDINALS
        or any(words[c].tag in ("JJR", "JJS") for c in kids)  # "the larger suitcase"
        or side is not None
        or any(low[c] == "one" and words[c].dep == "nummod" for c in kids)  # "One cat"
    )
    singular = words[subj].tag in ("NN", "CD") or low[subj] == "one"
    return (1, side) if singular and chosen else None


def _group_of(r: Reader, subj: int, groups, head_group: dict[int, int]) -> int | None:
    """The group with several members the subject picks from: its own noun's group, or for "one",
    "the other", "two of them", the last such group said before it."""
    k = head_group.get(subj)
    if k is not None:
        return k if groups[k].count > 1 else None
    before = [h for h in head_group if h < subj and groups[head_group[h]].count > 1]
    return head_group[max(before)] if before else None


def _part_predicate(r: Reader, c: int) -> int | None:
    """For a colour on a part ("is covered in red sauce", "has white cheese"), the word whose subject
    the part is said of; None otherwise."""
    words = r.words
    part = words[c].head
    if words[c].dep != "amod" or part == c:
        return None
    if words[part].dep == "dobj":
        return part
    if words[part].dep == "pobj" and words[words[part].head].head != words[part].head:
        return words[part].head
    return None


def shares(r: Reader, groups, head_group: dict[int, int]) -> list[Share]:
    """Every colour the prompt says of a share of a group, in the order said."""
    out = []
    for c in range(len(r.words)):
        color = _color(r, c)
        if color is None:
            continue
        part = None
        if r.words[c].dep in ("acomp", "attr", "oprd", "conj", "xcomp"):
            subj, _ = predicate_subject(r, c)
        elif (anchor := _part_predicate(r, c)) is not None:
            part = r.words[c].head
            subj, _ = predicate_subject(r, anchor)
        else:
            continue
        if subj is None or r.low[subj] in L.PRONOUNS or r.low[subj] in ("they", "he", "she"):
            continue
        picked = _selector(r, subj)
        k = _group_of(r, subj, groups, head_group) if picked else None
        if picked is None or k is None:
            continue
        if part is not None:
            words = L.DEFINING_PARTS.get(groups[k].cls, frozenset()) | L.BODY
            if r.low[part] not in words and r.words[part].lemma not in words:
                continue  # "the other has white spots": not its colour
        out.append(Share(k, picked[0], color, picked[1], c))
    return out


def distribute(
    r: Reader, groups: list[ObjectGroup], relations: list[Relation], head_group, notes: list[str]
) -> None:
    """Split each group whose shares are given colours into one group per colour ("the first two are
    black and the last one is red": two black birds and a red one); what is not said of any share
    keeps no colour; relations of the group are copied to each new group, sides said of shares
    ("the one on the left") relate them."""
    by_group: dict[int, list[Share]] = {}
    for s in shares(r, groups, head_group):
        by_group.setdefault(s.group, []).append(s)
    for k, said in by_group.items():
        g = groups[k]
        fixed = sum(s.count for s in said if s.count is not None)
        rest = [s for s in said if s.count is None]
        if g.color is not None or len(rest) > 1 or fixed > g.count or (rest and fixed >= g.count):
            continue  # its colour was said of all of it, or the shares do not add up
        left = g.count - fixed
        counts: dict[str, int] = {}
        sides: dict[str, str] = {}
        for s in said:
            n = s.count if s.count is not None else left
            counts[s.color] = counts.get(s.color, 0) + n
            if s.side:
                sides[s.color] = s.side
        if rest:
            left = 0
        parts = [(n, color) for color, n in counts.items()] + ([(left, None)] if left else [])
        if len(parts) == 1:
            groups[k] = replace(g, color=parts[0][1])
            continue
        # "two horses is left, but of nothing else": a share's side, which now relates the shares
        notes[:] = [x for x in notes if not x.startswith(f"{group_name(g)} is ")]
        index = {}
        for m, (n, color) in enumerate(parts):
            new = replace(g, count=n, color=color)
            if m == 0:
                groups[k], index[color] = new, k
            else:
                groups.append(new)
                index[color] = len(groups) - 1
        for x in list(relations):
            for added in list(index.values())[1:]:
                copy = Relation(
                    added if x.subject == k else x.subject,
                    x.relation,
                    added if x.anchor == k else x.anchor,
                )
                if (x.subject == k or x.anchor == k) and copy not in relations:
                    relations.append(copy)
        lefts = [c for c, side in sides.items() if side == "left of"]
        rights = [c for c, side in sides.items() if side == "right of"]
        if lefts and rights:
            relations.append(Relation(index[lefts[0]], "left of", index[rights[0]]))
        elif len(sides) == 1:  # "The horse on the left is brown": left of the other one
            (color, side), *_ = sides.items()
            other = next(m for c, m in index.items() if c != color)
            relations.append(Relation(index[color], side, other))
