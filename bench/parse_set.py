"""Build the parse benchmark's own prompt set: GenEval's scenes said in other words.

Each line of GenEval's metadata is a scene (classes, counts, colours, one relation). This script
says the same scene again in other wordings — short captions ("a sink that is blue", "a cat on
the left and a dog on the right", "a bus but no cats") and long descriptions of the kind prompt
rewriters write, with settings, parts, materials and light that must not become objects — and
keeps GenEval's metadata as the answer. Wordings are drawn per line by a seeded generator from
the template lists below, so the set is reproducible and no template is fitted to one prompt.

    .venv/bin/python bench/parse_set.py            # writes bench/data/parse_set.jsonl
Each output line: {"kind": "short"|"long", "tag", "prompt", "include", "exclude"?}.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.language.scene import PAIR_CLASSES, SYNONYMS, plural  # noqa: E402

METADATA = ROOT.parent / "shared/data/geneval/evaluation_metadata.jsonl"
OUT = ROOT / "bench/data/parse_set.jsonl"
NUM = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]

# -- short captions, per GenEval tag ------------------------------------------------------------
SINGLE = [
    "{a}",
    "an image of {a}",
    "a picture showing {a}",
    "there is {a}",
    "one {o}",
    "a single {o}",
    "{A}.",
    "a close-up of {a}",
    "a drawing of {a} on its own",
    "just {a}, nothing else",
]
TWO = [
    "{a} and {b}",
    "{a} together with {b}",
    "{a} next to {b}",
    "{a}, and also {b}",
    "both {a} and {b}",
    "{a} as well as {b}",
    "{a} beside {b}",
    "{a} with {b}",
    "{a} plus {b}",
    "{A} and {b} in one picture",
]
COUNT = [
    "{n} {os}",
    "{d} {os}",
    "exactly {n} {os}",
    "a group of {n} {os}",
    "there are {n} {os}",
    "a picture with {n} {os} in it",
    "{n} {os} in a row",
    "{N} {os}.",
    "a set of {n} {os}",
    "{n} {os} side by side",
]
COLOR = [
    "{a} colored {c}",
    "{a} painted {c}",
    "{a} that is {c}",
    "{a} in {c}",
    "a {c}-colored {o}",
    "{a} which is {c}",
    "{a} of {c} color",
    "{a} in the color {c}",
    "{A}, entirely {c}",
    "{a} that is painted {c}",
    "{a} with a {c} finish",
    "a bright {c} {o}",
]
POSITION = {  # {s}: the placed object, {t}: the anchor; rel is GenEval's word
    "left of": [
        "{s} to the left of {t}",
        "{s} on the left side of {t}",
        "{t} with {s} to its left",
        "to the left of {t} is {s}",
        "{s} positioned left of {t}",
        "{s} on the left and {t} on the right",
        "{t} and, to its left, {s}",
        "{s} that sits to the left of {t}",
    ],
    "right of": [
        "{s} to the right of {t}",
        "{s} on the right side of {t}",
        "{t} with {s} to its right",
        "to the right of {t} is {s}",
        "{s} placed right of {t}",
        "{t} on the left and {s} on the right",
        "{t} and, on its right, {s}",
        "{s} standing to the right of {t}",
    ],
    "above": [
        "{s} above {t}",
        "{s} on top of {t}",
        "{s} placed above {t}",
        "{s} hovering over {t}",
        "above {t} is {s}",
        "{s} higher than {t}",
        "{t} with {s} above it",
        "{s} resting on top of {t}",
    ],
    "below": [
        "{s} below {t}",
        "{s} under {t}",
        "{s} beneath {t}",
        "{s} underneath {t}",
        "below {t} is {s}",
        "{s} lying below {t}",
        "{t} with {s} below it",
        "{s} placed under {t}",
    ],
}
ATTR = [
    "{a} colored {c} and {b} colored {d}",
    "{a} in {c} with {b} in {d}",
    "{ca} next to {cb}",
    "{a} that is {c} and {b} that is {d}",
    "{a} painted {c} beside {b} painted {d}",
    "{ca} and {cb}",
    "{a} which is {c}, and {b} which is {d}",
    "a {c}-colored {o} and a {d}-colored {p}",
]
NEGATE = [
    "{x} but no {ns}",
    "{x} without any {ns}",
    "{x} and no {ns}",
    "{x}, with no {ns} anywhere",
]

# -- long descriptions ------------------------------------------------------------------------------
STYLE = [
    "A realistic photograph",
    "A detailed illustration",
    "A quiet still life",
    "A crisp studio shot",
    "A softly lit scene",
    "A minimalist composition",
]
SETTING = [
    "on a flat surface",
    "in a sunlit room",
    "against a plain gray backdrop",
    "on a worn wooden floor",
    "in a quiet garden",
    "on a stone countertop",
    "in front of a white wall",
    "on a patch of grass",
]
LIGHT = [
    "Soft daylight falls across the scene, casting gentle shadows.",
    "Warm evening light gives the whole image a calm atmosphere.",
    "The lighting is even and bright, with a shallow depth of field.",
    "A subtle texture in the background adds depth without distracting from the subject.",
    "The colors are natural and the composition is balanced.",
]
PART = [
    "Its edges are smooth and slightly rounded.",
    "Small details along its sides catch the light.",
    "It stands on {k} short legs.",
    "Its handle is made of polished steel.",
    "The surface shows a fine grain and a few faint scratches.",
    "Four tiny screws hold its frame together.",
]
MATERIAL = [
    "crafted from dark oak",
    "made of brushed metal",
    "shaped from smooth ceramic",
    "built from sturdy plastic",
    "carved out of pale wood",
]
COLOR_LONG = [
    "The {o} is {c}.",
    "The {o} is painted a vivid {c}.",
    "The {o} is colored {c}.",
    "The {o} has a glossy {c} finish.",
    "Its color is a deep {c}.",
]
REL_LONG = {
    "left of": [
        "The {s} is placed to the left of the {t}.",
        "To the left of the {t} sits the {s}.",
    ],
    "right of": [
        "The {s} is placed to the right of the {t}.",
        "To the right of the {t} stands the {s}.",
    ],
    "above": ["The {s} is positioned above the {t}.", "Above the {t}, the {s} seems to float."],
    "below": ["The {s} rests below the {t}.", "Beneath the {t} lies the {s}."],
}


def noun(cls: str, rng: random.Random, count: int = 1) -> str:
    """The class name, sometimes a synonym GenEval's vocabulary knows; plural for count > 1."""
    names = [cls] + [s for s in SYNONYMS.get(cls, "").split("|") if s and " " not in s]
    name = rng.choice(names) if rng.random() < 0.3 else cls
    if cls in PAIR_CLASSES:
        return name
    return plural(name) if count > 1 else name


def art(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def with_count(item: dict, rng: random.Random, color: bool = True) -> str:
    n, c = item["count"], item.get("color") if color else None
    o = noun(item["class"], rng, n)
    o = f"{c} {o}" if c else o
    if item["class"] in PAIR_CLASSES:
        return f"a pair of {o}" if n == 1 else f"{NUM[n]} pairs of {o}"
    return art(o) if n == 1 else f"{NUM[n]} {o}"


def short(line: dict, rng: random.Random) -> list[dict]:
    tag, inc = line["tag"], line["include"]
    out = []
    if tag == "single_object":
        o = noun(inc[0]["class"], rng)
        text = rng.choice(SINGLE).format(a=art(o), A=art(o).capitalize(), o=o)
    elif tag == "two_object":
        a, b = with_count(inc[0], rng), with_count(inc[1], rng)
        text = rng.choice(TWO).format(a=a, b=b, A=a.capitalize())
    elif tag == "counting":
        n = inc[0]["count"]
        os_ = noun(inc[0]["class"], rng, n)
        text = rng.choice(COUNT).format(n=NUM[n], d=n, N=NUM[n].capitalize(), os=os_)
    elif tag == "colors":
        o, c = noun(inc[0]["class"], rng), inc[0]["color"]
        text = rng.choice(COLOR).format(a=art(o), A=art(o).capitalize(), o=o, c=c)
    elif tag == "position":
        t, s = with_count(inc[0], rng), with_count(inc[1], rng)
        text = rng.choice(POSITION[inc[1]["position"][0]]).format(s=s, t=t)
    else:  # color_attr
        o, p = noun(inc[0]["class"], rng), noun(inc[1]["class"], rng)
        c, d = inc[0]["color"], inc[1]["color"]
        text = rng.choice(ATTR).format(
            a=art(o), b=art(p), c=c, d=d, o=o, p=p, ca=art(f"{c} {o}"), cb=art(f"{d} {p}")
        )
    out.append({"kind": "short", "tag": tag, "prompt": text, "include": inc})
    return out


def negated(line: dict, other: str, rng: random.Random) -> dict:
    x = " and ".join(with_count(i, rng) for i in line["include"])
    text = rng.choice(NEGATE).format(x=x, ns=plural(other))
    return {
        "kind": "short",
        "tag": "negation",
        "prompt": text,
        "include": line["include"],
        "exclude": [{"class": other, "count": 1}],
    }


def long(line: dict, rng: random.Random) -> dict:
    """A three-to-five sentence description of the scene, with setting, parts, materials and light."""
    inc = line["include"]
    first = inc[0]
    names = [noun(i["class"], rng, i["count"]) for i in inc]
    intro = f"{rng.choice(STYLE)} of {with_count(first, rng, color=False)} {rng.choice(SETTING)}."
    sentences = [intro]
    if first["class"] not in PAIR_CLASSES and first["count"] == 1:
        sentences.append(f"The {names[0]} is {rng.choice(MATERIAL)}.")
    if "color" in first and first["count"] == 1:
        sentences.append(rng.choice(COLOR_LONG).format(o=names[0], c=first["color"]))
    elif "color" in first:
        sentences.append(f"All of the {names[0]} are {first['color']}.")
    if len(inc) > 1:
        second = inc[1]
        if "position" in second:
            sentences.append(f"Nearby there is {with_count(second, rng, color=False)}.")
            rel = second["position"][0]
            sentences.append(rng.choice(REL_LONG[rel]).format(s=names[1], t=names[0]))
        else:
            sentences.append(
                f"Beside it there is also {with_count(second, rng, color=False)}, {rng.choice(MATERIAL)}."
            )
        if "color" in second:
            sentences.append(
                f"The {names[1]} {'is' if second['count'] == 1 else 'are'} {second['color']}."
            )
    sentences.append(rng.choice(PART).format(k=rng.choice(["three", "four"])))
    sentences.append(rng.choice(LIGHT))
    return {"kind": "long", "tag": line["tag"], "prompt": " ".join(sentences), "include": inc}


def build(seed: int = 13) -> list[dict]:
    rng = random.Random(seed)
    lines = [json.loads(x) for x in METADATA.read_text().splitlines() if x.strip()]
    by_tag: dict[str, list[dict]] = {}
    for x in lines:
        by_tag.setdefault(x["tag"], []).append(x)
    rows = []
    for group in by_tag.values():
        for x in rng.sample(group, 40):
            rows += short(x, rng)
        for x in rng.sample(group, 20):
            rows.append(long(x, rng))
    classes = sorted({i["class"] for x in lines for i in x["include"]})
    for x in rng.sample(by_tag["single_object"] + by_tag["counting"] + by_tag["two_object"], 30):
        other = rng.choice(
            [
                c
                for c in classes
                if c not in {i["class"] for i in x["include"]} and c not in PAIR_CLASSES
            ]
        )
        rows.append(negated(x, other, rng))
    return rows


def main() -> None:
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kinds = {k: sum(r["kind"] == k for r in rows) for k in ("short", "long")}
    print(f"wrote {len(rows)} prompts to {OUT.relative_to(ROOT)}: {kinds}")


if __name__ == "__main__":
    main()
