"""Fork from stage k: how many model calls does the next stage cost? (Must be 1, at any k.)

A fork moves the session's head to step k; the next stage then runs on the branch root → k. Nothing
before k may be replayed: the engine sees the branch as data. For k across a long session of a
call-counting engine, and for every stage of a real offline-engine session, this forks (also from a
freshly reopened store, as after a restart), advances once, and counts the engine calls and the time.

Usage: .venv/bin/python bench/fork_calls.py [--stages 200]
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

from core_loop import TrivialEngine  # noqa: E402

from studio import engines  # noqa: E402
from studio.core.domain import RunSettings  # noqa: E402
from studio.engines.offline import OfflineEngine  # noqa: E402
from studio.runner import Runner  # noqa: E402
from studio.store import Store  # noqa: E402


class Counting:
    """Counts every call to an engine's stage methods."""

    def __init__(self):
        self.calls = 0

    def wrap(self, engine):
        for method in ("plan", "sketch", "inspect", "refine", "finalize"):
            original = getattr(engine, method)

            def counted(*args, _original=original, **kwargs):
                self.calls += 1
                return _original(*args, **kwargs)

            setattr(engine, method, counted)
        return engine


def fork_and_advance(
    runner: Runner, session_id: str, step_id: str, counter: Counting, reopen: bool
):
    trajectory = (
        Runner(Store(runner.store.url)).open(session_id) if reopen else runner.open(session_id)
    )
    before = counter.calls
    start = time.perf_counter()
    runner.fork(trajectory, step_id)
    runner.advance(trajectory)
    return counter.calls - before, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", type=int, default=200)
    args = parser.parse_args()
    counter = Counting()
    trivial = counter.wrap(TrivialEngine())
    offline = counter.wrap(OfflineEngine())
    engines.register("bench-trivial-counted", lambda: trivial)
    engines.register("bench-offline-counted", lambda: offline)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        runner = Runner(Store(data_dir=folder))
        long = runner.new_session(
            "a long session",
            "bench-trivial-counted",
            seed=0,
            settings=RunSettings(max_rounds=10_000),
        )
        for _ in range(args.stages):
            runner.advance(long)
        branch = long.branch()
        for k in sorted(
            {1, 2, 10, 50, 100, args.stages // 2, args.stages - 1} & set(range(1, args.stages))
        ):
            for reopen in (False, True):
                calls, seconds = fork_and_advance(
                    runner, long.session.id, branch[k - 1].id, counter, reopen
                )
                rows.append(
                    (f"trivial engine, {args.stages}-stage session", k, reopen, calls, seconds)
                )

        real = runner.new_session(
            "two red apples below a blue cup", "bench-offline-counted", seed=4
        )
        runner.run(real)
        real_branch = real.branch()
        offline_calls, offline_times = [], []
        for k, step in enumerate(real_branch, start=1):
            calls, seconds = fork_and_advance(
                runner, real.session.id, step.id, counter, reopen=k % 2 == 0
            )
            if step.stage.value != "final":  # nothing follows a final step
                offline_calls.append(calls)
                offline_times.append(seconds)
        runner.store.close()

    print(
        "| session | fork at stage k | reopened store | model calls for the next stage | fork + next stage |"
    )
    print("|---|---:|---|---:|---:|")
    for name, k, reopen, calls, seconds in rows:
        print(f"| {name} | {k} | {'yes' if reopen else 'no'} | {calls} | {seconds * 1000:.1f} ms |")
    print(
        f"| offline engine, {len(real_branch)}-stage session | every k (1–{len(real_branch) - 1}) | alternately | "
        f"{min(offline_calls)}–{max(offline_calls)} | {statistics.median(offline_times) * 1000:.1f} ms (median) |"
    )
    worst = max([r[3] for r in rows] + offline_calls)
    print(f"\nmost model calls after any fork: {worst} (must be 1)")
    if worst != 1:
        sys.exit(1)


if __name__ == "__main__":
    main()
