"""The scene graph a prompt asks for, GenEval's vocabulary, and the sentences that describe a graph.

The planner needs object groups and their spatial relations to subsample a scene step by step, the
inspector needs GenEval's ``include`` form to check a draft, and the refiner needs edit instructions
it can both read and write. GenEval's 80 COCO classes, ten colours and four relations are the
vocabulary the engine draws best; any other noun a prompt names is an object too (open vocabulary),
drawn as a labelled placeholder. This module is the model and its words, stdlib-only; reading a
prompt into a graph is `studio.language.reader`'s (spaCy plus rules), which builds on it.

Example::

    g = SceneGraph([ObjectGroup("apple", 2, "red"), ObjectGroup("cup", 1, "blue")], [Relation(0, "below", 1)])
    g.describe()  # 'a blue cup, with two red apples below the blue cup'
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")
CLASSES = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "computer mouse",
    "tv remote",
    "computer keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)
RELATIONS = (
    "left of",
    "right of",
    "above",
    "below",
)  # GenEval's `position`: the only ones it scores
# The relations people use past GenEval's four, as the drawing reads them:
#   "behind" / "in front of": depth order (the one behind is drawn first and may be covered),
#   "on": the subject rests on top of the anchor, touching it ("a cup on a table"),
#   "in": the subject is inside the anchor ("a cat in a box"),
#   "next to": side by side, close, either side ("beside", "by"),
#   "held by": the subject is held by the anchor ("a man holding an umbrella" -> umbrella held by man),
#   "worn by": the subject is worn by the anchor ("a woman wearing a scarf" -> scarf worn by woman).
EXTRA_RELATIONS = ("behind", "in front of", "on", "in", "next to", "held by", "worn by")
ALL_RELATIONS = RELATIONS + EXTRA_RELATIONS
# How GenEval's `position` reads a relation: its own four, and "on", which its check (centre above the
# anchor's) scores as "above"; the others have no GenEval form and are left out of `to_geneval`.
GENEVAL_READING = {**{r: r for r in RELATIONS}, "on": "above"}
# Each relation seen from its anchor: "a cat left of a dog" is "the dog right of the cat". Only where
# the anchor's view is itself a relation; "on", "in", "held by" and "worn by" have none (see ANCHOR_VIEW).
OPPOSITE = {
    "left of": "right of",
    "right of": "left of",
    "above": "below",
    "below": "above",
    "behind": "in front of",
    "in front of": "behind",
    "next to": "next to",
}
# How the anchor relates to its subject, in words: "the table under the cup", "the man holding the umbrella".
ANCHOR_VIEW = {
    **OPPOSITE,
    "on": "under",
    "in": "containing",
    "held by": "holding",
    "worn by": "wearing",
}

# Other words people use for a class (singular forms; plurals are generated).
SYNONYMS = {
    "person": "man|woman|boy|girl|child|kid|guy|lady|human|skier|surfer|skateboarder|snowboarder|cyclist|rider|"
    "player|chef|cook|firefighter|athlete|pedestrian|worker|tourist|student|teacher|doctor|farmer|"
    "baby|toddler|teenager|adult|passenger|driver|pilot|hiker|runner|dancer|musician|gentleman",
    "bicycle": "bike",
    "car": "automobile|convertible|sedan|taxi|jeep|coupe|hatchback|limousine|minivan|suv",
    "motorcycle": "motorbike|motor bike|scooter",
    "airplane": "plane|aeroplane|airliner|aircraft",
    "train": "locomotive",
    "truck": "lorry",
    "boat": "ship|sailboat",
    "traffic light": "stoplight|traffic signal",
    "fire hydrant": "hydrant",
    "cat": "kitten|kitty",
    "dog": "puppy|terrier|retriever|poodle|labrador|beagle|bulldog|spaniel|dachshund|husky|corgi",
    "bird": "sparrow|robin|pigeon|dove|crow|seagull|gull|parrot|owl|eagle|hawk|finch|songbird|"
    "bluebird|blackbird|hummingbird",
    "horse": "pony|stallion|mare",
    "sheep": "lamb",
    "backpack": "rucksack|knapsack",
    "handbag": "purse|hand bag",
    "tie": "necktie",
    "frisbee": "flying disc",
    "skis": "ski",
    "snowboard": "snow board",
    "sports ball": "ball|football|soccer ball|basketball|baseball|tennis ball|volleyball",
    "baseball bat": "bat",
    "baseball glove": "glove|mitt|baseball mitt",
    "skateboard": "skate board",
    "surfboard": "surf board",
    "tennis racket": "racket|racquet|tennis racquet",
    "wine glass": "wineglass",
    "cup": "mug",
    "hot dog": "hotdog",
    "donut": "doughnut",
    "couch": "sofa",
    "chair": "armchair",
    "potted plant": "plant|houseplant|house plant|pot plant",
    "dining table": "table|dinner table|kitchen table",
    "tv": "television|tv set|television set|telly",
    "laptop": "laptop computer",
    "computer mouse": "mouse",
    "tv remote": "remote|remote control|television remote",
    "computer keyboard": "keyboard",
    "cell phone": "phone|cellphone|mobile phone|smartphone|smart phone|telephone",
    "microwave": "microwave oven",
    "refrigerator": "fridge",
    "teddy bear": "teddy|teddybear",
    "hair drier": "hair dryer|hairdryer|hairdrier|blow dryer|blow drier",
    "toothbrush": "tooth brush",
}
IRREGULAR = {
    "person": "people",
    "man": "men",
    "woman": "women",
    "child": "children",
    "mouse": "mice",
    "knife": "knives",
    "sheep": "sheep",
    "skis": "skis",
    "scissors": "scissors",
    "broccoli": "broccoli",
}
PAIR_CLASSES = {"skis", "scissors"}  # "a pair of skis" is one object, not two
NUMBERS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ]
    )
}
COLOR_WORDS = {**{c: c for c in COLORS}, "violet": "purple", "scarlet": "red", "crimson": "red"}
ADJECTIVES = {
    "small",
    "big",
    "large",
    "little",
    "tiny",
    "huge",
    "giant",
    "cute",
    "shiny",
    "bright",
    "dark",
    "light",
    "pale",
    "single",
    "more",
    "extra",
    "additional",
    "other",
    "colored",
    "coloured",
}
DEFINITE = {"the", "this", "that", "these", "those"}
FILLERS = {
    "and",
    "with",
    "is",
    "are",
    "there",
    "also",
    "plus",
    "while",
    "both",
    "placed",
    "positioned",
    "located",
    "sitting",
    "standing",
    "lying",
    "which",
    "that",
    "but",
    "or",
    "yet",
    ",",
    ";",
    ":",
}
SENTENCE_END = {".", "!", "?", ";"}
FRAMING = re.compile(
    r"^\s*(?:(?:a|an|the)\s+)?(?:photo|photograph|picture|image|pic)\s+of\s+", re.IGNORECASE
)


def _relation_phrases():
    """All spellings of the relations, longest first so "on the left of" beats "on"."""
    out = {}
    for side in ("left", "right"):
        for pre in ("", "to ", "to the ", "on the ", "at the ", "on "):
            for noun in (side, side + " side", side + " hand side"):
                out[tuple(f"{pre}{noun} of".split())] = f"{side} of"
    spellings = {
        "above": "above|over|higher than",
        "below": "below|under|beneath|underneath|lower than",
        "on": "on|upon|on top of|on the top of|atop|onto",
        "behind": "behind|in back of|at the back of|to the back of",
        "in front of": "in front of|at the front of",
        "in": "in|inside|inside of|within",
        "next to": "next to|beside|besides|alongside|against|close to|near|by the side of|"
        "leaning against|side by side with|between",
        "held by": "held by|carried by|held in the hand of",
        "worn by": "worn by",
    }
    for rel, words in spellings.items():
        for w in words.split("|"):
            out[tuple(w.split())] = rel
    return sorted(out.items(), key=lambda kv: -len(kv[0]))


RELATION_PHRASES = _relation_phrases()
# Words that begin a relation or another preposition never modify a noun ("a cat on a bench").
RELATION_STARTS = {w[0] for w, _ in RELATION_PHRASES} | {
    "in",
    "at",
    "near",
    "next",
    "behind",
    "by",
    "beside",
}


def plural(noun: str) -> str:
    """English plural of a (possibly multiword) noun, inflecting only the head word."""
    *head, last = noun.split()
    if last in IRREGULAR:
        p = IRREGULAR[last]
    elif re.search(r"(s|x|z|ch|sh)$", last):
        p = last + "es"
    elif re.search(r"[^aeiou]y$", last):
        p = last[:-1] + "ies"
    elif last.endswith("ife"):
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
    """Objects of one class and colour; GenEval checks counts per group, so "two apples" is one group.

    `material` ("wooden", "glass") and `parts` (what the prompt says of its parts: "purple cheese",
    "keyboard", "trucks") describe the objects but are not compared: two groups are the same group
    when class, count and colour agree, as GenEval counts them.
    """

    cls: str
    count: int = 1
    color: str | None = None
    material: str | None = field(default=None, compare=False)
    parts: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        """cls, count and colour; material and parts only where the prompt gave them."""
        out: dict = {"cls": self.cls, "count": self.count, "color": self.color}
        if self.material:
            out["material"] = self.material
        if self.parts:
            out["parts"] = list(self.parts)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> ObjectGroup:
        return cls(
            d["cls"],
            d.get("count", 1),
            d.get("color"),
            d.get("material"),
            tuple(d.get("parts", ())),
        )


@dataclass(frozen=True)
class Relation:
    """`subject` sits `relation` of `anchor` (indices into SceneGraph.groups); `relation` is one of
    ALL_RELATIONS: GenEval's four "position" words or one of EXTRA_RELATIONS."""

    subject: int
    relation: str
    anchor: int


def number_word(n: int) -> str:
    """The count as a word, "three" (a digit string past twelve): how the reader reads it back."""
    return next((w for w, i in NUMBERS.items() if i == n and n > 0), str(n))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def noun(cls: str, count: int, color: str | None = None) -> str:
    """The noun for `count` of `cls` with its colour, no article: "red apples", "cup"."""
    base = cls if count == 1 else plural(cls)
    return f"{color} {base}" if color else base


def group_phrase(g: ObjectGroup) -> str:
    """ "two red apples", "an orange", "a pair of skis" (skis and scissors are counted in pairs)."""
    if g.cls in PAIR_CLASSES:
        pairs = "a pair" if g.count == 1 else f"{number_word(g.count)} pairs"
        return f"{pairs} of {noun(g.cls, 1, g.color)}"
    words = noun(g.cls, g.count, g.color)
    return f"{_article(words)} {words}" if g.count == 1 else f"{number_word(g.count)} {words}"


def group_reference(g: ObjectGroup) -> str:
    """Definite reference ("the blue cup", "the two red apples") that the reader resolves back to g."""
    return f"the {noun(g.cls, 1, g.color)}" if g.count == 1 else f"the {group_phrase(g)}"


@dataclass
class SceneGraph:
    """What the planner subsamples step by step and the inspector checks a draft against."""

    groups: list[ObjectGroup] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    free_text: str = ""
    # "a dog but no cat": must not be drawn
    negated: list[ObjectGroup] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader understood but could not place
    # surfaces and settings the objects stand on or in, not objects to draw: "a wooden table", "a beach"
    ground: list[str] = field(default_factory=list)

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
        """GenEval's include list; a group keeps only its first relation GenEval can score (it allows one)."""
        order = self.plan_order()
        where = {g: k for k, g in enumerate(order)}
        include = []
        for i in order:
            g = self.groups[i]
            item = {"class": g.cls, "count": g.count} | ({"color": g.color} if g.color else {})
            rel = next(
                (r for r in self.relations if r.subject == i and r.relation in GENEVAL_READING),
                None,
            )
            if rel is not None:
                item["position"] = [GENEVAL_READING[rel.relation], where[rel.anchor]]
            include.append(item)
        exclude = [
            {"class": g.cls, "count": 1} | ({"color": g.color} if g.color else {})
            for g in self.negated
        ]
        return {"include": include} | ({"exclude": exclude} if exclude else {})

    def phrase(self, i: int) -> str:
        return group_phrase(self.groups[i])

    def describe(self, indices: list[int] | None = None) -> str:
        """A sentence the parser reads back: unplaced groups first, then "with X rel the Y" clauses."""
        keep = set(range(len(self.groups)) if indices is None else indices)
        rels = [
            r
            for r in self.relations
            if r.subject in keep and r.anchor in keep and r.subject != r.anchor
        ]
        order = [i for i in self.plan_order() if i in keep]
        placed = {r.subject for r in rels}
        intro = [i for i in order if i not in placed]
        mentioned = set(intro)
        clauses = []
        for i in order:
            for r in (r for r in rels if r.subject == i):
                subj = group_reference(self.groups[i]) if i in mentioned else self.phrase(i)
                anchor = (
                    group_reference(self.groups[r.anchor])
                    if r.anchor in mentioned
                    else self.phrase(r.anchor)
                )
                mentioned |= {i, r.anchor}
                clauses.append(f"{subj} {r.relation} {anchor}")
        text = _join([self.phrase(i) for i in intro])
        if clauses:
            text = f"{text}, with {_join(clauses)}" if text else _join(clauses)
        if indices is None and self.free_text:
            text = f"{text}, {self.free_text}" if text else self.free_text
        return text

    def unknown(self) -> list[str]:
        """Classes of the plan that are not GenEval's: drawn as placeholders."""
        return sorted({g.cls for g in self.groups if not is_known(g.cls)})

    def to_dict(self) -> dict:
        out = {
            "groups": [g.to_dict() for g in self.groups],
            "relations": [asdict(r) for r in self.relations],
            "free_text": self.free_text,
        }
        if self.negated:
            out["negated"] = [g.to_dict() for g in self.negated]
        if self.notes:
            out["notes"] = list(self.notes)
        if self.ground:
            out["ground"] = list(self.ground)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> SceneGraph:
        return cls(
            [ObjectGroup.from_dict(g) for g in d.get("groups", [])],
            [Relation(**r) for r in d.get("relations", [])],
            d.get("free_text", ""),
            [ObjectGroup.from_dict(g) for g in d.get("negated", [])],
            list(d.get("notes", [])),
            list(d.get("ground", [])),
        )


def _join(parts: list[str]) -> str:
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def is_known(cls: str) -> bool:
    """One of GenEval's 80 classes (it has a glyph), as opposed to an open-vocabulary noun."""
    return cls in _CLASS_SET


_CLASS_SET = frozenset(CLASSES)
