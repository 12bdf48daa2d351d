"""Prompt -> scene graph: spaCy's reading of the sentence combined with rules over it.

spaCy (`studio.language.nlp`) says which words are nouns and what they attach to; the rules here do what
a general parser does not: GenEval's 80 classes and their synonyms, counts ("a pair of skis",
"a herd of three cows"), colours before or after the noun ("a cat colored purple", "a sink that
is blue", "a pizza in green"), the four relations in their common wordings (including "to its
left" and "a cat on the left and a dog on the right"), negation ("a dog but no cat") and
references back ("the bench"). Every noun is read: a known class, an object of the open vocabulary
("a lamp"), or something that is not drawn on its own — the setting, a part or the material of an
object, the frame of the picture (`studio.language.lexicon`). The rules decide where spaCy is unreliable
on short fragments ("a snowboard colored orange" makes "orange" its root); spaCy decides what the
lists cannot know (that "pears" is a plural noun, that "legs" hang on the bench).

This module holds one text's words and the word-level rules (`Reader`: where a class word, a count,
a noun phrase or a relation phrase is); the rest of the package are functions of a `Reader`: what
a noun is for (`roles`, `asides`), the phrases around a noun (`phrases`), the reading loop
(`parse`), what it does at the end (`finish`) and refine instructions (`instruction`).
"""

from __future__ import annotations

import re
from collections import namedtuple

from .. import lexicon as L
from ..nlp import annotate
from ..scene import (
    ADJECTIVES,
    COLOR_WORDS,
    DEFINITE,
    FILLERS,
    FRAMING,
    LEXICON,
    MAX_CLASS_WORDS,
    NUMBERS,
    PAIR_CLASSES,
    RELATION_PHRASES,
    RELATION_STARTS,
    is_known,
)

# A noun phrase: `explicit` a number word was said; `bare` the class word alone; `loose` unknown modifier
# indices (kept as free text); `head` the index of the noun's last word; `known` one of GenEval's classes.
NP = namedtuple("NP", "end cls count color definite explicit article extra bare loose head known")
# A side of the picture, as a relation: "on the left" (of something else), "at the top".
SIDES = {
    "left": "left of",
    "right": "right of",
    "top": "above",
    "upper": "above",
    "bottom": "below",
    "lower": "below",
}
EXACTLY = {"exactly", "only", "just", "precisely", "single"}
# a prompt with more words (or more than one sentence) is a description, not a caption
LONG_WORDS = 16


_HYPHENATED = re.compile(r"\b([A-Za-z]+)-([A-Za-z]+)\b")


def _hyphen(m: re.Match) -> str:
    """ "close-up" is one word; "blue-colored" and "fire-hydrant" are two."""
    a, b = m.group(1).lower(), m.group(2).lower()
    if a in NUMBERS and not any(b in k for k in LEXICON):
        # "a two-slice toaster", "a four-door car": one modifier, not a count
        return m.group(1) + m.group(2)
    if {a, b} & (set(COLOR_WORDS) | set(L.COLOR_SYNONYMS) | L.COLOR_VERBS | set(NUMBERS)) or any(
        w in k for k in LEXICON for w in (a, b)
    ):
        return f"{m.group(1)} {m.group(2)}"
    return m.group(1) + m.group(2)


def clean(text: str) -> str:
    return _HYPHENATED.sub(_hyphen, FRAMING.sub("", text.replace("’", "'"))).strip()


class Reader:
    """One text's words, spaCy's annotations of them, and the word-level rules over them.

    `merge`: indefinite repeats of a group are the same group (descriptions). `settled` is the
    memory of `roles.role`: open nouns already read as not-objects, by class, so that "The plate"
    after "a white plate" keeps its role.

    Example::

        r = Reader("two red apples below a blue cup")
        r.np_at(0).cls, r.np_at(0).count, r.np_at(0).color  # ('apple', 2, 'red')
        r.relation_at(3)  # ('below', 4)
    """

    def __init__(self, text: str, merge: bool = False):
        self.words = annotate(clean(text))
        self.low = [w.low for w in self.words]
        self.merge = merge
        sentences = sum(w.sent_start for w in self.words) + 1
        self.long = (
            sentences > 1
            or len(self.words) > LONG_WORDS
            or ":" in self.low[2:-2]
            or self._finite_sentence()
        )
        self.settled: dict[str, str] = {}
        self.classes_said = {hit[0] for i in range(len(self.low)) if (hit := self.known_at(i))}
        self.first_end = next(
            (k for k, w in enumerate(self.words) if w.sent_start), len(self.words)
        )

    def _finite_sentence(self) -> bool:
        """A sentence with a finite verb of its own describes a scene ("A fire hydrant sprays water
        into the street"); a caption lists what to draw ("a cat on a rug", "two cats sleeping")."""
        return len(self.words) >= 8 and any(
            w.dep == "ROOT"
            and (
                # not "a cow painted purple"
                (w.tag in ("VBZ", "VBP", "VBD") and w.low not in L.COLOR_VERBS)
                or self._finite_aux(k)  # "has been stuck"
            )
            and any(c.head == k and c.dep in ("nsubj", "nsubjpass") for c in self.words)
            for k, w in enumerate(self.words)
        )

    def _finite_aux(self, k: int) -> bool:
        return any(
            c.head == k and c.dep in ("aux", "auxpass") and c.tag in ("VBZ", "VBP", "VBD", "MD")
            for c in self.words
        )

    # -- words -------------------------------------------------------------------------------

    def known_at(self, i: int):
        for n in range(min(MAX_CLASS_WORDS, len(self.low) - i), 0, -1):
            hit = LEXICON.get(tuple(self.low[i : i + n]))
            if hit:
                return hit[0], hit[1], i + n
        return None

    def is_noun(self, i: int) -> bool:
        w = self.words[i]
        if w.pos not in ("NOUN", "PROPN") or not w.low.isalpha() or len(w.low) < 2:
            return False
        if w.low in L.OTHER_COLORS:
            return False  # "a pale gray": a colour GenEval does not name, not a thing
        if w.pos == "PROPN" and w.text[0].isupper() and i > 0 and not self.words[i].sent_start:
            return False  # a name ("Paris"), not a thing to draw
        if (
            (w.low.endswith("ing") or w.low.endswith("ed"))
            and i > 0
            and self.words[i - 1].pos in ("NOUN", "PROPN")
            and self.words[i - 1].low not in DEFINITE
            and not (w.dep in ("nsubj", "nsubjpass") and w.head > i)
        ):
            return False  # "a refrigerator resting on ...": a participle the tagger took for a noun
        if self._verb_like(i):
            return False
        return not (
            w.low in COLOR_WORDS
            or w.low in L.COLOR_SYNONYMS
            or w.low in NUMBERS
            or w.low in FILLERS
            or w.low in SIDES
            or w.low in DEFINITE
            or w.low in L.PRONOUNS
            or w.low in L.IMPERATIVES
        )

    def _verb_like(self, i: int) -> bool:
        """A verb the small model tagged as a noun: "sits and stares at it", "its wings and fuselage catch the rays"."""
        words, w = self.words, self.words[i]
        if i < 2 or w.low.endswith("ing"):
            return False
        before, nxt = words[i - 1], (words[i + 1] if i + 1 < len(words) else None)
        if self.singular_subject(i):
            return True  # "a train glides by", "a purple bear waves at it": "a" with a plural is a verb
        if (
            w.tag == "NNS"
            and before.tag == "NNS"
            and before.pos == "NOUN"
            and not self.known_at(i)
            and nxt is not None
            and nxt.pos in ("ADP", "ADV", "DET")
        ):
            return (
                True  # "a skateboard with red wheels leans against a bench": two plurals in a row
            )
        if (
            before.low in ("and", "or")
            and words[i - 2].pos in ("VERB", "AUX")
            and words[i - 2].tag != "VBN"
        ):
            return True  # "sits and stares"
        if any(
            (hit := self.known_at(m)) and hit[2] == i and self._lost_verb(m, i)
            for m in (i - 1, i - 2)
        ):
            return True  # "a cow and a horse graze together"
        return (
            before.pos in ("NOUN", "PROPN")
            and before.low not in DEFINITE
            and nxt is not None
            and nxt.low in ("the", "a", "an", "its", "their")
            and w.tag in ("NN", "VBP", "VBZ")
            and w.dep != "compound"
            and not any(
                words[k].low in DEFINITE | {"a", "an", "its", "their"}
                for k in range(max(0, i - 1), i)
            )
        )

    def singular_subject(self, i: int) -> bool:
        """Word i, tagged a plural noun, ends a phrase opened by "a"/"an": it is the phrase's verb."""
        w = self.words[i]
        nxt = self.words[i + 1] if i + 1 < len(self.words) else None
        # (or the object the tagger made of it: "A man riding a black horse gallops across a field")
        verb_place = w.dep in ("ROOT", "conj") or (
            w.dep in ("dobj", "pobj") and nxt is not None and nxt.pos == "ADP"
        )
        if w.tag != "NNS" or w.lemma == w.low or not verb_place or self.known_at(i):
            return False
        k = i - 1
        while k > 0 and self.words[k].head > k and self.words[k].dep in ("compound", "amod"):
            k -= 1  # back over "purple bear", "red steam train"
        if k >= i - 1 or self.words[i - 1].pos != "NOUN":
            return False
        # "The toaster pops,", "The parking meter towers over": a known class
        if self.low[k] == "the":
            hit, nxt = self.known_at(k + 1), self.words[i + 1] if i + 1 < len(self.words) else None
            return bool(hit and hit[2] == i and nxt and nxt.pos in ("ADP", "ADV", "PUNCT", "CCONJ"))
        return self.low[k] in ("a", "an")

    def _lost_verb(self, start: int, k: int) -> bool:
        """Word k is the verb of coordinated subjects ("X and a Y graze together") in a clause with no verb tagged."""
        words = self.words
        if words[k].tag not in ("NN", "VB", "VBP") or not self.low[k].isalpha():
            return False
        after = words[k + 1] if k + 1 < len(words) else None
        if after is not None and not (
            after.pos in ("ADP", "ADV", "PART", "PUNCT", "CCONJ") or after.sent_start
        ):
            return False
        first = max((m for m in range(start + 1) if words[m].sent_start), default=0)
        last = next((m for m in range(k + 1, len(words)) if words[m].sent_start), len(words))
        # no finite verb in the sentence ("pairing", "attached" are none)
        return "and" in self.low[first:start] and not any(
            w.tag in ("VBZ", "VBP", "VBD", "MD") for w in words[first:last]
        )

    def class_at(self, i: int):
        """(class, number, end) of a class word at i: GenEval's classes first, then any other noun."""
        hit = self.known_at(i)
        if hit or i >= len(self.words) or not self.is_noun(i):
            return hit
        w = self.words[i]
        lemma = w.lemma if w.lemma.isalpha() else w.low
        return lemma, ("pl" if w.tag in ("NNS", "NNPS") and lemma != w.low else "sg"), i + 1

    def _modifier(self, k: int, nouns_follow: bool) -> bool:
        """A word that may stand between an article and its noun without being the noun."""
        w = self.words[k]
        if (
            w.low in RELATION_STARTS
            or w.low in FILLERS
            or w.low in DEFINITE
            or w.low in L.NEGATIONS
            or w.low in ("a", "an", "another", "of", "pair", "pairs", "couple", "few")
            or not w.low.isalpha()
        ):
            return False
        if self.class_at(k):  # a noun as modifier: "a dog bed", "a coffee table", "a pizza oven"
            if not nouns_follow or k + 1 >= len(self.words) or not self.class_at(k + 1):
                return False
            if self.known_at(k) and self.known_at(k + 1) and self.low[k + 1] not in COLOR_WORDS:
                return True  # two class words in a row are one compound, whatever the tagger says
            if (
                self.long
                and self.known_at(k + 1)
                and self.low[k + 1] not in COLOR_WORDS
                and not self.known_at(k)
            ):
                return True  # "a vintage oven", "a toy truck": in a description, a known class heads its phrase
            return w.dep in ("compound", "nmod", "amod") and self.words[k].head > k
        return w.pos in ("ADJ", "VERB", "ADV", "NOUN", "PROPN", "X") or w.tag in (
            "JJ",
            "VBN",
            "VBG",
        )

    def _bare_compound(self, k: int) -> bool:
        """In a description, a bare noun modifying the next one: "product photo", "book illustration"."""
        w = self.words[k]
        return self.long and w.dep == "compound" and w.head == k + 1 and self.class_at(k + 1)

    def count_at(self, i: int):
        """A leading count: (count, next index, is_article) or None."""
        low = self.low
        w = low[i] if i < len(low) else ""
        if w in EXACTLY and i + 1 < len(low) and (low[i + 1] in NUMBERS or low[i + 1].isdigit()):
            return self.count_at(i + 1)
        if w.isdigit() or w in NUMBERS:
            return (int(w) if w.isdigit() else NUMBERS[w]), i + 1, False
        if w in ("a", "an") and low[i + 1 : i + 2] in (["few"], ["dozen"]):
            return (3 if low[i + 1] == "few" else 12), i + 2, False
        if (
            w in ("a", "an")
            and i + 2 < len(low)
            and low[i + 1] in L.COLLECTIVES
            and low[i + 2] == "of"
        ):
            inner = self.count_at(i + 3)
            return (inner[0], inner[1], False) if inner and not inner[2] else (3, i + 3, False)
        if w in ("a", "an", "another", "one"):
            if w == "one":
                return 1, i + 1, False
            if low[i + 1 : i + 2] == ["single"]:
                return 1, i + 2, False
            return 1, i + 1, True
        return (3, i + 1, False) if w in ("several", "few", "many", "multiple") else None

    def np_at(self, i: int) -> NP | None:  # noqa: C901  (every part of a noun phrase is optional)
        """[det] [count] [pair(s) of] [adjectives, colour, modifiers] class."""
        low = self.low
        j, definite, count, explicit, article, pairs = i, False, None, False, False, False
        if j < len(low) and (low[j] in DEFINITE or low[j] in ("each", "every")):
            definite, j = True, j + 1
        if j < len(low) and low[j] in ("both", "all") and definite is False:
            j += 1
            # "Both backpacks are blue": the two said before (not "both a cat and a dog")
            definite = j < len(low) and low[j] not in ("a", "an", "the") and not self.count_at(j)
        counted = self.count_at(j) if j < len(low) else None
        if counted:
            count, j, article = counted
            explicit = not article
        if low[j : j + 2] in (["pair", "of"], ["pairs", "of"], ["couple", "of"], ["couples", "of"]):
            pairs, explicit, j = low[j].startswith("pair"), True, j + 2
            count = 2 * (count or 1)
        if explicit and low[j : j + 1] and low[j] in L.COUNT_UNITS and low[j + 1 : j + 2] == ["of"]:
            j += 2  # "four heads of broccoli" are four broccoli
        best, color, loose, k, color_at = None, None, [], j, -1
        collective = j >= 2 and low[j - 1] == "of" and low[j - 2] in L.COLLECTIVES
        # modifiers, then the head noun; the longest phrase wins ("an orange orange")
        while k < len(low):
            hit = self.class_at(k)
            if (
                hit
                and best is not None
                and hit[1] == "pl"
                and not is_known(hit[0])
                and (
                    article
                    or is_known(best[0][0])
                    or best[0][1] == "pl"
                    or self.words[k].dep == "ROOT"
                )
                # (but in "a row of plane trees" a row of one singular "plane" is not what is meant)
                and not (collective and self.words[k - 1].tag == "NN")
            ):
                break  # "a pigeon pecks", "four ducks rest": a plural word after the noun is its verb
            if (
                hit
                and best is not None
                and is_known(best[0][0])
                and not is_known(hit[0])
                and self._lost_verb(i, k)
            ):
                break  # "a cat and a dog sleep on a rug": the tagger found no verb and made "dog sleep" one noun
            if (
                hit
                and best is not None
                and explicit
                and (count or 0) > 1
                and hit[1] == "sg"
                and is_known(best[0][0])
                and not is_known(hit[0])
                and self.words[k].tag in ("NN", "VB", "VBP")
                and (k + 1 >= len(low) or self.words[k + 1].pos in ("ADP", "ADV", "PUNCT", "CCONJ"))
            ):
                break  # "Three sheep graze on a hillside": a singular word after a counted class is its verb
            if hit and (best is None or hit[2] > best[0][2]):
                best = (hit, k, color, list(loose))
            w = low[k]
            if w in COLOR_WORDS or (
                w in L.COLOR_SYNONYMS
                and k + 1 < len(low)
                and (self.class_at(k + 1) or low[k + 1] in L.COLOR_VERBS)  # "chestnut-colored"
            ):
                if color is None:
                    color_at = k
                color = color or COLOR_WORDS.get(w) or L.COLOR_SYNONYMS[w]
            elif w in ADJECTIVES or w in L.SHADE_WORDS or w in L.COLOR_VERBS:
                pass
            elif (j > i or k > j or self._bare_compound(k)) and self._modifier(k, True):
                loose.append(k)
            else:
                break
            k += 1
        if best is None:
            return None
        (cls, num, end), head, color, loose = best
        if (
            cls in L.YOUNG
            and head > j
            and self.known_at(head - 1)
            and low[head - 1] not in COLOR_WORDS
        ):
            cls = self.known_at(head - 1)[0]  # "a bear cub" is a (young) bear
        if cls in COLOR_WORDS and color is None and head > 0 and low[head - 1] in L.SHADE_WORDS:
            return None  # "a deep orange" is a colour
        if 0 <= color_at < head and " ".join(low[color_at : color_at + 2]) in L.COLOR_NAMED_KINDS:
            color = None  # "a golden retriever (puppy)" names a breed, not the dog's colour
        if count is None:
            count = 2 if num == "pl" else 1
        elif pairs and cls in PAIR_CLASSES:
            count //= 2
        extra = any(w in ("extra", "more", "additional") for w in low[j:head])
        return NP(
            end,
            cls,
            count,
            color,
            definite,
            explicit,
            article,
            extra,
            head == i,
            [x for x in loose if x < head],
            end - 1,
            is_known(cls),
        )

    def relation_at(self, i: int):
        for words, rel in RELATION_PHRASES:
            if tuple(self.low[i : i + len(words)]) == words:
                return rel, i + len(words)
        return None

    def said_before(self, cls: str, k: int) -> bool:
        """Whether a mention of `cls` ends before word k (not the mention that ends at k itself)."""
        return any((hit := self.class_at(m)) and hit[0] == cls and hit[2] <= k for m in range(k))

    def possessed(self, k: int, pronoun: bool = False) -> bool:
        """ "its handle", "the banana's peel": something's part (`pronoun`: "its"/"their" only)."""
        return any(
            self.words[c].head == k
            and self.words[c].dep == "poss"
            and (not pronoun or self.low[c] in ("its", "their"))
            for c in range(max(0, k - 6), k)
        )

    def is_thing(self, k: int) -> bool:
        """Word k names a thing that could be drawn: a class, not the frame, a part or a material."""
        hit = self.class_at(k)
        if not hit:
            return False
        return is_known(hit[0]) or not (
            {hit[0], self.low[k]} & (L.META | L.PARTS | L.MATERIALS) or self.possessed(k)
        )

    def verb_of(self, k: int) -> int | None:
        """The verb of the clause word k is in (through its heads), or None."""
        seen = set()
        while self.words[k].pos not in ("VERB", "AUX") and k not in seen:
            seen.add(k)
            if self.words[k].head == k:
                return None
            k = self.words[k].head
        return k
