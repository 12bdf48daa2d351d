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
        subj, verb = predicate_subject(r, c)
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
        if k is None or subj is None:
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


def predicate_subject(r: Reader, c: int) -> tuple[int | None, int]:
    """The subject a predicate word (a colour after "is", "painted") says something of, and its verb:
    through coordinated adjectives ("is sleek and white"), then the verb's own subject, then a
    coordinated verb's ("is blue and has ..."); never the first clause's subject for a second
    clause that has its own ("The first two are black and the last one is red")."""
    words = r.words
    while words[c].dep == "conj" and words[c].pos == "ADJ" and words[words[c].head].pos == "ADJ":
        c = words[c].head
    verb, seen = words[c].head, set()
    while verb not in seen:
        seen.add(verb)
        subj = next(
            (
                s
                for s in range(len(words))
                if words[s].head == verb and words[s].dep in ("nsubj", "nsubjpass")
            ),
            None,
        )
        if subj is not None or words[verb].dep != "conj" or words[verb].head == verb:
            return subj, verb
        verb = words[verb].head
    return None, verb


# Verbs whose object the subject holds, wears or rides: "a man holding an umbrella", "a boy rides a bike".
HOLD = frozenset("hold carry grip clutch grasp wield cradle".split())
WEAR = L.WEAR_VERBS
# (the small model lemmatises "riding" and "rides" as "rid")
RIDE = frozenset("ride rides riding rode ridden".split())
CLOTHES = L.CLOTHES
CONTAINERS = L.CONTAINERS
_HE = frozenset("he she they him her".split())


def held_and_worn(r: Reader, groups, relations, head_group: dict[int, int]) -> None:
    """Relations said by a verb, read from spaCy's parse: the object of "hold" is held by its subject
    (or by the noun a participle hangs on: "a woman holding an umbrella"), of "wear" worn by it, and
    the subject of "ride" is on what it rides. "in" a garment is wearing it ("a man in a black suit")."""
    words = r.words
    for v, w in enumerate(words):
        rel = "held by" if w.lemma in HOLD else "worn by" if w.lemma in WEAR else None
        rel = rel or ("on" if w.lemma in RIDE or w.low in RIDE else None)
        if rel is None or w.pos not in ("VERB", "AUX"):
            continue
        objs = [c for c, x in enumerate(words) if x.head == v and x.dep == "dobj"]
        # "wears a hat and a blue shirt", "holds a balloon in one hand and a teddy bear in the other"
        objs += [c for c in conjuncts(r, objs[0])] if objs else []
        objs += [  # (the tagger's "holds a balloon ... and a teddy bear": the bear coordinated with the verb)
            c
            for c, x in enumerate(words)
            if x.head == v and x.dep == "conj" and x.pos in ("NOUN", "PROPN") and c in head_group
        ]
        who = _doer(r, v, groups, head_group)
        holder = head_group.get(who) if who is not None else None
        for obj in objs:
            if obj not in head_group and obj > 0 and words[obj - 1].dep == "compound":
                obj -= 1  # the tagger's "a yellow raincoat splashes": the noun is the compound
            thing = head_group.get(obj)
            if thing is None or holder is None or thing == holder:
                continue
            how = rel
            if how == "held by" and _is_container(groups[holder].cls):
                how = "in"  # "a vase holding three tulips": the tulips are in it
            x = Relation(holder, how, thing) if how == "on" else Relation(thing, how, holder)
            if x not in relations:
                relations.append(x)
    for c, x in enumerate(words):
        # "a vase of red roses", "a bowl of oranges": what a container is "of" is in it
        if c in head_group and x.dep == "pobj" and x.low != "lot" and words[x.head].low == "of":
            holder = head_group.get(words[x.head].head)
            thing = head_group[c]
            if (
                holder is not None
                and holder != thing
                and _is_container(groups[holder].cls)
                and not any(y.subject == thing for y in relations if y.anchor == holder)
            ):
                relations.append(Relation(thing, "in", holder))
    for k, x in enumerate(relations):
        if x.relation == "in" and groups[x.anchor].cls in CLOTHES:
            relations[k] = Relation(x.anchor, "worn by", x.subject)


def _person(g: ObjectGroup) -> bool:
    return g.cls == "person"


def _is_container(cls: str) -> bool:
    return cls in CONTAINERS or cls.split()[-1] in CONTAINERS


def conjuncts(r: Reader, k: int) -> list[int]:
    """The words coordinated with word k ("a hat and a blue shirt": shirt for hat), in order."""
    out, todo = [], [k]
    while todo:
        m = todo.pop()
        for c, x in enumerate(r.words):
            if x.head == m and x.dep == "conj" and c != m and c not in out:
                out.append(c)
                todo.append(c)
    return sorted(out)


def _doer(r: Reader, v: int, groups, head_group: dict[int, int]) -> int | None:
    """Who holds, wears or rides: the noun a participle hangs on ("a woman holding an umbrella"),
    the verb's subject ("She is wearing a dress", a pronoun for the person said before), or, for a
    participle after the main verb ("A vase stands on the mantel, holding five tulips"), the main
    verb's subject."""
    words, w = r.words, r.words[v]
    if w.dep in ("acl", "relcl") and words[w.head].pos in ("NOUN", "PROPN"):
        return w.head
    seen = set()
    while v not in seen:
        seen.add(v)
        who = next((c for c, x in enumerate(words) if x.head == v and x.dep == "nsubj"), None)
        if who is not None:
            if r.low[who] in _HE:
                return max(
                    (h for h in head_group if h < who and _person(groups[head_group[h]])),
                    default=None,
                )
            return who
        if words[v].dep not in ("advcl", "xcomp", "conj") or words[v].head == v:
            return None
        v = words[v].head
    return None


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
