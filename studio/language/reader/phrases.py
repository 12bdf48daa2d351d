"""Phrases the reader finds after a noun or around it: a colour said after the noun, a side, "to its left".

`Reader` (`reader`) reads noun phrases; these functions read what follows one ("a cat colored purple",
"a sink that is blue", "The deck is a bold pink", "made of warm brown wood") and the places that
are not a relation between two phrases ("on the left", "to its right", "above it"). They take the
`Reader` of the text and an index into its words.
"""

from __future__ import annotations

from .. import lexicon as L
from ..scene import COLOR_WORDS
from .reader import SIDES, Reader


def _is_color(word: str, strong: bool) -> str | None:
    if word in COLOR_WORDS:
        return COLOR_WORDS[word]
    if word in L.COLOR_SYNONYMS and (strong or word not in L.WEAK_COLORS):
        return L.COLOR_SYNONYMS[word]
    return None


def _adjective(r: Reader, k: int) -> bool:
    """An adjective, or a participle used as one ("saturated")."""
    return r.words[k].pos == "ADJ" or (
        r.words[k].tag in ("VBN", "VBG") and r.words[k].dep == "amod"
    )


def post_color(r: Reader, j: int, part: bool = False):  # noqa: C901  (one reading of many wordings)
    """A colour said after its noun, from index j: (colour, end) or None.

    "colored purple", "painted in a deep red", "that is blue", "in green", ", purple,", "which is
    orange in colour", "with a purple hue", "with purple fur". It must end the phrase: in "a cat
    with purple eyes" or "a cup in a green box" the colour belongs to the next noun. `part`: the
    noun is the body of an object, whose colour may follow with no verb ("its skin a dusty brown").
    """
    low, k, said = r.low, j, set()
    n = len(low)
    if k < n and low[k] == ",":
        k, said = k + 1, said | {"comma"}
    if k < n and low[k] in ("that", "which", "who"):
        k += 1
    elif (
        k + 1 < n
        and low[k] == "whose"
        and low[k + 1] in L.COLOR_NOUNS | L.BODY | L.PARTS | L.MATERIALS
    ):
        # "a refrigerator whose color is yellow", "whose cheese has turned orange"
        k, said = k + 2, said | {"noun"}
    while k < n and (
        (low[k] in L.BE | {"been", "being"} and r.words[k].tag != "POS")
        or (
            low[k] in ("has", "have", "had")
            and k + 1 < n
            and low[k + 1] in L.COLOR_VERBS | {"been"}
        )
    ):
        k, said = k + 1, said | {"be"}  # "is", "has been", "has turned" (not "has brown freckles")
    while k < n and low[k] in L.DEGREE:
        k += 1
    if k + 1 < n and low[k] in L.MADE and low[k + 1] in ("of", "from", "out"):
        m = k + 2 + (low[k + 1] == "out")  # "made of warm brown wood": a colour with the material
        while (
            m < n
            and (low[m] in L.SHADE_WORDS or r.words[m].pos == "ADJ")
            and not _is_color(low[m], True)
        ):
            m += 1
        if m + 1 < n and _is_color(low[m], True) and low[m + 1] in L.MATERIALS:
            return _is_color(low[m], True), m + 2
    if ("be" in said or part) and k < n and low[k] in ("a", "an"):
        k, said = k + 1, said | {"be"}  # "is a bold pink", "its skin a dusty brown"
    if k < n and low[k] in L.COLOR_VERBS:
        k, said = k + 1, said | {"verb"}
        if k < n and low[k] in ("a", "an"):
            k += 1  # "painted a vivid red"
    if k < n and low[k] in ("has", "have", "features", "wears", "sports"):
        k, said = k + 1, said | {"with"}
        if k < n and low[k] in ("a", "an", "the"):
            k += 1
    if k < n and low[k] in ("in", "with", "of"):
        said.add(low[k])
        k += 1
        if k < n and low[k] in ("a", "an", "the"):
            k += 1
    while k < n and (
        low[k] in L.SHADE_WORDS
        or (
            said & {"with", "be", "verb"}
            and (
                _adjective(r, k)
                or (
                    low[k] in (",", "and")  # "is sleek and white", "is thick and white"
                    and k + 1 < n
                    and (low[k + 1] in L.SHADE_WORDS or _adjective(r, k + 1))
                )
            )
            and not _is_color(low[k], True)
            and low[k] not in L.COLOR_NOUNS
        )
    ):
        k += 1  # "with a smooth blue glaze", "a cheerful orange", "a clean, bright white"
    if said & {"be", "verb"}:  # "a deep forest green", "a retro mint green", "a bright lime green"
        ahead = next((m for m in range(k, min(k + 3, n)) if low[m] in COLOR_WORDS), None)
        if ahead is not None and all(
            low[m].isalpha() and not r.known_at(m) and r.words[m].pos in ("NOUN", "PROPN", "ADJ")
            for m in range(k, ahead)
        ):
            k = ahead
    if k + 1 < n and low[k] in L.COLOR_NOUNS:
        skip = 1 + (low[k + 1] == "of")  # "in the colour (of) purple"
        while k + skip < n and low[k + skip] in L.SHADE_WORDS:
            skip += 1  # "a coat of bright orange"
        if k + skip < n and _is_color(low[k + skip], True):
            k, said = k + skip, said | {"noun"}
    if k >= n or not said:
        return None
    color = _is_color(low[k], bool(said & {"verb", "noun", "in"}))
    if color is None:
        return None
    k += 1
    tail = False
    while k < n and (
        low[k] in L.COLOR_NOUNS or (low[k] == "in" and k + 1 < n and low[k + 1] in L.COLOR_NOUNS)
    ):
        if "in" in said and low[k] in L.CLOTHES:
            return None  # "a woman in a yellow coat": a coat she wears, not her colour
        k, tail = k + 1 + (low[k] == "in"), True
    if ("with" in said and "noun" not in said or said == {"of"}) and not tail:
        return None  # "with purple" alone is not a colour of the noun before; "of purple color" is
    predicate = ("be" in said and not said & {"in", "with", "of", "comma"}) or (
        "verb" in said and "with" not in said
    )
    if (
        k < n
        and r.class_at(k)
        and low[k] not in L.COLOR_NOUNS
        and not (predicate and not r.known_at(k))
    ):
        return None  # "with purple eyes": the eyes are purple (but "The sink is a pink porcelain basin")
    # "next to the table is a purple velvet chair": a phrase, not the table's colour
    if "be" in said and any(r.known_at(m) for m in range(k, _noun_run(r, k))):
        return None
    if said == {"comma"} and not (
        k >= n or low[k] in (",", ".", "and", ";") or r.words[k].pos == "ADP"
    ):
        return None
    return color, k


def _noun_run(r: Reader, k: int) -> int:
    """The end of the nouns and adjectives from k on ("velvet chair")."""
    while k < len(r.low) and r.words[k].pos in ("NOUN", "PROPN", "ADJ") and r.low[k].isalpha():
        k += 1
    return k


def side_at(r: Reader, i: int):
    """An absolute side, "on the left (side)", "at the top": (relation word, end) unless an "of" follows."""
    low, n = r.low, len(r.low)
    if i >= n or low[i] not in ("on", "at", "to", "in", "towards", "toward"):
        return None
    k = i + 1
    if k < n and low[k] in ("the", "its", "their"):
        if low[k] != "the":
            return None
        k += 1
    if k < n and low[k] in ("far", "upper", "lower") and k + 1 < n and low[k + 1] in SIDES:
        k += 1
    if k >= n or low[k] not in SIDES:
        return None
    side, k = low[k], k + 1
    while k < n and low[k] in ("side", "hand", "half", "part", "edge", "corner"):
        k += 1
    if k < n and low[k] == "of":
        return None
    return SIDES[side], k


def _pronoun(r: Reader, k: int) -> bool:
    """A pronoun for something said before: "it", "them", "him", "her" (not "her hat")."""
    return r.low[k] in ("it", "them", "him") or (r.low[k] == "her" and r.words[k].tag == "PRP")


def its_side_at(r: Reader, i: int):
    """ "to its left", "on their right side", "above it", "on top of it": (relation, end, pronoun-last)."""
    low, n = r.low, len(r.low)
    if (
        i < n
        and low[i] in ("to", "on", "at")
        and i + 2 < n
        and low[i + 1] in ("its", "their", "his", "her")
        and low[i + 2] in SIDES
    ):
        k = i + 3
        while k < n and low[k] in ("side", "hand", "half"):
            k += 1
        return SIDES[low[i + 2]], k
    rel = r.relation_at(i)
    if rel and rel[1] < n and _pronoun(r, rel[1]):
        return rel[0], rel[1] + 1
    return None
