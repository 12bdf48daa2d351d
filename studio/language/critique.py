"""A person's critique (an overridden verdict, a reject reason) read into the edits that answer it.

People do not write refine instructions when they judge a sketch: they write "no: the cup should be
green", "the dog is missing", "one apple too many". `read_critique` reads each clause of such a text
with the reader (`parse_edit`, and `parse_prompt` for the objects it names) plus the ways people say
what is wrong, against the plan the critique judged, and keeps what no edit could be read from with why.

Example::

    read_critique("no: the cup should be green", plan).edits
    # (Edit(kind='recolor', target=ObjectGroup(cls='cup'), color='green'),)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .edits import Edit
from .reader import parse_edit, parse_prompt
from .scene import COLOR_WORDS, NUMBERS, ObjectGroup, SceneGraph, plural

_VERDICT_WORD = re.compile(
    r"^\s*(?:no|nope|wrong|incorrect|not quite|not right|bad|fail(?:ed)?|false)\b\s*[:,.!\-–—]+\s*",
    re.IGNORECASE,
)
_COLOR_ALT = "|".join(sorted(COLOR_WORDS, key=len, reverse=True))
# "green, not red", "green rather than red", "green instead of red": the colour after is the unwanted one
_NOT_COLOR = re.compile(
    rf"(?:,\s*|\s+)(?:and\s+)?(?:not|rather than|instead of)\s+(?:a\s+|an\s+)?(?:{_COLOR_ALT})\b",
    re.IGNORECASE,
)
_SPLIT = re.compile(
    r"(?<=[.!?;])\s+|\s*;\s*|\s+[-–—]+\s+|"
    r",?\s+(?:and|but|also|plus)\s+(?=the\b|there\b|a\b|an\b|it\b|make\b|move\b|add\b|put\b|remove\b)",
    re.IGNORECASE,
)
_SIZE = re.compile(
    r"\b(?:bigger|larger|smaller|tinier|shrink|enlarge|too (?:big|small|large|tiny)|size)\b", re.I
)
_TOO_MANY = re.compile(r"\b(?:too many|one \w+(?: \w+)? too many|extra|surplus|fewer|less)\b", re.I)
_MORE = re.compile(
    r"\b(?:(?P<n>one|two|three|four|five|six|\d+) more|another|too few|not enough|more)\b", re.I
)
# a class that should not be there at all ("there should be no cat", "I never asked for a cat")
_UNWANTED = re.compile(
    r"\b(?:should(?:n't| not) (?:be (?:there|here|in it)|have)|should be no|must(?:n't| not) be|"
    r"(?:don't|do not|didn't|did not|never) (?:want|ask(?:ed)? for|need)|no need for|unwanted|not wanted|"
    r"get rid of|lose|drop|ditch|take out|without|not supposed to be (?:there|here)|doesn't belong|"
    r"does not belong|no\s+(?!\w+\s+(?:is|are)\b)(?=[a-z]))",
    re.I,
)
# a planned object the sketch lacks ("the dog is missing", "where is the dog?", "there is no dog")
_MISSING = re.compile(
    r"\b(?:missing|forgot(?:ten)?|left out|leaves out|lacks?|lacking|where(?:'s| is| are)|absent|"
    r"(?:can't|cannot|can not|don't|do not|couldn't) (?:see|find)|(?:there is|there's|there are|i see) no|"
    r"needs?|wanted|want|asked for|i'd like|would like|should (?:also )?(?:be|have)|also)\b",
    re.I,
)
_PRONOUN = re.compile(r"\b(?:it|its|they|them|this|that one)\b", re.I)
# what the person wants, as against what they see: "there should be three", "I want four"
_WANT = re.compile(
    r"\b(?:should|want(?:ed)?|needs?|must|ought|asked for|supposed to|i'd like|would like)\b", re.I
)
# what the person sees ("I count only two donuts", "there are only two"): a number said here is the
# sketch's, never the one asked for (a bare "only" asks: "only one dog, please")
_SEEN = re.compile(
    r"\b(?:i (?:can )?(?:only )?(?:count|see)|i only (?:count|see)|there (?:is|are|'s) only)\b",
    re.I,
)
# a side of the picture rather than of another object ("the cat belongs on the right")
_SIDE = re.compile(
    r"\b(?:on|to|at|towards?|over) (?:the )?(left|right|top|bottom)(?:[- ]hand)?(?: side| edge)?\b"
    r"(?! of\b)",
    re.I,
)
_SIDE_RELATION = {"left": "left of", "right": "right of", "top": "above", "bottom": "below"}
_NUMBER = re.compile(r"\b(" + "|".join(sorted(NUMBERS, key=len, reverse=True)) + r"|\d+)\b", re.I)


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word.lower()]


def _side_asked(low: str) -> str | None:
    """The side of the picture a clause asks for: the one said after what the person wants ("it is on
    the right but should be left" -> left), else the one it names; None when it names none."""
    want = _WANT.search(low)
    if want is not None:
        after = _SIDE.search(low, want.start()) or re.search(
            r"\b(left|right)\b(?! of\b)", low[want.start() :]
        )
        if after is not None:
            return after.group(1)
    found = _SIDE.search(low)
    return found.group(1) if found else None


def _count_said(low: str, have: ObjectGroup | None) -> int | None:
    """The number of objects a clause asks for: the one said after what the person wants ("I count two,
    there should be three" -> 3), or, where it only says what the sketch shows ("only two donuts"),
    the planned count; None when it says no number."""
    numbers = list(_NUMBER.finditer(low))
    if not numbers:
        return None
    want = _WANT.search(low)
    if want is not None:
        after = [m for m in numbers if m.start() > want.start()]
        return _number(after[0].group(1)) if after else None
    if _SEEN.search(low):
        return have.count if have is not None else None
    return None


@dataclass(frozen=True)
class Critique:
    """What a person's critique asks for, as edits, and the parts no edit could be read from (with why)."""

    edits: tuple[Edit, ...]
    unread: tuple[str, ...] = ()  # "it looks unbalanced: no object, colour, place or number in it"

    @property
    def why_not(self) -> str:
        return "; ".join(self.unread)


def _clauses(text: str) -> list[str]:
    text = _VERDICT_WORD.sub("", text.strip())
    parts = [p.strip(" ,.!?:-") for p in _SPLIT.split(text)]
    return [_VERDICT_WORD.sub("", p) for p in parts if p and p.strip(" ,.!?:-")]


def _resolve(clause: str, plan: SceneGraph) -> str:
    """A pronoun stands for the plan's one object ("make it green" with only a cup planned)."""
    classes = list(dict.fromkeys(g.cls for g in plan.groups))
    if len(classes) == 1 and _PRONOUN.search(clause):
        return _PRONOUN.sub(f"the {classes[0]}", clause, count=1)
    return clause


def _planned(plan: SceneGraph, cls: str) -> ObjectGroup | None:
    return next((g for g in plan.groups if g.cls == cls), None)


def read_clause(clause: str, plan: SceneGraph) -> Edit | str:  # noqa: C901  (one rule per way people say it)
    """One clause of a critique -> the Edit it asks for, or why none could be read from it."""
    said, clause = clause, _resolve(clause, plan)
    if _SIZE.search(clause):
        return f"{said!r}: the offline engine draws each object at one size and cannot resize it"
    wanted = _NOT_COLOR.sub("", clause)
    scene = parse_prompt(clause)
    objects = list(scene.groups) + [g for g in scene.negated if g not in scene.groups]
    if not objects:
        return f"{said!r}: it names no object the engine can draw"
    first = objects[0]
    target = ObjectGroup(first.cls, 1, first.color)
    low = clause.lower()
    have = _planned(plan, first.cls)
    asked = _count_said(low, have)
    if asked is not None and (_SEEN.search(low) or (have is not None and asked != have.count)):
        return Edit("count", target, count=asked)
    side = _side_asked(low)
    if side is not None and len(objects) == 1:
        others = list(dict.fromkeys(g.cls for g in plan.groups if g.cls != first.cls))
        if len(others) != 1:
            return (
                f"{said!r}: it says a side of the picture, and the plan has "
                f"{'no other object' if not others else 'several other objects'} to place the "
                f"{first.cls} against: name one (e.g. 'the {first.cls} should be right of the …')"
            )
        return Edit("move", target, _SIDE_RELATION[side], ObjectGroup(others[0], 1))
    more = _MORE.search(low)
    if _TOO_MANY.search(low) and not more:
        nums = [NUMBERS[w] for w in re.findall(r"\b\w+\b", low) if w in NUMBERS]
        if re.search(r"\bone \w+(?: \w+)? too many\b|\b(?:an|one) extra\b", low):
            return Edit("remove", target, count=1)
        if have is not None and not re.search(r"\b(?:want|should|only|asked)\b", low):
            return Edit("count", target, count=have.count)  # back to what is planned
        if nums:
            return Edit("count", target, count=min(nums))
        return Edit("remove", target, count=1)
    if more and (more.group("n") or "more" in more.group(0) or "another" in more.group(0)):
        n = more.group("n")
        count = (
            (NUMBERS.get(n.lower()) or int(n)) if n and (n.isdigit() or n.lower() in NUMBERS) else 1
        )
        if "too few" in low or "not enough" in low:
            if have is not None:
                return Edit("count", target, count=have.count)
        return Edit("add", target, count=count)
    if _UNWANTED.search(low) and not re.search(r"\b(?:there is|there's|there are|i see) no\b", low):
        if (
            not (set(re.findall(r"[a-z]+", wanted.lower())) & set(COLOR_WORDS))
            or first in scene.negated
        ):
            return Edit("remove", target)
    edit = parse_edit(wanted)
    if edit is not None and edit.kind == "count" and edit.count is None:
        edit = None
    if edit is not None:
        if edit.kind == "recolor" and edit.target.color == edit.color:
            edit = Edit("recolor", ObjectGroup(edit.target.cls), color=edit.color)
        return edit
    if _MISSING.search(low):
        if have is not None and first.color and have.color != first.color and first.count == 1:
            return Edit("recolor", ObjectGroup(first.cls), color=first.color)
        if have is not None and first.count != 1 and first.count != have.count:
            return Edit("count", ObjectGroup(first.cls, 1, first.color), count=first.count)
        rel = next((r for r in scene.relations if r.subject == 0), None)
        anchor = scene.groups[rel.anchor] if rel else None
        return Edit(
            "add",
            target,
            rel.relation if rel else None,
            ObjectGroup(anchor.cls, 1, anchor.color) if anchor else None,
            count=first.count,
        )
    return f"{said!r}: no change to make could be read from it"


def read_critique(text: str, plan: SceneGraph) -> Critique:
    """A person's critique ("no: the cup should be green", "the dog is missing and there should be no
    cat") read into the edits that answer it, against the plan it judged (a pronoun is its one object,
    "too many dogs" means as many as planned). What no edit could be read from is kept with why."""
    edits: list[Edit] = []
    unread: list[str] = []
    clauses = _clauses(text)
    named: str | None = (
        None  # the object the clause before named: "…, there should be three" counts it
    )
    for clause in clauses:
        if named and not parse_prompt(_resolve(clause, plan)).groups and _NUMBER.search(clause):
            noun = plural(named)
            clause = _NUMBER.sub(lambda m, noun=noun: f"{m.group(1)} {noun}", clause, count=1)
        found = read_clause(clause, plan)
        objects = parse_prompt(_resolve(clause, plan)).groups
        named = objects[0].cls if objects else named
        if isinstance(found, Edit):
            if found not in edits:
                edits.append(found)
        else:
            unread.append(found)
    if not clauses:
        unread.append(f"{text.strip()!r}: it says no more than that the check failed")
    if edits:  # a clause naming nothing ("wrong colour") only framed the findings beside it
        unread = [u for u in unread if not u.endswith("names no object the engine can draw")]
    return Critique(tuple(edits), tuple(unread))
