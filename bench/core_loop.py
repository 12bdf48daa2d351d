"""Core loop costs with a trivial engine: is a stage's cost flat in trajectory length?

Prints, from one run on this machine:
- t(stage ~100) / t(stage ~1) on one branch (median over repeats; each window holds one plan,
  one sketch and one inspect, so the stage mix is the same). Target ≤ 1.1: no replay of history
  and no rewrite of the whole trajectory per stage.
- the time to resume a 200-stage session (open it, rebuild the branch, run the next stage).

Usage: .venv/bin/python bench/core_loop.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from studio import engines  # noqa: E402
from studio.core.domain import Check, RunSettings  # noqa: E402
from studio.engines.base import Engine, ImageResult, InspectResult, PlanResult, RefineResult  # noqa: E402
from studio.runner import Runner  # noqa: E402
from studio.store import Store  # noqa: E402


class TrivialEngine(Engine):
    """Does no work at all, so what is measured is the studio: runner, store and image writes."""

    name = "trivial"
    label = "trivial benchmark engine"

    def plan(self, ctx):
        return PlanResult(f"step {len(ctx.branch)}", "scene", complete=False)

    def sketch(self, ctx):
        return ImageResult(Image.new("RGB", (8, 8), (ctx.seed % 256, 0, 0)))

    def inspect(self, ctx):
        return InspectResult(Check(True, "ok"), Check(True, "ok"))

    def refine(self, ctx, instruction, region):
        return RefineResult(instruction or "fix", Image.new("RGB", (8, 8)))


def stage_times(runner: Runner, stages: int) -> list[float]:
    trajectory = runner.new_session(
        "a long session", engine="trivial", settings=RunSettings(max_rounds=10_000)
    )
    times = []
    for _ in range(stages):
        start = time.perf_counter()
        runner.advance(trajectory)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    engines.register("trivial", TrivialEngine)
    with tempfile.TemporaryDirectory() as folder:
        runner = Runner(Store(data_dir=folder))
        stage_times(runner, 10)  # warm up imports and caches
        early, late = [], []
        for _ in range(args.repeats):
            times = stage_times(runner, 102)
            early.append(statistics.median(times[0:3]))
            late.append(statistics.median(times[99:102]))
        ratio = statistics.median(late) / statistics.median(early)

        trajectory = runner.new_session(
            "resume me", engine="trivial", settings=RunSettings(max_rounds=10_000)
        )
        for _ in range(200):
            runner.advance(trajectory)
        resumes = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fresh = Runner(Store(runner.store.url)).open(trajectory.session.id)
            Runner(runner.store).advance(fresh)
            resumes.append(time.perf_counter() - start)

    print("| measure | value |")
    print("|---|---|")
    print(f"| stage 1 (median of {args.repeats}) | {statistics.median(early) * 1000:.2f} ms |")
    print(f"| stage 100 (median of {args.repeats}) | {statistics.median(late) * 1000:.2f} ms |")
    print(f"| t(stage 100) / t(stage 1) | {ratio:.3f} (target ≤ 1.1) |")
    print(
        f"| resume a 200-stage session (open + next stage, median) | {statistics.median(resumes) * 1000:.1f} ms |"
    )


if __name__ == "__main__":
    main()
