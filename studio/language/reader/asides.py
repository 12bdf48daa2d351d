"""What a description mentions after its first sentence, and how: in passing or placed among the objects.

Descriptions name their main objects first. A later sentence may add to the composition ("To its
left stands a bookshelf", "The bowl holds a few red apples") or only paint the scene around it
("Pigeons wander nearby", "a few crumbs", "A large mirror reflects the room"). `NounRoles`
(studio.language.reader.roles) asks these questions through this mixin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lexicon as L
from ..scene import NUMBERS

if TYPE_CHECKING:
    from .reader import NP

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


class LaterMentions:
    """Rules over a `Reader`'s words for nouns said after the first sentence."""

    def _vague_later(self, np: NP) -> bool:
        """A new thing after the first sentence, said with no article or number ("a few crumbs", "pigeons")."""
        if (
            np.head < self.first_end
            or np.definite
            or self._measured(np.head)
            or self._held_by_a_thing(np.head)
        ):
            return False
        if any(self.low[k] in ("'s", "'") for k in range(max(0, np.head - 3), np.head)):
            return False  # "a child's backpack": as definite as its owner
        return self._vaguely_counted(np) or not (
            np.article or np.explicit
        )  # "pigeons wander", "ferns and moss"

    def _held_by_a_thing(self, k: int) -> bool:
        """The object of a verb whose subject is a thing: "The bowl holds a few red apples"."""
        w = self.words[k]
        if w.dep != "dobj" or self.words[w.head].pos not in ("VERB", "AUX"):
            return False
        verb, subj = w.head, None
        for _ in range(3):  # "The bowl is white and holds ...": a conjoined verb shares its subject
            subj = next(
                (
                    c
                    for c in range(len(self.words))
                    if self.words[c].head == verb and self.words[c].dep == "nsubj"
                ),
                None,
            )
            if subj is not None or self.words[verb].dep != "conj":
                break
            verb = self.words[verb].head
        return subj is not None and self._is_thing(subj)

    def _vaguely_counted(self, np: NP) -> bool:
        """ "a few", "some", "several": a number that is not one."""
        before = []
        for k in range(np.head - 1, max(-1, np.head - 5), -1):
            if not self.low[k].isalpha() or self.words[k].pos in ("VERB", "AUX", "ADP"):
                break
            before.append(self.low[k])
            if self.words[k].sent_start:
                break
        return bool(set(before) & VAGUE)

    def _measured(self, k: int) -> bool:
        """ "a head of broccoli", "a slice of pizza": said with the article of the word it is measured by."""
        of = next((m for m in range(k - 1, max(-1, k - 3), -1) if self.low[m] == "of"), None)
        if of is None or any(not self.low[m].isalpha() for m in range(of, k)):
            return False  # the small model's parse of "a head of broccoli waits" is unreliable: read the words
        before = self.low[max(0, of - 4) : of]
        return (
            any(w in ("a", "an", "one") or w.isdigit() or w in NUMBERS for w in before)
            or "'s" in self.low[of + 1 : k]
        )

    def _later_aside(self, np: NP) -> bool:
        """An open-vocabulary noun a later sentence brings in and places nowhere: "A large mirror reflects the room".

        Descriptions name their main objects first; a new thing in a later sentence is part of the
        composition when it is placed against them ("To its left stands a bookshelf", "beside it"),
        otherwise it is the scene around them.
        """
        if (
            np.head < self.first_end
            or np.definite
            or (np.explicit and not self._vaguely_counted(np))
            or self._held_by_a_thing(np.head)
        ):
            return False
        first = max((m for m in range(np.head + 1) if self.words[m].sent_start), default=0)
        last = next(
            (m for m in range(np.head + 1, len(self.words)) if self.words[m].sent_start),
            len(self.words),
        )
        sentence = self.low[first:last]
        text = " " + " ".join(sentence) + " "
        if any(
            f" {a} {b} {c} " in text
            for a in ("to", "on", "at")
            for b in ("its", "their")
            for c in ("left", "right")
        ):
            return False  # "To its left stands a bookshelf"
        for m in range(
            first, last
        ):  # "beside it", "above the cat": placed against something said before
            place = self.relation_at(m)
            end = (
                place[1]
                if place
                else next(
                    (
                        m + len(p.split())
                        for p in L.OTHER_PLACES
                        if self.low[m : m + len(p.split())] == p.split()
                    ),
                    None,
                )
            )
            if end is None:
                continue
            after = self.low[end : end + 1]
            if after[:1] in (["it"], ["them"]) or any(
                (hit := self.class_at(x)) and self.said_before(hit[0], first)
                for x in range(end, min(end + 6, last))
            ):
                return False
        return True
