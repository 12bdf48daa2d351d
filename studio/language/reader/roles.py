"""What a noun is for in a prompt: an object to draw, or the setting, a part, a material, a possessor.

With an open vocabulary every noun could be an object, so a description ("A wooden bench sits on
a flat surface. The bench is crafted from dark oak, supported by four sturdy legs.") has to be read
for its main objects. The rules combine spaCy's attachments (what a noun hangs on: "sits *on* a
rug", "a bench *with* a backrest", "*its* handle") with the word lists of `studio.language.lexicon`, and
with how descriptions are written: the main objects come first, with an article or a number;
what a later sentence adds in passing ("Pigeons wander nearby", "a few crumbs", anything "in
the background") is the scene around them (`asides`).

`role(reader, np)` is the one question; the functions below it are its rules, each over the
reader's words. Example::

    r = Reader("A wooden bench sits on a flat surface. The bench is crafted from dark oak.")
    role(r, r.np_at(0))  # 'object'
    role(r, r.np_at(5))  # 'setting' ("a flat surface")
"""

from __future__ import annotations

from .. import lexicon as L
from ..scene import DEFINITE, is_known
from .asides import later_aside, vague_later
from .reader import NP, Reader


def role(r: Reader, np: NP) -> str:
    """ "object", or why it is not one: "setting", "part", "material", "possessor"."""
    w = r.words[np.head]
    if (
        r.long
        and w.dep == "pobj"
        and r.words[w.head].dep == "agent"
        and not (np.definite and r.said_before(np.cls, np.head))  # "held by the man" said before
    ):
        return "setting"  # "forgotten by a hiker", "painted by local artists": who did it, not who is there
    if r.long and w.dep == "pobj" and r.low[w.head] == "for" and not r.said_before(np.cls, np.head):
        return "setting"  # "a storybook for toddlers", "waiting for company": what it is for, not there
    if (
        np.end < len(r.low)
        and r.low[np.end] in ("'s", "'")
        and not np.definite
        and r.np_at(np.end + 1)
    ):
        return "possessor"  # "a child's red bicycle": the child describes the bicycle
    if refers_back(r, np):
        return "object"  # "the meter" after "a parking meter"
    if worn(r, np) or relation_anchor(r, np):
        return (
            "object"  # "a woman in a grey coat", "inside a wooden crate", "in front of a red barn"
        )
    if np.known and _part_before_of(r, np):
        return "part"  # "The bowl of the spoon catches the light" (the spoon said before)
    if np.known:
        owners = L.PART_OF.get(np.cls, set())
        if owners & r.classes_said and w.dep in ("pobj", "conj", "dobj"):
            return "part"
        return _described_role(r, np) if r.long else "object"
    if np.definite and np.cls in r.settled:
        # "... on a white plate. The plate rests on ...": still the setting
        return r.settled[np.cls]
    found = _open_role(r, np)
    if found != "object":
        r.settled.setdefault(np.cls, found)
    return found


DEPTH = ("behind", "in front of")


def worn_word(r: Reader, k: int) -> bool:
    """Word k names clothing ("coat", "raincoat")."""
    return r.low[k] in L.CLOTHES or r.words[k].lemma in L.CLOTHES


def worn(r: Reader, np: NP) -> bool:
    """The noun is clothing someone wears: "wearing a long coat", "a man in a blue suit", "He wears a
    hat and a shirt" (not an animal's coat: "its patterned coat")."""
    words, k = r.words, np.head
    if not worn_word(r, k) or r.possessed(k, pronoun=True):
        return False
    if words[k].dep == "compound" and np.end <= words[k].head <= k + 2:
        k = words[k].head  # the tagger's "a red dress dances": "dances" taken for the noun
    while words[k].dep == "conj" and words[k].head != k:
        k = words[k].head
    w = words[k]
    head = words[w.head]
    if w.dep == "dobj" and head.lemma in L.WEAR_VERBS:
        return True
    if w.dep == "pobj" and head.low == "in" and head.head != w.head:
        owner = words[head.head]
        hit = r.known_at(head.head)
        return bool(hit and hit[0] == "person") or owner.lemma in ("dress", "clothe", "dressed")
    return False


def relation_anchor(r: Reader, np: NP) -> bool:
    """An open noun a relation places something against, so drawn with it: what something is in
    ("inside a cardboard box", "in a woven basket": a container), in front of or behind ("behind a
    fence", "in front of a red barn": a thing or building, not the sky or a wall), or between."""
    words, h = r.words, np.head
    names = {np.cls, r.low[np.head]}
    if (
        np.known
        or r.possessed(h)
        or np.cls in r.settled  # "on a polished bar ... behind the bar": still the setting
        or names
        & L.BODY  # "a potted plant in a black pot", "a phone in a leather case": its own part
        or not (np.article or np.explicit or r.said_before(np.cls, np.head))  # "between the trees"
    ):
        return False
    while words[h].dep == "conj" and words[h].head != h:
        h = words[h].head  # "between a tall tree and a blue mailbox"
    if words[h].dep != "pobj":
        return False
    prep = words[h].head
    rel = next(
        (
            (s, hit[0])
            for s in range(max(0, prep - 3), prep + 1)
            if (hit := r.relation_at(s)) and hit[1] == prep + 1
        ),
        None,
    )
    if rel is None or _vague_subject(r, prep):
        return False
    if rel[1] == "in":
        return bool(names & L.CONTAINERS)
    if rel[1] in DEPTH or r.low[rel[0]] == "between":
        return bool(names & L.STRUCTURES) or not names & (L.META | L.PARTS | L.MATERIALS)
    return False


def _vague_subject(r: Reader, prep: int) -> bool:
    """What a relation places is said vaguely ("Fresh flowers sit in a jar", "Bottles line the shelves
    behind the bar"): the scene around the objects, and so is what it is placed against."""
    words, head = r.words, r.words[prep].head
    subj: int | None = head
    if words[head].pos in ("VERB", "AUX"):
        subj = next(
            (c for c, w in enumerate(words) if w.head == head and w.dep in ("nsubj", "nsubjpass")),
            None,
        )
    if subj is None or subj == prep or words[subj].pos == "PRON" or r.known_at(subj):
        return False
    said = {
        r.low[c]
        for c, w in enumerate(words)
        if w.head == subj and w.dep in ("det", "nummod", "poss")
    }
    return words[subj].tag == "NNS" and not said


def _part_before_of(r: Reader, np: NP) -> bool:
    """ "the bowl of the spoon", "the keyboard of the laptop": a definite class word that is a part of
    the other object, said before, that the "of" after it names."""
    if not np.definite or r.low[np.end : np.end + 1] != ["of"]:
        return False
    after = r.np_at(np.end + 1)
    return bool(
        after
        and after.definite
        and after.cls != np.cls
        and r.said_before(after.cls, np.head)
        and r.low[np.end + 1] in DEFINITE | {"its", "their"}
    )


def refers_back(r: Reader, np: NP) -> bool:
    """ "the meter" after "a parking meter", "the board" after "a snowboard": a shorter name for one said before."""
    if not np.definite:
        return False
    return any(
        (hit := r.class_at(m))
        and hit[2] <= np.head
        and hit[0] != np.cls
        and is_known(hit[0])
        and hit[0].split()[-1].endswith(np.cls)
        for m in range(np.head)
    )


def _described_role(r: Reader, np: NP) -> str:
    """A known class in a description: an object, unless the description only mentions it in passing."""
    h = np.head
    if r.possessed(h, pronoun=True) and not np.explicit:
        return "part"  # "its digital clock", "its polished bowl" (not "a child's backpack")
    if r.said_before(np.cls, np.head):
        return "object"  # a reference back (the reading loop decides which group)
    if (_in_background(r, np.head) and np.color is None) or _frame_modifier(r, h):
        return "setting"  # (a known class said with its colour is meant, even far away)
    again = any(
        r.low[m] in DEFINITE and r.class_at(m + 1) and r.class_at(m + 1)[0] == np.cls
        for m in range(np.end, len(r.low) - 1)
    )
    if (
        np.cls in L.SURFACES
        and not again
        and np.color is None  # "rests on a purple bed": described, so meant
        and (_on_surface(r, h) or _place_of(r, h))
    ):
        return "setting"  # "sits on a wooden table", "perches on the back of a chair" (never described again)
    if not again and (_from_or_range(r, h) or _simile(r, h)):
        return "setting"  # "a pizza fresh from the oven", "from a tennis ball to a beach ball", "like a book"
    if vague_later(r, np):
        return "setting"  # "Coffee mugs and notebooks are scattered", "passengers gather"
    return "object"


def _frame_modifier(r: Reader, h: int) -> bool:
    """Says what the picture is: "a product photo", "a children's book illustration"."""
    w = r.words[h]
    return (
        w.dep == "compound"
        and w.head > h
        and r.low[w.head] in L.META
        and r.is_noun(w.head)  # not "a bear waves"
    )


def _on_surface(r: Reader, h: int) -> bool:
    """Said to rest on it: "sits on a wooden table" ("on" alone, not "on top of")."""
    w = r.words[h]
    return (
        w.dep == "pobj"
        and r.words[w.head].low in L.SURFACE_PREPS
        and (r.relation_at(w.head) or (0, w.head + 1))[1] == w.head + 1
    )


def _imagined(r: Reader, h: int) -> bool:
    """What "Imagine ..." opens a description with ("Imagine a ski chalet after a long day")."""
    w = r.words[h]
    return w.dep == "dobj" and r.low[w.head] in L.SCENE_VERBS and r.words[w.head].dep == "ROOT"


def _place_of(r: Reader, h: int, parts: frozenset = frozenset()) -> bool:
    """ "the back of a chair", "the top of a ramp": a place on the thing, said in a setting phrase."""
    w, words = r.words[h], r.words
    if (
        w.dep != "pobj"
        or words[w.head].low != "of"
        # (an open noun's `parts` too: "against the trunk of an old oak tree")
        or words[words[w.head].head].low not in L.PLACE_PARTS | parts
    ):
        return False
    place = words[words[w.head].head]
    return place.dep == "pobj" and (
        words[place.head].low in L.SETTING_PREPS or words[place.head].low == "of"
    )


def _from_or_range(r: Reader, h: int) -> bool:
    w = r.words[h]
    prep = r.low[w.head] if w.dep == "pobj" else ""
    if prep == "from" and r.low[w.head - 1] in ("apart", "aside"):
        return False  # "apart from the fridge" names it
    return prep == "from" or (prep == "to" and "from" in r.low[max(0, w.head - 8) : w.head])


def _simile(r: Reader, h: int) -> bool:
    """ "like something out of a picture book": a comparison, not a thing in the picture."""
    return any(
        r.low[m] == "like" and r.words[m].pos in ("ADP", "SCONJ") and not r.words[m].sent_start
        for m in range(max(0, h - 6), h)
    )


def _in_background(r: Reader, k: int) -> bool:
    """Said to be in the background or distance, in its own clause: "A few herbs lie in the background"."""
    low, verb = r.low, r.verb_of(k)
    # the same clause: in "A white glass sits on a rail, while a giraffe strolls in the background"
    # the glass is not in the background
    return any(
        low[m : m + 3]
        in (["in", "the", "background"], ["in", "the", "distance"], ["out", "of", "focus"])
        and _sentence(r, m) == _sentence(r, k)
        and (verb is None or r.verb_of(m) in (verb, None))
        for m in range(len(low))
    )


def _sentence_words(r: Reader, k: int):
    first = max((m for m in range(k + 1) if r.words[m].sent_start), default=0)
    last = next((m for m in range(k + 1, len(r.words)) if r.words[m].sent_start), len(r.words))
    return r.words[first:last]


def _sentence(r: Reader, k: int) -> int:
    return sum(r.words[m].sent_start for m in range(k + 1))


def _open_role(r: Reader, np: NP) -> str:  # noqa: C901  (one rule per way a description mentions a noun)
    words = r.words
    h = np.head
    while words[h].dep == "compound" and np.end <= words[h].head <= h + 2:
        h = words[
            h
        ].head  # the tagger took the verb after the noun for its head ("a jacket glides")
    w = words[h]
    names = {np.cls, words[np.head].low}
    if names & L.META or (r.long and names & L.CATEGORIES) or _frame_modifier(r, h):
        return "setting"  # in a description, "Two vehicles ...: a bicycle and a motorcycle" names what follows
    if (
        r.long
        and (w.dep == "ROOT" or _imagined(r, h))
        and r.first_end < len(words)
        and not any(words[c].head == h and words[c].dep == "conj" for c in range(len(words)))
        and not any(
            x.pos in ("VERB", "AUX") and x.low not in L.SCENE_VERBS for x in _sentence_words(r, h)
        )
    ):
        return "setting"  # an opening with no verb sets the scene: "A quirky garage workshop with concrete floors."
        # (not a list of objects, "a red lamp, a blue kettle, ...", nor a one-sentence caption)
    if r.long and (_place_of(r, h, L.PARTS) or _simile(r, h)):
        return "setting"
    if names & L.MATERIALS:
        return "material"
    if names & (L.PARTS | L.COVERINGS) or r.possessed(np.head):
        return "part"
    if w.dep == "conj" and (
        {words[w.head].low, words[w.head].lemma} & (L.PARTS | L.COVERINGS | L.MATERIALS)
        or (_owner(r, w.head) is not None and not r.relation_at(np.end))
    ):
        # "melted cheese and pepperoni", "with a striped quilt and two fluffy pillows"
        return "part"
    if w.dep in ("nsubj", "nsubjpass") and words[w.head].low in L.ATTACHED:
        return "part"  # "a wicker basket is attached to its handlebars"
    if (
        w.dep == "pobj"
        and words[w.head].low == "of"
        and words[words[w.head].head].low in L.COLLECTIVES
    ):
        h = words[w.head].head  # "against a stack of pillows": where the stack is
        w = words[h]
    if contents(r, h) and (np.color or np.explicit):
        # "a vase of red roses", "a basket of three apples": described, so drawn in it (undescribed,
        # "a tray of cookies" is the container's filling, as an undescribed surface is the setting)
        return "object"
    if _owner(r, h) is not None and not (
        words[w.head].low == "with" and (np.explicit or r.relation_at(np.end))
    ):
        # "a bench with a backrest"; but "with two pears below the lamp" names objects
        return "part"
    if (
        np.end + 1 < len(r.low)
        and r.low[np.end] == "of"
        and (set(r.low[np.end + 1 : np.end + 4]) & (L.META | L.MATERIALS))
    ):
        return "setting"  # "a circle of light", "a pool of water": a shape of some stuff
    if r.long:
        head = words[w.head]
        if w.dep == "pobj" and (
            head.low in L.SETTING_PREPS or words[head.head].pos in ("VERB", "AUX")
        ):
            return "setting"  # "sits on a worn rug", "tied to a dock": where the scene happens
        if _in_background(r, np.head) or vague_later(r, np) or later_aside(r, np):
            return "setting"
        if np.definite and not any(
            r.class_at(k) and r.class_at(k)[0] == np.cls for k in range(np.head)
        ):
            return "part"  # "the boat's paint", "each pot": something of what was said, not a new object
        if (
            w.dep == "pobj"
            and head.low == "of"
            and not r.is_thing(head.head)
            and words[head.head].low
            not in L.COLLECTIVES | L.PARTS | {"pair", "couple", "dozen", "few", "lots"}
            and r.low[max(0, head.head - 1)] + " " + words[head.head].low != "a lot"
        ):
            return "setting"  # "the glow of the streetlights", "a sense of calm" (not "the branches of a tree")
        subject = _clause_subject(r, h)
        if (
            subject is not None
            and subject != np.head
            and not r.is_thing(subject)
            and r.low[subject] not in L.PERSONAL  # "He holds a helmet under his arm"
            and not _fronted_anchor(
                r, subject
            )  # "Beside it stands a lamp": the lamp is the subject
            # "The picture shows a snowman": what the picture shows, not a detail of it
            and not (
                r.low[subject] in L.FRAMES and w.dep == "dobj" and words[subject].head == w.head
            )
        ):
            return "part"  # "The surface shows a fine grain": a detail of something not drawn
        if not (np.article or np.definite or np.explicit) and words[np.head].dep != "conj":
            return "setting"  # descriptions introduce objects with an article or a number ("conveys calm")
    return "object"


def contents(r: Reader, k: int) -> bool:
    """Word k is what a container holds, things counted in the plural: "a vase of red roses", "a
    basket of apples" (not stuff: "a cup of coffee", "a glass of juice")."""
    w = r.words[k]
    if w.dep != "pobj" or r.low[w.head] != "of" or w.tag not in ("NNS", "NNPS"):
        return False
    holder = r.words[w.head].head
    return holder != w.head and (
        r.low[holder] in L.CONTAINERS or r.words[holder].lemma in L.CONTAINERS
    )


def _fronted_anchor(r: Reader, k: int) -> bool:
    """Word k is the pronoun of a fronted relation ("Beside it stands a green lamp"), which the tagger
    may take for the verb's subject; the noun after the verb is what the clause is about."""
    return r.words[k].pos == "PRON" and any(
        (hit := r.relation_at(m)) and hit[1] == k for m in range(max(0, k - 3), k)
    )


def _owner(r: Reader, k: int) -> int | None:
    """The object a noun belongs to: "a bench with a backrest", "a cup of coffee", "the cat has whiskers"."""
    words = r.words
    w = words[k]
    head = words[w.head] if w.head != k else None
    if head is None:
        return None
    if w.dep == "pobj" and head.low in ("with", "of", "featuring") and head.head != w.head:
        if r.is_thing(head.head) and not (head.low == "of" and words[head.head].low in L.PARTS):
            return head.head
    # (what something wears is an object worn by it: "The snowman wears a scarf")
    if w.dep == "dobj" and head.lemma in ("have", "feature", "boast", "sport"):
        subj = next(
            (c for c in range(len(words)) if words[c].head == w.head and words[c].dep == "nsubj"),
            None,
        )
        if subj is not None and r.is_thing(subj):
            return subj
    return None


def _clause_subject(r: Reader, k: int) -> int | None:
    """The subject of the clause a noun is an object in (through conj / pobj / dobj links)."""
    words, seen = r.words, set()
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
