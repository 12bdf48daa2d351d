"""What a noun is for in a prompt: an object to draw, or the setting, a part, a material, a possessor.

With an open vocabulary every noun could be an object, so a description ("A wooden bench sits on
a flat surface. The bench is crafted from dark oak, supported by four sturdy legs.") has to be read
for its main objects. The rules combine spaCy's attachments (what a noun hangs on: "sits *on* a
rug", "a bench *with* a backrest", "*its* handle") with the word lists of `studio.language.lexicon`, and
with how descriptions are written: the main objects come first, with an article or a number;
what a later sentence adds in passing ("Pigeons wander nearby", "a few crumbs", anything "in
the background") is the scene around them. `Reader` (studio.language.reader.reader) mixes these methods in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lexicon as L
from ..scene import DEFINITE, LEXICON
from .asides import LaterMentions

if TYPE_CHECKING:
    from .reader import NP

_KNOWN = frozenset(v[0] for v in LEXICON.values())


class NounRoles(LaterMentions):
    """Role rules over a `Reader`'s words (`words`, `low`, `long`, `first_end`, `settled`, `class_at`, ...)."""

    def role(self, np: NP) -> str:
        """ "object", or why it is not one: "setting", "part", "material", "possessor"."""
        w = self.words[np.head]
        if self.long and w.dep == "pobj" and self.words[w.head].dep == "agent":
            return "setting"  # "forgotten by a hiker", "painted by local artists": who did it, not who is there
        if (
            self.long
            and w.dep == "pobj"
            and self.low[w.head] == "for"
            and not self.said_before(np.cls, np.head)
        ):
            return "setting"  # "a storybook for toddlers", "waiting for company": what it is for, not there
        if (
            np.end < len(self.low)
            and self.low[np.end] in ("'s", "'")
            and not np.definite
            and self.np_at(np.end + 1)
        ):
            return "possessor"  # "a child's red bicycle": the child describes the bicycle
        if self.refers_back(np):
            return "object"  # "the meter" after "a parking meter"
        if np.known:
            owners = L.PART_OF.get(np.cls, set())
            if owners & self.classes_said and w.dep in ("pobj", "conj", "dobj"):
                return "part"
            return self._described_role(np) if self.long else "object"
        if np.definite and np.cls in self.settled:
            return self.settled[
                np.cls
            ]  # "... on a white plate. The plate rests on ...": still the setting
        role = self._open_role(np)
        if role != "object":
            self.settled.setdefault(np.cls, role)
        return role

    def said_before(self, cls: str, k: int) -> bool:
        """Whether a mention of `cls` ends before word k (not the mention that ends at k itself)."""
        return any((hit := self.class_at(m)) and hit[0] == cls and hit[2] <= k for m in range(k))

    def refers_back(self, np: NP) -> bool:
        """ "the meter" after "a parking meter", "the board" after "a snowboard": a shorter name for one said before."""
        if not np.definite:
            return False
        return any(
            (hit := self.class_at(m))
            and hit[2] <= np.head
            and hit[0] != np.cls
            and hit[0] in _KNOWN
            and hit[0].split()[-1].endswith(np.cls)
            for m in range(np.head)
        )

    def _described_role(self, np: NP) -> str:
        """A known class in a description: an object, unless the description only mentions it in passing."""
        h = np.head
        if self._possessed(h, pronoun=True) and not np.explicit:
            return "part"  # "its digital clock", "its polished bowl" (not "a child's backpack")
        if self.said_before(np.cls, np.head):
            return "object"  # a reference back (the reading loop decides which group)
        if (self._in_background(np.head) and np.color is None) or self._frame_modifier(h):
            return "setting"  # (a known class said with its colour is meant, even far away)
        again = any(
            self.low[m] in DEFINITE and self.class_at(m + 1) and self.class_at(m + 1)[0] == np.cls
            for m in range(np.end, len(self.low) - 1)
        )
        if (
            np.cls in L.SURFACES
            and not again
            and np.color is None  # "rests on a purple bed": described, so meant
            and (self._on_surface(h) or self._place_of(h))
        ):
            return "setting"  # "sits on a wooden table", "perches on the back of a chair" (never described again)
        if not again and (self._from_or_range(h) or self._simile(h)):
            return "setting"  # "a pizza fresh from the oven", "from a tennis ball to a beach ball", "like a book"
        if self._vague_later(np):
            return "setting"  # "Coffee mugs and notebooks are scattered", "passengers gather"
        return "object"

    def _frame_modifier(self, h: int) -> bool:
        """Says what the picture is: "a product photo", "a children's book illustration"."""
        w = self.words[h]
        return (
            w.dep == "compound"
            and w.head > h
            and self.low[w.head] in L.META
            and self.is_noun(w.head)  # not "a bear waves"
        )

    def _on_surface(self, h: int) -> bool:
        w = self.words[h]
        return (
            w.dep == "pobj"
            and self.words[w.head].low in L.SURFACE_PREPS
            and (self.relation_at(w.head) or (0, w.head + 1))[1] == w.head + 1
        )  # "on" alone, not "on top of"

    def _imagined(self, h: int) -> bool:
        """What "Imagine ..." opens a description with ("Imagine a ski chalet after a long day")."""
        w = self.words[h]
        return (
            w.dep == "dobj"
            and self.low[w.head] in L.SCENE_VERBS
            and self.words[w.head].dep == "ROOT"
        )

    def _place_of(self, h: int, parts: frozenset = frozenset()) -> bool:
        """ "the back of a chair", "the top of a ramp": a place on the thing, said in a setting phrase."""
        w, words = self.words[h], self.words
        if (
            w.dep != "pobj"
            or words[w.head].low != "of"
            or words[words[w.head].head].low not in L.PLACE_PARTS | parts
        ):  # (an open noun's `parts` too: "against the trunk of an old oak tree")
            return False
        place = words[words[w.head].head]
        return place.dep == "pobj" and (
            words[place.head].low in L.SETTING_PREPS or words[place.head].low == "of"
        )

    def _from_or_range(self, h: int) -> bool:
        w = self.words[h]
        prep = self.low[w.head] if w.dep == "pobj" else ""
        if prep == "from" and self.low[w.head - 1] in ("apart", "aside"):
            return False  # "apart from the fridge" names it
        return prep == "from" or (prep == "to" and "from" in self.low[max(0, w.head - 8) : w.head])

    def _simile(self, h: int) -> bool:
        """ "like something out of a picture book": a comparison, not a thing in the picture."""
        return any(
            self.low[m] == "like"
            and self.words[m].pos in ("ADP", "SCONJ")
            and not self.words[m].sent_start
            for m in range(max(0, h - 6), h)
        )

    def _in_background(self, k: int) -> bool:
        """Said to be in the background or distance, in its own clause: "A few herbs lie in the background"."""
        low, verb = self.low, self._verb_of(k)
        return any(
            low[m : m + 3]
            in (["in", "the", "background"], ["in", "the", "distance"], ["out", "of", "focus"])
            and self._sentence(m) == self._sentence(k)
            and (verb is None or self._verb_of(m) in (verb, None))
            for m in range(len(low))
        )  # (not "A white glass sits on a rail, while a giraffe strolls in the background": the glass is not)

    def _verb_of(self, k: int) -> int | None:
        """The verb of the clause word k is in (through its heads), or None."""
        seen = set()
        while self.words[k].pos not in ("VERB", "AUX") and k not in seen:
            seen.add(k)
            if self.words[k].head == k:
                return None
            k = self.words[k].head
        return k

    def _sentence_words(self, k: int):
        first = max((m for m in range(k + 1) if self.words[m].sent_start), default=0)
        last = next(
            (m for m in range(k + 1, len(self.words)) if self.words[m].sent_start), len(self.words)
        )
        return self.words[first:last]

    def _sentence(self, k: int) -> int:
        return sum(self.words[m].sent_start for m in range(k + 1))

    def _open_role(self, np: NP) -> str:
        words = self.words
        h = np.head
        while words[h].dep == "compound" and np.end <= words[h].head <= h + 2:
            h = words[
                h
            ].head  # the tagger took the verb after the noun for its head ("a jacket glides")
        w = words[h]
        names = {np.cls, words[np.head].low}
        if names & L.META or (self.long and names & L.CATEGORIES) or self._frame_modifier(h):
            return "setting"  # in a description, "Two vehicles ...: a bicycle and a motorcycle" names what follows
        if (
            self.long
            and (w.dep == "ROOT" or self._imagined(h))
            and self.first_end < len(words)
            and not any(words[c].head == h and words[c].dep == "conj" for c in range(len(words)))
            and not any(
                x.pos in ("VERB", "AUX") and x.low not in L.SCENE_VERBS
                for x in self._sentence_words(h)
            )
        ):
            return "setting"  # an opening with no verb sets the scene: "A quirky garage workshop with concrete floors."
            # (not a list of objects, "a red lamp, a blue kettle, ...", nor a one-sentence caption)
        if self.long and (self._place_of(h, L.PARTS) or self._simile(h)):
            return "setting"
        if names & L.MATERIALS:
            return "material"
        if names & (L.PARTS | L.COVERINGS) or self._possessed(np.head):
            return "part"
        if w.dep == "conj" and (
            {words[w.head].low, words[w.head].lemma} & (L.PARTS | L.COVERINGS | L.MATERIALS)
            or (self._owner(w.head) is not None and not self.relation_at(np.end))
        ):
            return "part"  # "melted cheese and pepperoni", "with a striped quilt and two fluffy pillows"
        if w.dep in ("nsubj", "nsubjpass") and words[w.head].low in L.ATTACHED:
            return "part"  # "a wicker basket is attached to its handlebars"
        if (
            w.dep == "pobj"
            and words[w.head].low == "of"
            and words[words[w.head].head].low in L.COLLECTIVES
        ):
            h = words[w.head].head  # "against a stack of pillows": where the stack is
            w = words[h]
        if self._owner(h) is not None and not (
            words[w.head].low == "with" and (np.explicit or self.relation_at(np.end))
        ):
            return "part"  # "a bench with a backrest"; but "with two pears below the lamp" names objects
        if (
            np.end + 1 < len(self.low)
            and self.low[np.end] == "of"
            and (set(self.low[np.end + 1 : np.end + 4]) & (L.META | L.MATERIALS))
        ):
            return "setting"  # "a circle of light", "a pool of water": a shape of some stuff
        if self.long:
            head = words[w.head]
            if w.dep == "pobj" and (
                head.low in L.SETTING_PREPS or words[head.head].pos in ("VERB", "AUX")
            ):
                return "setting"  # "sits on a worn rug", "tied to a dock": where the scene happens
            if self._in_background(np.head) or self._vague_later(np) or self._later_aside(np):
                return "setting"
            if np.definite and not any(
                self.class_at(k) and self.class_at(k)[0] == np.cls for k in range(np.head)
            ):
                return "part"  # "the boat's paint", "each pot": something of what was said, not a new object
            if (
                w.dep == "pobj"
                and head.low == "of"
                and not self._is_thing(head.head)
                and words[head.head].low
                not in L.COLLECTIVES | L.PARTS | {"pair", "couple", "dozen", "few", "lots"}
                and self.low[max(0, head.head - 1)] + " " + words[head.head].low != "a lot"
            ):
                return "setting"  # "the glow of the streetlights", "a sense of calm" (not "the branches of a tree")
            subject = self._clause_subject(h)
            if subject is not None and subject != np.head and not self._is_thing(subject):
                return "part"  # "The surface shows a fine grain": a detail of something not drawn
            if not (np.article or np.definite or np.explicit) and words[np.head].dep != "conj":
                return "setting"  # descriptions introduce objects with an article or a number ("conveys calm")
        return "object"

    def _possessed(self, k: int, pronoun: bool = False) -> bool:
        """ "its handle", "the banana's peel": something's part (`pronoun`: "its"/"their" only)."""
        return any(
            self.words[c].head == k
            and self.words[c].dep == "poss"
            and (not pronoun or self.low[c] in ("its", "their"))
            for c in range(max(0, k - 6), k)
        )

    def _owner(self, k: int) -> int | None:
        """The object a noun belongs to: "a bench with a backrest", "a cup of coffee", "the cat has whiskers"."""
        words = self.words
        w = words[k]
        head = words[w.head] if w.head != k else None
        if head is None:
            return None
        if w.dep == "pobj" and head.low in ("with", "of", "featuring") and head.head != w.head:
            if self._is_thing(head.head) and not (
                head.low == "of" and words[head.head].low in L.PARTS
            ):
                return head.head
        if w.dep == "dobj" and head.lemma in ("have", "feature", "boast", "sport", "wear"):
            subj = next(
                (
                    c
                    for c in range(len(words))
                    if words[c].head == w.head and words[c].dep == "nsubj"
                ),
                None,
            )
            if subj is not None and self._is_thing(subj):
                return subj
        return None

    def _clause_subject(self, k: int) -> int | None:
        """The subject of the clause a noun is an object in (through conj / pobj / dobj links)."""
        words, seen = self.words, set()
        while k not in seen:
            seen.add(k)
            w = words[k]
            if w.pos in ("VERB", "AUX"):
                return next(
                    (
                        c
                        for c in range(len(words))
                        if words[c].head == k and words[c].dep in ("nsubj", "nsubjpass")
                    ),
                    None,
                )
            if w.dep in ("nsubj", "nsubjpass", "ROOT") or w.head == k:
                return None
            k = w.head
        return None

    def _is_thing(self, k: int) -> bool:
        hit = self.class_at(k)
        if not hit:
            return False
        return hit[0] in _KNOWN or not (
            {hit[0], self.low[k]} & (L.META | L.PARTS | L.MATERIALS) or self._possessed(k)
        )
