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


# Verbs whose object the subject holds, wears or rides: "a man holding an umbrella", "a boy rides a bike".
HOLD = frozenset("hold carry grip clutch grasp wield cradle".split())
WEAR = frozenset("wear don sport".split())
RIDE = frozenset("ride".split())
# What is worn: "a man in a black suit" is the suit worn by the man.
CLOTHES = frozenset(
    """coat jacket suit dress shirt hat cap scarf sweater hoodie helmet glasses sunglasses boots
    shoes gloves tie backpack uniform gown robe apron vest skirt jeans raincoat beanie""".split()
)
# What holds things inside it rather than in a hand.
CONTAINERS = frozenset(
    "vase bowl cup box basket bag jar bottle pot bucket crate tray glass wine glass".split()
)
_HE = frozenset("he she they him her".split())


def held_and_worn(r: Reader, groups, relations, head_group: dict[int, int]) -> None:
    """Relations said by a verb, read from spaCy's parse: the object of "hold" is held by its subject
    (or by the noun a participle hangs on: "a woman holding an umbrella"), of "wear" worn by it, and
    the subject of "ride" is on what it rides. "in" a garment is wearing it ("a man in a black suit")."""
    words = r.words
    for v, w in enumerate(words):
        rel = "held by" if w.lemma in HOLD else "worn by" if w.lemma in WEAR else None
        rel = rel or ("on" if w.lemma in RIDE else None)
        if rel is None or w.pos not in ("VERB", "AUX"):
            continue
        obj = next((c for c, x in enumerate(words) if x.head == v and x.dep == "dobj"), None)
        if w.dep in ("acl", "relcl") and words[w.head].pos in ("NOUN", "PROPN"):
            who = w.head
        else:
            who = next((c for c, x in enumerate(words) if x.head == v and x.dep == "nsubj"), None)
            if who is not None and r.low[who] in _HE:
                who = max(
                    (h for h in head_group if h < who and _person(groups[head_group[h]])),
                    default=None,
                )
        thing, holder = head_group.get(obj), head_group.get(who)
        if thing is None or holder is None or thing == holder:
            continue
        if rel == "held by" and groups[holder].cls in CONTAINERS:
            rel = "in"  # "a vase holding three tulips": the tulips are in it
        x = Relation(holder, rel, thing) if rel == "on" else Relation(thing, rel, holder)
        if x not in relations:
            relations.append(x)
    for k, x in enumerate(relations):
        if x.relation == "in" and groups[x.anchor].cls in CLOTHES:
            relations[k] = Relation(x.anchor, "worn by", x.subject)


def _person(g: ObjectGroup) -> bool:
    return g.cls == "person"


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
