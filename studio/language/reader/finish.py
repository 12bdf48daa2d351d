"""What the reading loop does once every phrase is read: colours said as predicates, absolute sides
paired into relations, and the words left over, which the plan's first card shows as not understood.
"""

from __future__ import annotations

import re

from .. import lexicon as L
from ..scene import COLOR_WORDS, OPPOSITE, ObjectGroup, Relation, SceneGraph
from .reader import Reader


def group_name(g: ObjectGroup) -> str:
    return (
        SceneGraph([g]).phrase(0).replace("a ", "the ", 1)
        if g.count == 1
        else SceneGraph([g]).phrase(0)
    )


def predicative_colors(
    r: Reader, kind: list[str], groups: list[ObjectGroup], head_group: dict[int, int]
) -> None:
    """Colours the rules left over, attached through spaCy's parse: "The bench, old and sturdy, is brown"."""
    words = r.words
    for c, w in enumerate(words):
        color = COLOR_WORDS.get(w.low) or L.COLOR_SYNONYMS.get(w.low)
        if (
            color is None
            or kind[c] == "struct"
            or w.dep not in ("acomp", "attr", "oprd", "conj", "xcomp")
        ):
            continue
        verb = w.head
        while words[verb].dep == "conj" and words[verb].head != verb:
            verb = words[verb].head
        subj = next(
            (
                s
                for s in range(len(words))
                if words[s].head == verb and words[s].dep in ("nsubj", "nsubjpass")
            ),
            None,
        )
        if (
            subj is not None
            and words[subj].low in ("that", "which", "who")
            and words[verb].dep == "relcl"
        ):
            subj = words[verb].head
        if (
            subj is not None
            and words[subj].low in L.COLOR_NOUNS
            and any(words[p].head == subj and words[p].low in ("its", "their") for p in range(subj))
        ):
            # "Its color is a deep green."
            subj = max((h for h in head_group if h < subj), default=None)
        elif subj is not None and words[subj].low in ("it", "they") and r.long:
            # "A mouse rests on a mat. It is green."
            subj = max((h for h in head_group if h < subj), default=None)
        k = head_group.get(subj) if subj is not None else None
        if k is None:
            continue
        each = any(
            words[d].head == subj and words[d].low in ("each", "every")
            for d in range(max(0, subj - 3), subj)
        )
        if groups[k].count > 1 and words[subj].tag == "NN" and not each:
            continue  # "the horse on the left is brown": one of two horses
        if groups[k].color is None:
            groups[k] = ObjectGroup(groups[k].cls, groups[k].count, color)
            kind[c] = "struct"


def pair_sides(groups, relations, sides, history, notes) -> None:
    """Absolute sides into relations: "a cat on the left and a dog on the right" is "cat left of dog"."""
    placed = {x.subject for x in relations}
    for g, (rel, _) in sorted(sides.items(), key=lambda kv: kv[1][1]):
        if g in placed:
            continue
        partner = next((h for h, (s, _) in sides.items() if h != g and s == OPPOSITE[rel]), None)
        if partner is None:
            before = [
                h
                for h in reversed(history[: history.index(g)])
                if h != g and sides.get(h, ("",))[0] != rel
            ]
            after = [
                h
                for h in history[history.index(g) + 1 :]
                if h != g and sides.get(h, ("",))[0] != rel
            ]
            partner = (before or after or [None])[0]
        if partner is None:
            notes.append(
                f"{group_name(groups[g])} is {rel.replace(' of', '')}, but of nothing else: placed freely"
            )
            continue
        if partner in placed and any(x.subject == partner and x.anchor == g for x in relations):
            continue
        relations.append(Relation(g, rel, partner))
        placed.add(g)


def free_text(toks: list[str], kind: list[str]) -> str:
    """Runs of words we did not understand; fillers ("and", ",") count only inside a run."""
    runs, run = [], []
    for tok, k in zip(toks + [""], kind + ["struct"]):
        if k != "struct":
            run.append((tok, k))
            continue
        known = [m for m, (_, kk) in enumerate(run) if kk == "unknown"]
        if known:
            text = " ".join(t for t, _ in run[known[0] : known[-1] + 1])
            runs.append(re.sub(r" ([.,;:!?])", r"\1", re.sub(r" ('s|n't)", r"\1", text)))
        run = []
    return ", ".join(runs)
