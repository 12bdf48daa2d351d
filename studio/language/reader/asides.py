"""What a description mentions after its first sentence, and how: in passing or placed among the objects.

Descriptions name their main objects first. A later sentence may add to the composition ("To its
left stands a bookshelf", "The bowl holds a few red apples") or only paint the scene around it
("Pigeons wander nearby", "a few crumbs", "A large mirror reflects the room"). `roles.role` asks
these two questions (`vague_later`, `later_aside`) of a `Reader` and a noun phrase.
"""

from __future__ import annotations

from .. import lexicon as L
from ..scene import NUMBERS
from .reader import NP, Reader

VAGUE = frozenset(
    {
        "few",
        "some",
        "several",
        "many",
        "numerous",
        "various",
        "countless",
        "scattered",
        "assorted",
        "dozens",
    }
)


def vague_later(r: Reader, np: NP) -> bool:
    """A new thing after the first sentence, said with no article or number ("a few crumbs", "pigeons")."""
    if (
        np.head < r.first_end
        or np.definite
        or _measured(r, np.head)
        or _held_by_a_thing(r, np.head)
    ):
        return False
    if any(r.low[k] in ("'s", "'") for k in range(max(0, np.head - 3), np.head)):
        return False  # "a child's backpack": as definite as its owner
    # "pigeons wander", "ferns and moss"
    return _vaguely_counted(r, np) or not (np.article or np.explicit)


def _held_by_a_thing(r: Reader, k: int) -> bool:
    """The object of a verb whose subject is a thing: "The bowl holds a few red apples"."""
    w = r.words[k]
    if w.dep != "dobj" or r.words[w.head].pos not in ("VERB", "AUX"):
        return False
    verb, subj = w.head, None
    for _ in range(3):  # "The bowl is white and holds ...": a conjoined verb shares its subject
        subj = next(
            (
                c
                for c in range(len(r.words))
                if r.words[c].head == verb and r.words[c].dep == "nsubj"
            ),
            None,
        )
        if subj is not None or r.words[verb].dep != "conj":
            break
        verb = r.words[verb].head
    # (or a person said before: "He holds a helmet under his arm", "she holds a red leash")
    return subj is not None and (r.is_thing(subj) or r.low[subj] in L.PERSONAL)


def _vaguely_counted(r: Reader, np: NP) -> bool:
    """ "a few", "some", "several": a number that is not one."""
    before = []
    for k in range(np.head - 1, max(-1, np.head - 5), -1):
        if not r.low[k].isalpha() or r.words[k].pos in ("VERB", "AUX", "ADP"):
            break
        before.append(r.low[k])
        if r.words[k].sent_start:
            break
    return bool(set(before) & VAGUE)


def _measured(r: Reader, k: int) -> bool:
    """ "a head of broccoli", "a slice of pizza": said with the article of the word it is measured by."""
    of = next((m for m in range(k - 1, max(-1, k - 3), -1) if r.low[m] == "of"), None)
    if of is None or any(not r.low[m].isalpha() for m in range(of, k)):
        return False  # the small model's parse of "a head of broccoli waits" is unreliable: read the words
    before = r.low[max(0, of - 4) : of]
    return (
        any(w in ("a", "an", "one") or w.isdigit() or w in NUMBERS for w in before)
        or "'s" in r.low[of + 1 : k]
    )


def later_aside(r: Reader, np: NP) -> bool:
    """An open-vocabulary noun a later sentence brings in and places nowhere: "A large mirror reflects the room".

    Descriptions name their main objects first; a new thing in a later sentence is part of the
    composition when it is placed against them ("To its left stands a bookshelf", "beside it"),
    otherwise it is the scene around them.
    """
    if (
        np.head < r.first_end
        or np.definite
        or (np.explicit and not _vaguely_counted(r, np))
        or _held_by_a_thing(r, np.head)
    ):
        return False
    first = max((m for m in range(np.head + 1) if r.words[m].sent_start), default=0)
    last = next(
        (m for m in range(np.head + 1, len(r.words)) if r.words[m].sent_start),
        len(r.words),
    )
    sentence = r.low[first:last]
    text = " " + " ".join(sentence) + " "
    if any(
        f" {a} {b} {c} " in text
        for a in ("to", "on", "at")
        for b in ("its", "their")
        for c in ("left", "right")
    ):
        return False  # "To its left stands a bookshelf"
    # "beside it", "above the cat": placed against something said before
    for m in range(first, last):
        place = r.relation_at(m)
        end = (
            place[1]
            if place
            else next(
                (
                    m + len(p.split())
                    for p in L.OTHER_PLACES
                    if r.low[m : m + len(p.split())] == p.split()
                ),
                None,
            )
        )
        if end is None:
            continue
        after = r.low[end : end + 1]
        if after[:1] in (["it"], ["them"]) or any(
            (hit := r.class_at(x)) and r.said_before(hit[0], first)
            for x in range(end, min(end + 6, last))
        ):
            return False
    return True
