"""Export throughput: finished trajectories per second written to `bagel` parquet.

Builds N sessions through the real runner and store with an engine that draws 512×512
sketches of random shapes (PNG sizes like the offline engine's), one in five with a
rejected sketch and an overridden verdict, then times `export(..., "bagel")` once over
all of them: reading, deriving the subsets, base64 of the stored PNG bytes, parquet.
The other formats are timed too, for orientation. Target: ≥ 200 trajectories/s to bagel.
In the sessions with a rejected sketch a person also prefers the redraw to the rejected one
(and in half of them accepts it), and two people rate both, so the preference formats (unified_edit, pickapic,
trl-pref) have rows; they are timed in sessions/s (their rows are pairs, not trajectories).

Usage: .venv/bin/python bench/export_throughput.py [--sessions 500] [--photographic]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw  # noqa: E402

from studio import engines  # noqa: E402
from studio.core.domain import Check  # noqa: E402
from studio.engines.base import Engine, ImageResult, InspectResult, PlanResult, RefineResult  # noqa: E402
from studio.export import export  # noqa: E402
from studio.runner import PausePolicy, Runner  # noqa: E402
from studio.store import Store  # noqa: E402

TARGET = 200.0


def drawing(seed: int, photographic: bool = False) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (512, 512), "white")
    if photographic:  # grain that PNG cannot squeeze, like a generated photo (≈ 300–400 KiB)
        grain = Image.effect_noise((512, 512), 24).convert("RGB")
        image = Image.blend(
            Image.new("RGB", (512, 512), tuple(rng.randrange(256) for _ in range(3))), grain, 0.5
        )
    pen = ImageDraw.Draw(image)
    for _ in range(6):
        x, y, r = rng.randrange(40, 472), rng.randrange(40, 472), rng.randrange(15, 60)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (pen.ellipse if rng.random() < 0.5 else pen.rectangle)(
            (x - r, y - r, x + r, y + r), outline=colour, width=4
        )
    return image


class ShapesEngine(Engine):
    """Plans one part per round, draws random shapes, passes every check."""

    name = "bench-shapes"
    label = "benchmark engine (random shapes, 512×512)"
    photographic = False

    def plan(self, ctx):
        parts = ctx.prompt.split(" and ")
        done = sum(1 for s in ctx.branch if s.stage.value == "plan")
        return PlanResult(
            f"draw {parts[done]}", ", ".join(parts[: done + 1]), complete=done == len(parts) - 1
        )

    def sketch(self, ctx):
        return ImageResult(drawing(ctx.seed, self.photographic))

    def inspect(self, ctx):
        return InspectResult(
            Check(True, "The plan matches."), Check(True, "The sketch follows it.")
        )

    def refine(self, ctx, instruction, region):
        return RefineResult(instruction or "fix it", drawing(ctx.seed + 1, self.photographic))


def build(runner: Runner, count: int) -> None:
    for i in range(count):
        t = runner.new_session(f"shape {i} and shape {i + 1}", engine="bench-shapes", seed=i)
        if i % 5 == 0:
            runner.advance(t)
            sketch = runner.advance(t)
            redraw = runner.reject(t, sketch.id, note="too busy")
            if i % 10 == 0:  # accepted, and then a person fails its check: two alignment samples
                runner.accept(t, redraw.id, by="ann")
            runner.prefer(t, sketch.id, redraw.id, "right", by="ann")
            for person, value in (("ann", "up"), ("ben", "up" if i % 10 else "down")):
                runner.rate(t, redraw.id, value, by=person)
                runner.rate(t, sketch.id, "down", by=person)
            runner.run(t, pause=PausePolicy.AT_INSPECT)
            runner.override(
                t, t.head().id, sketch_passed=False, sketch_critique="the shape is too small"
            )
        runner.run(t)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument(
        "--photographic", action="store_true", help="grainy ≈ 350 KiB images instead of sketches"
    )
    args = parser.parse_args()
    ShapesEngine.photographic = args.photographic
    engines.register("bench-shapes", ShapesEngine)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(data_dir=Path(folder) / "data")
        started = time.perf_counter()
        build(Runner(store), args.sessions)
        print(f"built {args.sessions} sessions in {time.perf_counter() - started:.1f} s")
        images = list((Path(folder) / "data" / "images").rglob("*.png"))
        size = sum(p.stat().st_size for p in images)
        print(f"{len(images)} stored PNGs, mean {size / len(images) / 1024:.1f} KiB")
        # one session first, so the exporter's imports are not timed
        export(store, "bagel", Path(folder) / "warm", sessions=[store.list_sessions(limit=1)[0].id])
        results = {}
        for name in ("bagel", "think-trace", "vlm-sft", "hf", "folder"):
            report = export(store, name, Path(folder) / name)
            results[name] = report.trajectories / report.elapsed_s
            written = sum(p.stat().st_size for p in (Path(folder) / name).rglob("*") if p.is_file())
            print(
                f"{name:<12} {report.trajectories} trajectories in {report.elapsed_s:.2f} s = "
                f"{results[name]:.0f} trajectories/s ({written / 2**20:.1f} MiB written)"
            )
        for name in ("unified_edit", "pickapic", "trl-pref"):
            report = export(store, name, Path(folder) / name)
            manifest = json.loads((Path(folder) / name / "manifest.json").read_text())
            rows = manifest.get("pairs") or manifest.get("edits")
            print(
                f"{name:<12} {report.sessions} sessions in {report.elapsed_s:.2f} s = "
                f"{report.sessions / report.elapsed_s:.0f} sessions/s; rows {rows}"
            )
        verdict = "meets" if results["bagel"] >= TARGET else "MISSES"
        print(
            f"bagel: {results['bagel']:.0f} trajectories/s ({verdict} the target of ≥ {TARGET:.0f})"
        )


if __name__ == "__main__":
    main()
