"""Prompt -> scene graph parsing over GenEval's vocabulary (80 COCO classes, ten colours, four relations).

The planner needs object groups and their spatial relations to subsample a scene step by step, the
inspector needs GenEval's ``include`` form to check a draft, and the refiner needs edit instructions
it can both read and write. Everything here is rule-based and stdlib-only so it is fast and testable.
"""
from __future__ import annotations

import re
from collections import namedtuple
from dataclasses import asdict, dataclass, field

COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")
CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "computer mouse", "tv remote",
    "computer keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)
RELATIONS = ("left of", "right of", "above", "below")

# Other words people use for a class (singular forms; plurals are generated).
SYNONYMS = {
    "person": "man|woman|boy|girl|child|kid|guy|lady|human",
    "bicycle": "bike", "car": "automobile", "motorcycle": "motorbike|motor bike|scooter",
    "airplane": "plane|aeroplane|airliner|aircraft", "train": "locomotive", "truck": "lorry",
    "boat": "ship|sailboat", "traffic light": "stoplight|traffic signal", "fire hydrant": "hydrant",
    "cat": "kitten|kitty", "dog": "puppy", "horse": "pony", "sheep": "lamb",
    "backpack": "rucksack|knapsack", "handbag": "purse|hand bag", "tie": "necktie",
    "frisbee": "flying disc", "skis": "ski", "snowboard": "snow board",
    "sports ball": "ball|football|soccer ball|basketball|baseball|tennis ball|volleyball",
    "baseball bat": "bat", "baseball glove": "glove|mitt|baseball mitt", "skateboard": "skate board",
    "surfboard": "surf board", "tennis racket": "racket|racquet|tennis racquet", "wine glass": "wineglass",
    "cup": "mug", "hot dog": "hotdog", "donut": "doughnut", "couch": "sofa",
    "potted plant": "plant|houseplant|house plant|pot plant", "dining table": "table|dinner table|kitchen table",
    "tv": "television|tv set|television set|telly", "laptop": "laptop computer", "computer mouse": "mouse",
    "tv remote": "remote|remote control|television remote", "computer keyboard": "keyboard",
    "cell phone": "phone|cellphone|mobile phone|smartphone|smart phone|telephone", "microwave": "microwave oven",
    "refrigerator": "fridge", "teddy bear": "teddy|teddybear",
    "hair drier": "hair dryer|hairdryer|hairdrier|blow dryer|blow drier", "toothbrush": "tooth brush",
}
IRREGULAR = {"person": "people", "man": "men", "woman": "women", "child": "children", "mouse": "mice",
             "knife": "knives", "sheep": "sheep", "skis": "skis", "scissors": "scissors", "broccoli": "broccoli"}
PAIR_CLASSES = {"skis", "scissors"}  # "a pair of skis" is one object, not two
NUMBERS = {w: i for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"])}
COLOR_WORDS = {**{c: c for c in COLORS}, "violet": "purple", "scarlet": "red", "crimson": "red"}
ADJECTIVES = {"small", "big", "large", "little", "tiny", "huge", "giant", "cute", "shiny", "bright", "dark",
              "light", "pale", "single", "more", "extra", "additional", "other", "colored", "coloured"}
DEFINITE = {"the", "this", "that", "these", "those"}
FILLERS = {"and", "with", "is", "are", "there", "also", "plus", "while", "both", "placed", "positioned",
           "located", "sitting", "standing", "lying", "which", "that", ",", ";", ":"}
SENTENCE_END = {".", "!", "?", ";"}
FRAMING = re.compile(r"^\s*(?:(?:a|an|the)\s+)?(?:photo|photograph|picture|image|pic)\s+of\s+", re.IGNORECASE)


def _relation_phrases():
    """All spellings of the four relations, longest first so "on the left of" beats "on"."""
    out = {}
    for side in ("left", "right"):
        for pre in ("", "to ", "to the ", "on the ", "at the ", "on "):
            for noun in (side, side + " side", side + " hand side"):
                out[tuple(f"{pre}{noun} of".split())] = f"{side} of"
    for words in ("above", "over", "on top of", "on the top of", "atop", "on", "upon", "higher than"):
        out[tuple(words.split())] = "above"
    for words in ("below", "under", "beneath", "underneath", "lower than"):
        out[tuple(words.split())] = "below"
    return sorted(out.items(), key=lambda kv: -len(kv[0]))


RELATION_PHRASES = _relation_phrases()
# Words that begin a relation or another preposition never modify a noun ("a cat on a bench").
RELATION_STARTS = {w[0] for w, _ in RELATION_PHRASES} | {"in", "at", "near", "next", "behind", "by", "beside"}


def plural(noun: str) -> str:
    """English plural of a (possibly multiword) noun, inflecting only the head word."""
    *head, last = noun.split()
    if last in IRREGULAR:
        p = IRREGULAR[last]
    elif re.search(r"(s|x|z|ch|sh)$", last):
        p = last + "es"
    elif re.search(r"[^aeiou]y$", last):
        p = last[:-1] + "ies"
    elif last.endswith("fe"):
        p = last[:-2] + "ves"
    else:
        p = last + "s"
    return " ".join(head + [p])


def _lexicon():
    """Word tuple -> (class, grammatical number "sg" | "pl" | "both")."""
    lex = {}

    def put(words, cls, num):
        key = tuple(words.split())
        old = lex.get(key)
        lex[key] = (cls, num if old is None or old[1] == num else "both")

    for cls in CLASSES:
        for name in [cls] + SYNONYMS.get(cls, "").split("|"):
            if not name:
                continue
            put(name, cls, "sg")
            put(plural(name), cls, "pl")
            if not name.endswith("s"):  # GenEval itself writes "benchs", "knifes", "persons"
                put(name + "s", cls, "pl")
    return lex  # "sheep", "skis", "scissors", "broccoli" end up "both": plural == singular


LEXICON = _lexicon()
MAX_CLASS_WORDS = max(len(k) for k in LEXICON)


@dataclass(frozen=True)
class ObjectGroup:
    """Objects of one class and colour; GenEval checks counts per group, so "two apples" is one group."""
    cls: str
    count: int = 1
    color: str | None = None


@dataclass(frozen=True)
class Relation:
    """`subject` sits `relation` of `anchor` (indices into SceneGraph.groups), as GenEval's "position"."""
    subject: int
    relation: str
    anchor: int


# A parsed noun phrase; `explicit`: a number word was said (not just "a"/"the"); `bare`: the class word alone;
# `loose`: index of an unknown modifier word inside it, or -1.
_NP = namedtuple("_NP", "end cls count color definite explicit article extra bare loose")


def _num_word(n: int) -> str:
    return next((w for w, i in NUMBERS.items() if i == n and n > 0), str(n))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _noun(cls: str, count: int, color: str | None = None) -> str:
    base = cls if count == 1 else plural(cls)
    return f"{color} {base}" if color else base


def _phrase(g: ObjectGroup) -> str:
    """ "two red apples", "an orange", "a pair of skis" (skis and scissors are counted in pairs)."""
    if g.cls in PAIR_CLASSES:
        pairs = "a pair" if g.count == 1 else f"{_num_word(g.count)} pairs"
        return f"{pairs} of {_noun(g.cls, 1, g.color)}"
    noun = _noun(g.cls, g.count, g.color)
    return f"{_article(noun)} {noun}" if g.count == 1 else f"{_num_word(g.count)} {noun}"


def _ref(g: ObjectGroup) -> str:
    """Definite reference ("the blue cup", "the two red apples") that _find() resolves back to g."""
    return f"the {_noun(g.cls, 1, g.color)}" if g.count == 1 else f"the {_phrase(g)}"


@dataclass
class SceneGraph:
    """What the planner subsamples step by step and the inspector checks a draft against."""
    groups: list[ObjectGroup] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    free_text: str = ""

    def plan_order(self) -> list[int]:
        """Anchors before the groups placed relative to them, otherwise prompt order (GenEval's order)."""
        order, visiting = [], set()

        def visit(i):
            if i in order or i in visiting:
                return
            visiting.add(i)
            for r in self.relations:
                if r.subject == i:
                    visit(r.anchor)
            order.append(i)

        for i in range(len(self.groups)):
            visit(i)
        return order

    def to_geneval(self) -> dict:
        """GenEval's include list; a group keeps only its first relation since GenEval allows one."""
        order = self.plan_order()
        where = {g: k for k, g in enumerate(order)}
        include = []
        for i in order:
            g = self.groups[i]
            item = {"class": g.cls, "count": g.count} | ({"color": g.color} if g.color else {})
            rel = next((r for r in self.relations if r.subject == i), None)
            if rel is not None:
                item["position"] = [rel.relation, where[rel.anchor]]
            include.append(item)
        return {"include": include}

    def phrase(self, i: int) -> str:
        return _phrase(self.groups[i])

    def describe(self, indices: list[int] | None = None) -> str:
        """A sentence the parser reads back: unplaced groups first, then "with X rel the Y" clauses."""
        keep = set(range(len(self.groups)) if indices is None else indices)
        rels = [r for r in self.relations if r.subject in keep and r.anchor in keep and r.subject != r.anchor]
        order = [i for i in self.plan_order() if i in keep]
        placed = {r.subject for r in rels}
        intro = [i for i in order if i not in placed]
        mentioned = set(intro)
        clauses = []
        for i in order:
            for r in (r for r in rels if r.subject == i):
                subj = _ref(self.groups[i]) if i in mentioned else self.phrase(i)
                anchor = _ref(self.groups[r.anchor]) if r.anchor in mentioned else self.phrase(r.anchor)
                mentioned |= {i, r.anchor}
                clauses.append(f"{subj} {r.relation} {anchor}")
        text = _join([self.phrase(i) for i in intro])
        if clauses:
            text = f"{text}, with {_join(clauses)}" if text else _join(clauses)
        if indices is None and self.free_text:
            text = f"{text}, {self.free_text}" if text else self.free_text
        return text

    def to_dict(self) -> dict:
        return {"groups": [asdict(g) for g in self.groups],
                "relations": [asdict(r) for r in self.relations], "free_text": self.free_text}

    @classmethod
    def from_dict(cls, d: dict) -> SceneGraph:
        return cls([ObjectGroup(**g) for g in d.get("groups", [])],
                   [Relation(**r) for r in d.get("relations", [])], d.get("free_text", ""))


def _join(parts: list[str]) -> str:
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _tokenize(text: str) -> list[str]:
    """Words, digits and punctuation, case kept (free text is shown back to people); hyphens split."""
    return re.findall(r"[A-Za-z0-9']+|[.,;:!?]", FRAMING.sub("", text))


def _class_at(low: list[str], i: int):
    for n in range(min(MAX_CLASS_WORDS, len(low) - i), 0, -1):
        hit = LEXICON.get(tuple(low[i:i + n]))
        if hit:
            return hit[0], hit[1], i + n
    return None


def _count_at(low: list[str], i: int):
    """A leading count word: returns (count, next index, is_article) or None."""
    w = low[i] if i < len(low) else ""
    if w.isdigit() or w in NUMBERS:
        return (int(w) if w.isdigit() else NUMBERS[w]), i + 1, False
    if w in ("a", "an") and low[i + 1:i + 2] in (["few"], ["dozen"]):
        return (3 if low[i + 1] == "few" else 12), i + 2, False
    if w in ("a", "an", "another"):
        return 1, i + 1, True
    return (3, i + 1, False) if w in ("several", "few") else None


def _np_at(low: list[str], i: int) -> _NP | None:
    """[det] [count] [pair(s) of] [adjectives, colour, one unknown word] class."""
    j, definite, count, explicit, article, pairs = i, False, None, False, False, False
    if j < len(low) and low[j] in DEFINITE:
        definite, j = True, j + 1
    counted = _count_at(low, j)
    if counted:
        count, j, article = counted
        explicit = not article
    if low[j:j + 2] in (["pair", "of"], ["pairs", "of"], ["couple", "of"], ["couples", "of"]):
        pairs, explicit, j = low[j].startswith("pair"), True, j + 2
        count = 2 * (count or 1)
    best, color, loose, k = None, None, -1, j
    while k < len(low):  # modifiers, then the head class; the longest phrase wins ("an orange orange")
        hit = _class_at(low, k)
        if hit and (best is None or hit[2] > best[0][2]):
            best = (hit, k, color, loose)
        w = low[k]
        if w in COLOR_WORDS:
            color = color or COLOR_WORDS[w]
        elif w in ADJECTIVES:
            pass
        elif j > i and loose < 0 and _is_modifier(w):
            loose = k  # one unknown word after an article, as in "a wooden table"; kept as free text
        else:
            break
        k += 1
    if best is None:
        return None
    (cls, num, end), head, color, loose = best
    if count is None:
        count = 2 if num == "pl" else 1
    elif pairs and cls in PAIR_CLASSES:
        count //= 2
    extra = any(w in ("extra", "more", "additional") for w in low[j:head])
    return _NP(end, cls, count, color, definite, explicit, article, extra, head == i, loose if loose < head else -1)


def _is_modifier(w: str) -> bool:
    """A word we do not know that may still stand between an article and its noun."""
    return (w.isalpha() and (w,) not in LEXICON and w not in NUMBERS and w not in RELATION_STARTS
            and w not in FILLERS | DEFINITE | {"a", "an", "another", "of", "pair", "pairs", "couple", "few"})


def _relation_at(low: list[str], i: int):
    for words, rel in RELATION_PHRASES:
        if tuple(low[i:i + len(words)]) == words:
            return rel, i + len(words)
    return None


def _find(groups: list[ObjectGroup], np: _NP) -> int | None:
    """The existing group a mention refers to: same class, same colour when one is said."""
    same = [k for k, g in enumerate(groups) if g.cls == np.cls and (np.color is None or g.color == np.color)]
    exact = [k for k in same if not np.explicit or groups[k].count == np.count]
    return (exact or same or [None])[0]


def _parse(text: str, merge: bool) -> SceneGraph:
    toks = _tokenize(text)
    low = [t.lower() for t in toks]
    kind = ["unknown"] * len(toks)  # "struct" | "filler" | "unknown"
    groups: list[ObjectGroup] = []
    relations: list[Relation] = []
    last, pending = None, None

    def mention(np: _NP) -> int:
        k = _find(groups, np) if (np.definite or merge) else None
        if k is None:
            groups.append(ObjectGroup(np.cls, np.count, np.color))
            return len(groups) - 1
        if merge and np.explicit and groups[k].count != np.count:
            groups[k] = ObjectGroup(np.cls, np.count, groups[k].color)  # a number word restates the count
        return k

    def relate(subject, rel, anchor):
        r = Relation(subject, rel, anchor)
        if subject != anchor and r not in relations:
            relations.append(r)

    i = 0
    while i < len(toks):
        rel = _relation_at(low, i)
        np = _np_at(low, rel[1]) if rel else None
        if np is None:
            rel, np = None, _np_at(low, i)
        if np is None:
            if low[i] in SENTENCE_END:  # a relation's subject never crosses a sentence
                last = pending = None
            kind[i] = "filler" if low[i] in FILLERS or low[i] in SENTENCE_END else "unknown"
            i += 1
            continue
        k = mention(np)
        if rel and last is None:
            pending = (rel[0], k)  # fronted: "below the cup are two apples"
        elif rel:
            relate(last, rel[0], k)
        elif pending:
            relate(k, *pending)
            pending = None
        kind[i:np.end] = ["struct"] * (np.end - i)
        if np.loose >= 0:
            kind[np.loose] = "unknown"
        last, i = k, np.end
    return SceneGraph(groups, relations, _free_text(toks, kind))


def _free_text(toks: list[str], kind: list[str]) -> str:
    """Runs of words we did not understand; fillers ("and", ",") count only inside a run."""
    runs, run = [], []
    for tok, k in zip(toks + [""], kind + ["struct"]):
        if k != "struct":
            run.append((tok, k))
            continue
        known = [n for n, (_, kk) in enumerate(run) if kk == "unknown"]
        if known:
            text = " ".join(t for t, _ in run[known[0]:known[-1] + 1])
            runs.append(re.sub(r" ([.,;:!?])", r"\1", text))
        run = []
    return ", ".join(runs)


def parse_prompt(text: str) -> SceneGraph:
    """One prompt: every indefinite mention is a new group; "the X" refers back to an earlier one."""
    return _parse(text, merge=False)


def parse_description(text: str) -> SceneGraph:
    """Multi-sentence descriptions repeat objects ("A cup. Two apples below the cup."): merge them."""
    return _parse(text, merge=True)


@dataclass(frozen=True)
class Edit:
    """One refine instruction, structured so the refiner can apply it to a SceneGraph."""
    kind: str  # "move" | "recolor" | "remove" | "add" | "count"
    target: ObjectGroup  # identifies the group by class and colour; its count stays 1 (numbers go in `count`)
    relation: str | None = None  # for move (and optionally add: where to put the new objects)
    anchor: ObjectGroup | None = None
    color: str | None = None
    count: int | None = None


MOVE_VERBS = {"move", "shift", "relocate", "drag", "reposition"}
ADD_VERBS = {"add", "draw", "insert", "include", "put", "place", "create"}
REMOVE_WORDS = {"remove", "delete", "erase", "eliminate", "rid"}


def parse_edit(text: str) -> Edit | None:
    """A refine instruction -> Edit, or None when it is not one of the five kinds we know."""
    low = [t.lower() for t in _tokenize(text)]
    nps, colors, nums, rel, words = [], [], [], None, set(low)
    i = 0
    while i < len(low):
        np = _np_at(low, i)
        if low[i] in COLOR_WORDS and (np is None or (np.bare and np.end == i + 1)):
            colors.append(COLOR_WORDS[low[i]])  # "make the cup orange": a colour, not the fruit
            i += 1
        elif np:
            nps.append(np)
            i = np.end
        elif _relation_at(low, i) and nps and rel is None:
            rel, i = _relation_at(low, i)
        else:
            if low[i] in NUMBERS or low[i].isdigit():
                nums.append(int(low[i]) if low[i].isdigit() else NUMBERS[low[i]])
            i += 1
    if not nps:
        return None
    first = nps[0]
    target = ObjectGroup(first.cls, 1, first.color)
    joined = " ".join(low)
    if words & REMOVE_WORDS or "take away" in joined or "take out" in joined:
        # "remove two of the apples", "remove one apple", "delete the extra clock"; "remove the dogs": all
        some = first.explicit or ((first.article or first.extra) and first.count == 1)
        return Edit("remove", target, count=nums[0] if nums else first.count if some else None)
    if re.search(r"\b(number|count|amount) of\b", joined):
        count = nums[0] if nums else (nps[-1].count if len(nps) > 1 and nps[-1].explicit else None)
        return Edit("count", target, count=count) if count is not None else None
    if rel and len(nps) > 1:
        anchor = ObjectGroup(nps[1].cls, 1, nps[1].color)
        if words & ADD_VERBS and not first.definite and not words & MOVE_VERBS:
            return Edit("add", target, rel, anchor, count=first.count)
        return Edit("move", target, rel, anchor)
    if words & (ADD_VERBS - {"put", "place"}):
        return Edit("add", target, count=first.count)
    if colors:
        if target.color is None and len(colors) > 1 and "from" in words:
            target = ObjectGroup(first.cls, 1, colors[0])
        return Edit("recolor", target, color=colors[-1])
    if len(nps) > 1 and nps[1].cls == first.cls and nps[1].color not in (None, first.color):
        return Edit("recolor", target, color=nps[1].color)  # "turn the red cup into a blue cup"
    if first.explicit:
        return Edit("count", target, count=first.count)  # "there should be three apples"
    if first.color and first.cls in COLOR_WORDS:  # "make the orange orange" read the colour as an adjective
        return Edit("recolor", ObjectGroup(first.cls), color=first.color)
    return None


def edit_text(edit: Edit) -> str:
    """The canonical instruction for an Edit; parse_edit(edit_text(e)) == e."""
    t = edit.target
    ref = _ref(ObjectGroup(t.cls, 1, t.color))
    if edit.kind == "move":
        return f"move {ref} {edit.relation} {_ref(edit.anchor)}"
    if edit.kind == "recolor":
        return f"recolor {ref} to {edit.color}"
    if edit.kind == "remove":
        some = None if edit.count is None else f"{_num_word(edit.count)} {_noun(t.cls, edit.count, t.color)}"
        return f"remove {some or ref}"
    if edit.kind == "count":
        return f"change the number of {_noun(t.cls, 2, t.color)} to {_num_word(edit.count)}"
    if edit.kind == "add":
        text = "add " + _phrase(ObjectGroup(t.cls, edit.count or 1, t.color))
        if edit.relation and edit.anchor:
            text += f" {edit.relation} {_ref(edit.anchor)}"
        return text
    raise ValueError(f"unknown edit kind: {edit.kind}")
