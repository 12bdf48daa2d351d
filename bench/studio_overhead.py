"""Studio overhead as a share of a sketch stage, with a tiny real diffusers pipeline as the sketcher.

Each sketch stage runs through the real `Runner` and `Store` (SQLite, content-addressed PNG write);
the engine times its own pipeline call. Overhead = t(stage, as the runner runs it) − t(inside the
pipeline): building the stage context, the engine queue, PNG encoding and writing, the commit.
Printed as a share of the stage (median over the sketches of one run). Needs diffusers,
transformers and torch; without them it prints that it is skipped and why.

Usage: .venv/bin/python bench/studio_overhead.py [--sketches 12] [--steps 20] [--size 64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tiny_sd  # noqa: E402

from studio import engines  # noqa: E402
from studio.core.domain import RunSettings, Stage  # noqa: E402
from studio.runner import Runner  # noqa: E402
from studio.store import Store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sketches", type=int, default=12)
    parser.add_argument("--steps", type=int, default=20, help="denoising steps per sketch")
    parser.add_argument(
        "--size", type=int, default=64, help="image side in pixels (a multiple of 8)"
    )
    args = parser.parse_args()
    why = tiny_sd.available()
    if why:
        print(f"skipped: studio overhead needs a diffusers pipeline, and {why}.")
        return

    engine = tiny_sd.TinySDEngine(tiny_sd.build_pipeline(), size=args.size, steps=args.steps)
    engines.register(engine.name, lambda: engine)
    stage_s, engine_s = [], []
    with tempfile.TemporaryDirectory() as folder:
        runner = Runner(Store(data_dir=folder))
        trajectory = runner.new_session(
            "a red apple left of a blue cup",
            engine.name,
            seed=1,
            settings=RunSettings(max_rounds=args.sketches + 10),
        )
        warmup = 2
        while len(engine.sketch_seconds) < args.sketches + warmup:
            start = time.perf_counter()
            step = runner.advance(trajectory)
            elapsed = time.perf_counter() - start
            if step.stage is Stage.SKETCH and len(engine.sketch_seconds) > warmup:
                stage_s.append(elapsed)
                engine_s.append(engine.sketch_seconds[-1])
        image_bytes = next(
            s.image.byte_size for s in reversed(trajectory.branch()) if s.stage is Stage.SKETCH
        )
    overhead = [s - e for s, e in zip(stage_s, engine_s)]
    shares = [o / s for o, s in zip(overhead, stage_s)]
    print(
        f"tiny StableDiffusionPipeline, {args.size}×{args.size}, {args.steps} steps, {len(stage_s)} sketch stages "
        f"(PNG ≈ {image_bytes} bytes)\n"
    )
    print("| measure (median) | value |")
    print("|---|---|")
    print(f"| sketch stage, as the runner runs it | {statistics.median(stage_s) * 1000:.1f} ms |")
    print(f"| inside the diffusers pipeline | {statistics.median(engine_s) * 1000:.1f} ms |")
    print(
        f"| studio overhead (runner + store + PNG write) | {statistics.median(overhead) * 1000:.2f} ms |"
    )
    print(f"| overhead / stage | {statistics.median(shares):.2%} |")


if __name__ == "__main__":
    main()
