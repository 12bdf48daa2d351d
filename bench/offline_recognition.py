"""How well the offline analyser recognises what the painter drew, with no markers or labels to read.

For each of GenEval's 553 prompts and 4 seeds, the painter draws the whole scene in one pass, as the
single-pass sketch stage does (default draft noise: wrong colours and counts, ignored relations,
±20 % scale, ±8 % proportions, stroke jitter 0.6-1.8×, a quarter of the objects allowed to overlap
objects of other colours). The painter's own record of what it drew (class, colour, box) is the
ground truth; the analyser sees only the pixels. A drawn object is matched to the found object
with the highest box IoU (≥ 0.5). Reported: precision and recall per class, colour accuracy and
mean box IoU of matched objects, and the most frequent confusions.

With `--nouns quickdraw`, the same measures on nouns outside GenEval's 80 classes that this project
did not choose: the first 200 of Google's Quick, Draw! categories (the `quickdraw` package's list,
`pip install --no-deps quickdraw`) that the reader does not read as a COCO class. It prints how many
get a picture (and which), then draws each in scenes of three such nouns (a noun with the next two
of the list, in colours from GenEval's ten) and reads them back; `--no-pictures` draws every such
noun as a placeholder, as the engine did before it had pictures.

Usage: .venv/bin/python bench/offline_recognition.py [--seeds 4] [--limit N] [--nouns quickdraw [--no-pictures]]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.engines.offline.analyse import analyse  # noqa: E402
from studio.engines.offline.draw import blank  # noqa: E402
from studio.engines.offline.layout import unit_size  # noqa: E402
from studio.engines.offline.paint import DraftNoise, Painter  # noqa: E402
from studio.language import parse_prompt  # noqa: E402

METADATA = ROOT.parent / "shared/data/geneval/evaluation_metadata.jsonl"


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def sketch(prompt: str, seed: int):
    scene = parse_prompt(prompt)
    painter = Painter(
        blank(),
        unit_size(sum(g.count for g in scene.groups)),
        np.random.default_rng(seed),
        DraftNoise(),
        names=scene.unknown(),
    )
    painter.draw_groups(scene, scene.plan_order())
    return painter.drawn, analyse(painter.image, painter.names)


def quickdraw_nouns(n: int = 200) -> list[str]:
    """The first n Quick, Draw! categories the reader does not read as one of GenEval's classes."""
    import ast
    import importlib.util

    from studio.language.scene import LEXICON

    spec = importlib.util.find_spec("quickdraw")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("needs the Quick, Draw! names: pip install --no-deps quickdraw")
    source = Path(spec.submodule_search_locations[0], "names.py").read_text()
    start = source.index("[", source.index("QUICK_DRAWING_NAMES"))
    names = ast.literal_eval(source[start : source.index("]", start) + 1])
    return [w for w in names if tuple(w.split()) not in LEXICON][:n]


def open_vocabulary_prompts(nouns: list[str]) -> list[str]:
    colours = [
        "red",
        "blue",
        "green",
        "yellow",
        "purple",
        "orange",
        "pink",
        "brown",
        "black",
        "white",
    ]
    return [
        ", ".join(f"a {colours[(i + k) % 10]} {nouns[(i + k) % len(nouns)]}" for k in range(3))
        for i in range(len(nouns))
    ]


def coverage(nouns: list[str]) -> None:
    from studio.engines.offline import pictures

    by_name = {code: name for name, code in pictures._table()[0].items()}
    got = [n for n in nouns if pictures.drawable(n)]
    print(f"{len(got)}/{len(nouns)} Quick, Draw! nouns outside COCO get a picture:")
    print("; ".join(f"{n} -> {by_name.get(pictures.picture_of(n), '?')}" for n in got))
    print("no picture: " + ", ".join(n for n in nouns if n not in got))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--nouns", choices=["geneval", "quickdraw"], default="geneval")
    parser.add_argument("--no-pictures", action="store_true")
    args = parser.parse_args()
    if args.nouns == "quickdraw":
        nouns = quickdraw_nouns()
        if args.no_pictures:
            from studio.engines.offline import pictures

            pictures.picture_of = lambda noun: None  # the engine before it had pictures
        else:
            coverage(nouns)
        lines = [{"prompt": p} for p in open_vocabulary_prompts(nouns)]
    else:
        lines = [json.loads(x) for x in METADATA.read_text().splitlines() if x.strip()]
    lines = lines[: args.limit] if args.limit else lines

    truth, found, hits, colour_ok, ious = Counter(), Counter(), Counter(), 0, []
    confusion: Counter = Counter()
    missed, extra, overlapping, images, start = 0, 0, 0, 0, time.perf_counter()
    for line in lines:
        for seed in range(args.seeds):
            drawn, analysis = sketch(line["prompt"], seed)
            images += 1
            objs = list(analysis.objects)
            for o in objs:
                found[o.cls] += 1
            used: set[int] = set()
            boxes = [d["box"] for d in drawn]
            overlapping += sum(any(iou(b, c) > 0 for c in boxes if c is not b) for b in boxes)
            for d in drawn:
                truth[d["class"]] += 1
                scores = [(iou(d["box"], o.box), k) for k, o in enumerate(objs) if k not in used]
                best = max(scores, default=(0.0, -1))
                if best[0] < 0.5:
                    missed += 1
                    confusion[(d["class"], "(not found)")] += 1
                    continue
                used.add(best[1])
                o = objs[best[1]]
                ious.append(best[0])
                colour_ok += o.color == d["color"]
                if o.cls == d["class"]:
                    hits[d["class"]] += 1
                else:
                    confusion[(d["class"], o.cls)] += 1
            extra += len(objs) - len(used) + len(analysis.unrecognised)
    seconds = time.perf_counter() - start
    total_truth, total_hits = sum(truth.values()), sum(hits.values())
    matched = len(ious)
    print(
        f"{images} sketches, {total_truth} drawn objects, {seconds:.0f} s ({1000 * seconds / images:.0f} ms per sketch)"
    )
    print(
        "recall (drawn objects recognised with the right class): "
        f"{total_hits}/{total_truth} = {total_hits / total_truth:.3f}"
    )
    print(
        f"precision (found objects that are what was drawn there): {total_hits}/{sum(found.values())} = "
        f"{total_hits / max(sum(found.values()), 1):.3f}"
    )
    print(
        f"colour accuracy of matched objects: {colour_ok}/{matched} = {colour_ok / max(matched, 1):.3f}"
    )
    print(f"mean box IoU of matched objects: {np.mean(ious):.3f} (min {np.min(ious):.2f})")
    print(
        f"drawn but not found: {missed}; found or unrecognised shapes with no drawn object: {extra}"
    )
    print(f"drawn objects whose box overlaps another's: {overlapping}/{total_truth}")
    print("\nmost frequent confusions (drawn -> read):")
    for (a, b), n in confusion.most_common(12):
        print(f"  {a} -> {b}: {n}")
    print(
        "\nper class (classes below 0.95 precision or recall):\n"
        "| class | drawn | precision | recall |\n|---|---:|---:|---:|"
    )
    worst = 0
    for cls in sorted(truth):
        p = hits[cls] / max(found[cls], 1)
        r = hits[cls] / truth[cls]
        if p < 0.95 or r < 0.95:
            worst += 1
            print(f"| {cls} | {truth[cls]} | {p:.3f} | {r:.3f} |")
    print(f"({len(truth) - worst} of {len(truth)} classes at ≥ 0.95 precision and recall)")


if __name__ == "__main__":
    main()
