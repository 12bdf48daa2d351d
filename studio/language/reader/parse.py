"""The reading loop: noun phrases left to right, each one a new group, a reference back, or not an object.

`Reader` (`reader`) holds the word-level rules (what a noun phrase is), `phrases` what stands
around one (a colour after a noun, a side), `roles` what a noun is for; this module walks a
prompt once with them and builds the SceneGraph: groups, relations (a relation
phrase between two phrases, fronted ones, "to its left", absolute sides paired up at the end),
negated objects, notes on what could not be placed, and the words it did not understand.
"""

from __future__ import annotations

from .. import lexicon as L
from ..scene import FILLERS, OPPOSITE, SENTENCE_END, ObjectGroup, Relation, SceneGraph
from .details import fill, is_ground, part_of, phrase
from .finish import (
    HOLD,
    RIDE,
    conjuncts,
    free_text,
    group_name,
    held_and_worn,
    pair_sides,
    predicative_colors,
)
from .phrases import its_side_at, post_color, side_at
from .reader import NP, Reader
from .roles import role, worn_word
from .shares import distribute

_OTHER = sorted((tuple(p.split()) for p in L.OTHER_PLACES), key=len, reverse=True)


def _other_place_at(low: list[str], i: int):
    for words in _OTHER:
        if tuple(low[i : i + len(words)]) == words:
            return " ".join(words), i + len(words)
    return None


def _find(groups: list[ObjectGroup], np: NP) -> int | None:
    """The existing group a mention refers to: same class, same colour when one is said."""
    same = [
        k
        for k, g in enumerate(groups)
        if g.cls == np.cls and (np.color is None or g.color == np.color)
    ]
    # "A cake ... The cake has a red finish": the colour is news, not another cake
    if not same and np.definite:
        same = [k for k, g in enumerate(groups) if g.cls == np.cls and g.color is None]
    # "a teddy bear ... the bear", "a wine glass ... the glass", "an armchair ... the chair"
    if not same and np.definite:
        same = [k for k, g in enumerate(groups) if g.cls.split()[-1].endswith(np.cls.split()[-1])]
    exact = [k for k in same if not np.explicit or groups[k].count == np.count]
    return (exact or same or [None])[0]


def read(text: str, merge: bool = False) -> SceneGraph:  # noqa: C901  (one pass, one branch per phrase kind)
    """One text -> SceneGraph. `merge`: indefinite repeats of a group are the same group (descriptions)."""
    r = Reader(text, merge)
    low, n = r.low, len(r.low)
    kind = ["unknown"] * n  # "struct" | "filler" | "unknown"
    groups: list[ObjectGroup] = []
    relations: list[Relation] = []
    negated: list[ObjectGroup] = []
    notes: list[str] = []
    sides: dict[int, tuple[str, int]] = {}  # group -> (absolute side relation, order said)
    head_group: dict[int, int] = {}  # word index of a noun -> its group
    history: list[int] = []  # groups in the order they were mentioned
    last = pending = other = fronted_side = carried = None
    ground: list[str] = []  # surfaces and places said, in order
    parts: dict[int, list[str]] = {}  # group -> what is said of its parts
    materials: dict[int, str] = {}  # group -> what it is made of
    between = (
        None  # (subject or None when fronted, relation, the anchors' word indices, fronted anchors)
    )
    negate_until = -1
    clause_start = 0  # objects mentioned in this sentence so far

    def mention(np: NP, each: bool = False, one: bool = False) -> int:
        k = _find(groups, np) if (np.definite or merge) else None
        # "Three donuts ... one donut has a bite": one of them, not a fourth
        if k is None and one and r.long:
            k = next((m for m, g in enumerate(groups) if g.cls == np.cls and g.count > 1), None)
            if k is not None:
                return k
        if k is None:
            groups.append(ObjectGroup(np.cls, np.count, np.color))
            return len(groups) - 1
        g = groups[k]
        if merge and np.explicit and g.count != np.count:
            g = ObjectGroup(g.cls, np.count, g.color)  # a number word restates the count
        if (
            np.color
            and not g.color
            and (np.count == g.count or np.explicit or each)
            and not (one and g.count > np.count)  # "One dog is black": one of them (`shares`)
        ):
            # "The bench ... The brown bench" (not "the horse on the left")
            g = ObjectGroup(g.cls, g.count, np.color)
        groups[k] = g
        return k

    def relate(subject, rel, anchor):
        x = Relation(subject, rel, anchor)
        if (
            subject is not None
            and anchor is not None
            and subject != anchor
            and x not in relations
            and Relation(anchor, OPPOSITE.get(rel, ""), subject) not in relations  # said both ways
        ):
            relations.append(x)

    def owner_of_pronoun(subject):
        return next((g for g in reversed(history) if g != subject), None)

    i = 0
    while i < n:
        w = low[i]
        if i and r.words[i].sent_start or (i and low[i - 1] in SENTENCE_END):
            last = pending = other = fronted_side = between = None
            clause_start = 0
        if (
            w in ("it", "they")
            and r.long
            and history
            and r.words[i].dep in ("nsubj", "nsubjpass")
            and i + 1 < n
            and low[i + 1] in L.BE | L.COLOR_VERBS | {"has", "have", "had"}
        ):
            # "A vase stands on a mantel. It is glazed a deep crimson."
            color = post_color(r, i + 1)
            if color and groups[history[-1]].color is None:
                g = groups[history[-1]]
                groups[history[-1]] = ObjectGroup(g.cls, g.count, color[0])
        if w in L.NEGATIONS:
            negate_until = i + 4
            kind[i] = "filler"
            i += 1
            continue
        place = _other_place_at(low, i)
        if place and last is not None:
            other = (last, place[0])
        its = its_side_at(r, i)
        if its:
            at = its[1]
            while (
                at < n
                and at < its[1] + 3
                and (
                    low[at] == ","
                    or r.words[at].pos in ("VERB", "AUX")
                    or low[at] in ("there", "is", "are")
                )
            ):
                at += 1  # "To its left sits a cup", "and, on its right, a tie"
            after = r.np_at(at)
            if after is None or role(r, after) != "object":
                # "Far below it, at the bottom of the cliff, an elephant wades"
                after = _fronted_subject(r, i, its[1])
            owner = last if last is not None else (history[-1] if history else None)
            if after is not None and role(r, after) == "object" and owner is not None:
                k = mention(after)  # "and to its left a dog": the dog is left of the one before
                relate(k, its[0], owner)
                kind[i : after.end] = ["struct"] * (after.end - i)
                head_group[after.head] = k
                history.append(k)
                last, i = k, after.end
                continue
            if last is not None and not _has_on_itself(r, i):
                who = _subject_group(r, i, head_group)
                if who is not None and who != last:  # "A bicycle ... a meter, balancing above it"
                    relate(who, its[0], last)
                else:
                    relate(last, its[0], owner_of_pronoun(last))
                kind[i : its[1]] = ["struct"] * (its[1] - i)
                i = its[1]
                continue
        side = side_at(r, i)
        if side:
            if last is not None and not _side_of_next(r, i, side[1]):
                sides.setdefault(last, (side[0], len(sides)))
            else:
                fronted_side = side[0]  # "on the left, a horse": the side of the next object
            kind[i : side[1]] = ["struct"] * (side[1] - i)
            i = side[1]
            continue
        rel = r.relation_at(i)
        np = r.np_at(rel[1]) if rel else None
        on_part = rel and r.long and rel[1] == i + 1 and w in ("on", "upon")  # "on its handlebars"
        if rel and np is None and rel[1] + 1 < n and low[rel[1]] in ("its", "their") and history:
            # "Balanced on top of its screen is a book": above what owns the screen
            part = r.np_at(rel[1] + 1)
            if part is not None and role(r, part) != "object":
                if on_part:
                    # plain "on" a part is where it sits ("stands on its end"), unless the verb
                    # says it sits on something else ("A bird is perched on its back")
                    if r.words[r.words[i].head].lemma in L.ON_ANOTHER:
                        if last is None:
                            pending = ("on", history[-1])
                        else:
                            relate(last, "on", owner_of_pronoun(last))
                elif last is None:
                    pending = (rel[0], history[-1])
                else:
                    relate(last, rel[0], history[-1])
                kind[i : part.end] = ["struct"] * (part.end - i)
                i = part.end
                continue
        if np is None:
            rel, np = None, r.np_at(i)
        if np is None:
            kind[i] = "filler" if w in FILLERS or w in SENTENCE_END or w in L.BE else "unknown"
            i += 1
            continue
        start = i
        end = np.end
        body = not np.known and (
            r.low[np.head] in L.BODY
            or (r.low[np.head] in L.MATERIALS and _possessive(r, np))
            or _defining_part(r, np, groups, head_group, last, history)
        )
        color = post_color(r, end, part=body)
        if body and color is None:  # "Its fuel tank and fenders are painted green"
            after = end
            while (
                after + 1 < n
                and low[after] in ("and", ",")
                and (nxt := r.np_at(after + 1))
                and not nxt.known
            ):
                after = nxt.end
            color = post_color(r, after, part=True) if after > end else None
        if color:
            np, end = np._replace(color=np.color or color[0]), color[1]
            if set(low[np.end : end]) & {"both", "all"}:  # "a knife and a fork, both colored green"
                for m in history[len(history) - clause_start :] if clause_start else []:
                    if groups[m].color is None:
                        groups[m] = ObjectGroup(groups[m].cls, groups[m].count, color[0])
        np_role = "object" if np.known and start <= negate_until else role(r, np)  # "no cars"
        if np_role != "object":
            owner = _owner_group(r, np, head_group, last, history)
            at = rel[1] if rel else start
            if np_role == "part" and (whose := _part_of_next(r, np, groups)) is not None:
                owner = whose  # "The bowl of the spoon"
            if np_role == "part" and owner is not None and (said := part_of(r, np, at)):
                parts.setdefault(owner, []).append(
                    said
                )  # "Its keyboard glows", "with long white tusks"
            elif np_role == "material" and owner is not None and not np.known:
                materials.setdefault(owner, r.low[np.head])  # "crafted from dark oak"
            elif np_role == "setting" and is_ground(r, np) and (said := phrase(r, np, at)):
                ground.append(said)  # "rests on a wooden table", "in a dusty clearing"
            if (
                np_role in ("part", "setting", "material")
                and np.color
                and body
                and owner is not None
                and groups[owner].color is None
            ):
                # "with purple fur"
                groups[owner] = ObjectGroup(groups[owner].cls, groups[owner].count, np.color)
            # "on top of its screen": the relation is to what owns the screen
            if (
                rel
                and np_role == "part"
                and owner is not None
                and _possessive(r, np)
                and not on_part
            ):
                if last is None:
                    pending = (rel[0], owner)
                else:
                    relate(last, rel[0], owner)
            if np_role == "possessor" and rel:
                carried = rel  # "sits on a child's bed": the relation is to the bed
            # "sits on a flat surface": the setting, not an anchor
            i = end + (np_role == "possessor")
            continue
        if rel is None and carried is not None:
            rel = carried
        carried = None
        if start <= negate_until:
            negated.append(ObjectGroup(np.cls, 1, np.color))
            kind[start:end] = ["struct"] * (end - start)
            i = end
            continue
        k = mention(np, each=low[start] in ("each", "every"), one=low[start] in ("one", "another"))
        head_group[np.head] = k
        if fronted_side is not None:
            sides.setdefault(k, (fronted_side, len(sides)))
            fronted_side = None
        if other is not None and other[0] != k:
            notes.append(
                f"{group_name(groups[other[0]])} {other[1]} {group_name(groups[k])}: "
                f"not one of the relations the studio draws, so placed freely"
            )
            other = None
        if between is not None and np.head in between[2]:
            # "between a blue pillow and a red book": the second anchor of the same relation
            if between[0] is None:
                between[3].append(k)
            else:
                relate(between[0], between[1], k)
        elif rel and last is None:
            pending = (rel[0], k)  # fronted: "below the cup are two apples"
            if low[start] == "between":
                between = (None, rel[0], conjuncts(r, np.head), [k])
        elif rel:
            who = _verb_subject(r, start, head_group, last)
            for subject in _with_conjuncts(r, who, start, head_group):
                relate(subject, rel[0], k)  # "Three oranges and a banana are in a basket"
            if low[start] == "between":
                between = (who, rel[0], conjuncts(r, np.head), [])
        elif pending:
            for anchor in (
                between[3] if between is not None and between[0] is None else [pending[1]]
            ):
                relate(k, pending[0], anchor)  # "Between a vase and a clock stands a bottle"
            pending = between = None
        kind[start:end] = ["struct"] * (end - start)
        for x in np.loose:
            kind[x] = "unknown"
        history.append(k)
        clause_start += 1
        last, i = k, end
    predicative_colors(r, kind, groups, head_group)
    pair_sides(groups, relations, sides, history, notes)
    held_and_worn(r, groups, relations, head_group)
    fill(r, groups, head_group, parts, materials)
    distribute(r, groups, relations, head_group, notes)
    scene = SceneGraph(groups, relations, free_text([x.text for x in r.words], kind))
    scene.ground = list(dict.fromkeys(ground))
    scene.negated = [g for g in dict.fromkeys(negated) if not any(h.cls == g.cls for h in groups)]
    scene.notes = notes
    return scene


def parse_prompt(text: str) -> SceneGraph:
    """One prompt: every indefinite mention is a new group; "the X" refers back to an earlier one.

    Example::

        parse_prompt("two red apples below a blue cup").to_geneval()
        # {'include': [{'class': 'cup', 'count': 1, 'color': 'blue'},
        #              {'class': 'apple', 'count': 2, 'color': 'red', 'position': ['below', 0]}]}
    """
    return read(text, merge=False)


def parse_description(text: str) -> SceneGraph:
    """Multi-sentence descriptions repeat objects ("A cup. Two apples below the cup."): merge them."""
    return read(text, merge=True)


def _fronted_subject(r: Reader, i: int, start: int) -> NP | None:
    """The subject of the clause a fronted "below it" belongs to, wherever it stands in the sentence."""
    words, k, seen = r.words, i, set()
    while (
        words[k].pos not in ("VERB", "AUX")
        and not r.singular_subject(k)  # "a small dog barks"
        and words[k].head != k
        and k not in seen
    ):
        seen.add(k)
        k = words[k].head
    while words[k].dep in ("advcl", "xcomp", "acl", "csubj") and words[k].head != k:
        k = words[k].head  # "Hanging above it, ... is a stop sign"
    end = next((m for m in range(start, len(words)) if words[m].sent_start), len(words))
    for c in range(start, end):
        if (
            words[c].head == k
            and words[c].dep in ("nsubj", "nsubjpass", "attr", "dobj")  # "someone has left a cup"
            or (words[c].head == k and words[c].dep == "compound" and r.singular_subject(k))
        ):
            for s in range(start, c + 1):
                np = r.np_at(s)
                if np is not None and np.head == c and role(r, np) == "object":
                    return np
    return None


def _verb_subject(r: Reader, prep: int, head_group: dict[int, int], last):
    """Who a relation phrase places: the subject of the verb it hangs on ("a woman wearing a scarf stands
    beside a horse" places the woman), none when that subject is no object ("Steam curls above the
    cup"), otherwise the phrase before it ("a cup next to a plate")."""
    words = r.words
    while prep > 0 and words[prep].pos != "ADP" and r.relation_at(prep) is None:
        prep -= 1
    verb = words[prep].head
    # "next to" is tagged ADV + ADP: the adverb hangs on the verb ("holds a hose next to a truck")
    placed_by_verb = words[prep].pos == "ADP" or (
        words[prep].pos == "ADV" and words[prep].dep == "advmod"
    )
    if not placed_by_verb or words[verb].pos not in ("VERB", "AUX") or verb == prep:
        return _wearer(r, last, head_group)  # "higher than", "a cat on a mat"

    def subject_of(v):
        return next((c for c, w in enumerate(words) if w.head == v and w.dep == "nsubj"), None)

    subj = subject_of(verb)
    seen = {verb}
    while subj is None and words[verb].dep in ("advcl", "xcomp") and words[verb].head not in seen:
        verb = words[verb].head  # "holds an umbrella while standing next to a dog": the holder
        seen.add(verb)
        subj = subject_of(verb)
    if subj is None or r.low[subj] in L.PRONOUNS or r.words[subj].pos == "PRON":
        return _wearer(r, last, head_group)
    if subj in head_group:
        return head_group[subj]
    counted = next(  # "Three heads of broccoli sit in a crate", "A group of cats sits on a wall"
        (
            p
            for o in range(len(words))
            if words[o].head == subj and r.low[o] == "of"
            for p in range(len(words))
            if words[p].head == o and words[p].dep == "pobj" and p in head_group
        ),
        None,
    )
    if counted is not None:
        return head_group[counted]
    return (
        None
        if r.words[subj].pos in ("NOUN", "PROPN") and subj < prep
        else _wearer(r, last, head_group)
    )


def _part_of_next(r: Reader, np: NP, groups: list[ObjectGroup]) -> int | None:
    """ "The bowl of the spoon": the group the "of" after a part names."""
    if r.low[np.end : np.end + 1] != ["of"]:
        return None
    after = r.np_at(np.end + 1)
    return next((k for k, g in enumerate(groups) if after and g.cls == after.cls), None)


def _head_of(group, before: int, head_group: dict[int, int]) -> int | None:
    """The last word before `before` that names `group`."""
    return max((h for h, g in head_group.items() if g == group and h < before), default=None)


def _wearer(r: Reader, group, head_group: dict[int, int]):
    """What a relation places when the phrase before it is worn or held ("A young man wearing a black
    jacket leans against a motorcycle": the man, whom the tagger may leave without a verb)."""
    h = _head_of(group, len(r.words), head_group) if group is not None else None
    if h is None:
        return group
    w = r.words[r.words[h].head]
    if r.words[h].dep == "pobj" and w.low == "in" and worn_word(r, h) and w.head in head_group:
        return head_group[w.head]  # "A woman in a raincoat waits ... next to a traffic light"
    if r.words[h].dep != "dobj":
        return group
    wears = w.lemma in HOLD | L.WEAR_VERBS or w.low in RIDE
    if wears and w.dep in ("acl", "relcl") and w.head in head_group:
        return head_group[w.head]
    return group


def _with_conjuncts(r: Reader, group, before: int, head_group: dict[int, int]) -> list:
    """A relation's subject and the subjects coordinated with it ("Three oranges and a yellow banana")."""
    h = _head_of(group, before, head_group) if group is not None else None
    if h is None:
        return [group]
    return [group] + [
        head_group[c]
        for c in conjuncts(r, h)
        if c in head_group and c < before and head_group[c] != group
    ]


def _side_of_next(r: Reader, i: int, end: int) -> bool:
    """ "a sandwich, and further to the right, a backpack": a side between commas is the next object's."""
    k = i - 1
    while k > 0 and r.words[k].pos == "ADV":
        k -= 1  # "further", "just"
    return (
        r.low[k] in ("and", ",", ";") and r.low[end : end + 1] == [","] and bool(r.np_at(end + 1))
    )


def _subject_group(r: Reader, i: int, head_group: dict[int, int]) -> int | None:
    """The group that is the subject of the clause word i is in, through participles ("..., balancing")."""
    words, k = r.words, r.verb_of(i)
    if k is None or any(words[m].pos in ("NOUN", "PROPN") for m in _path(r, i, k)):
        return None  # "a mouse to its right": the phrase is the noun's

    def subject(v):
        return next(
            (c for c, w in enumerate(words) if w.head == v and w.dep in ("nsubj", "nsubjpass")),
            None,
        )

    while subject(k) is None and words[k].dep in ("advcl", "xcomp") and words[k].head != k:
        k = words[
            k
        ].head  # a participle's subject is its main verb's ("while a giraffe watches" has its own)
    subj = subject(k)
    return head_group.get(subj) if subj is not None else None


def _path(r: Reader, i: int, k: int) -> list[int]:
    """The words between i and its ancestor k."""
    out, m = [], r.words[i].head
    while m != k and m not in out and r.words[m].head != m:
        out.append(m)
        m = r.words[m].head
    return out


def _has_on_itself(r: Reader, i: int) -> bool:
    """ "The spoon has a bit of yogurt on it": with "have", the pronoun is the clause's own subject."""
    k, seen = i, set()
    while r.words[k].pos not in ("VERB", "AUX") and r.words[k].head != k and k not in seen:
        seen.add(k)
        k = r.words[k].head
    return r.words[k].lemma == "have"


def _defining_part(r: Reader, np: NP, groups, head_group, last, history) -> bool:
    """The part whose colour is the object's ("a laptop with a red lid", "The book's cover is blue")."""
    owner = _owner_group(r, np, head_group, last, history)
    words = L.DEFINING_PARTS.get(groups[owner].cls, ()) if owner is not None else ()
    return r.low[np.head] in words or r.words[np.head].lemma in words


def _possessive(r: Reader, np: NP) -> bool:
    return any(
        r.words[c].head == np.head and r.words[c].dep == "poss"
        for c in range(max(0, np.head - 6), np.head)
    )


def _owner_group(r: Reader, np: NP, head_group: dict[int, int], last, history) -> int | None:
    """Whose part a noun is: "the pizza's crust" the pizza's, "its peel" or "the deck" the object just mentioned."""
    words = r.words
    poss = next(
        (
            c
            for c in range(max(0, np.head - 6), np.head)
            if words[c].head == np.head and words[c].dep == "poss"
        ),
        None,
    )
    if poss is not None and poss in head_group:
        return head_group[poss]
    if poss is not None and r.low[poss] not in L.PRONOUNS:
        return None  # someone else's: "the man's coat"
    if last is None and (topic := _topic(r, np.head, head_group)) is not None:
        return topic  # "A keyboard rests in a box. Its keys ...": the keyboard's
    return last if last is not None else (history[-1] if history else None)


def _topic(r: Reader, k: int, head_group: dict[int, int]) -> int | None:
    """The group the sentence before word k is about (its main verb's subject), which a pronoun
    opening the next sentence refers to; None when that subject is no group."""
    words = r.words
    starts = [m for m in range(k + 1) if words[m].sent_start]
    if not starts:
        return None
    first = max([m for m in range(starts[-1]) if words[m].sent_start], default=0)
    root = next(
        (m for m in range(first, starts[-1]) if words[m].dep == "ROOT"),
        None,
    )
    subj = next(
        (
            m
            for m in range(first, starts[-1])
            if words[m].head == root and words[m].dep in ("nsubj", "nsubjpass")
        ),
        None,
    )
    return head_group.get(subj) if subj is not None else None
