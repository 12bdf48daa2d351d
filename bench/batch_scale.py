"""`studio batch` at scale: worker throughput, the cost of a claim, and dynamic vs static balancing.

Three measurements (docs/benchmarks.md, "Batches"):

  throughput  N offline-engine sessions run (a) in one process by a plain Runner loop, (b) by
              `studio batch` with 1 worker, (c) with 2 workers (two processes, RANK 0/1). Wall time
              of the whole command, process start included, and the batch's own span from the
              database (first claim to last finish), which leaves start-up out.
  claim       per-session cost of the work table alone: claim + finish (the two writes every session
              pays; a lease renewal, one more write, happens every lease/3 = 20 s of a long session
              and is timed apart), one worker, no session run, on SQLite (WAL file) and PostgreSQL (a throwaway local
              server from tests/kits/pg.py with fsync ON, i.e. durable commits).
  simulate    a discrete-event simulation of W workers (8, 64) over sessions whose stage count and
              stage times are skewed (rounds 1-6, lognormal stage times, a few very slow sessions),
              claiming dynamically (next free worker takes the next item, paying the measured claim
              cost) vs a static split (item i on worker i mod W). Reported as makespan / ideal, where
              ideal = max(total work / W, longest session).

Usage: .venv/bin/python bench/batch_scale.py [throughput|claim|simulate|all] [--sessions 40]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "a red apple",
    "two cats on a sofa",
    "a dog left of a cup",
    "a blue car below a green tree",
    "three yellow birds",
    "a bench right of a bicycle",
    "a purple umbrella",
    "two clocks and a vase",
]


def _prompt_file(folder: Path) -> Path:
    path = folder / "prompts.txt"
    path.write_text("\n".join(PROMPTS) + "\n")
    return path


def throughput(sessions: int) -> None:
    from studio.batch.workqueue import WorkQueue
    from studio.store import Store

    samples = max(1, sessions // len(PROMPTS))
    sessions = samples * len(PROMPTS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prompts = _prompt_file(folder)
        started = time.perf_counter()
        loop = subprocess.run(
            [
                sys.executable,
                "-c",
                (  # the same sessions and seeds, one Runner, no work table
                    "import sys, time; sys.path.insert(0, %r)\n"
                    "from studio.runner.runner import Runner; from studio.store.store import Store; "
                    "from studio.core.domain import RunSettings\n"
                    "from studio.batch.worker import sample_seed\n"
                    "r = Runner(Store(data_dir=%r)); t0 = time.perf_counter()\n"
                    "for i, p in enumerate(open(%r).read().splitlines()):\n"
                    "    for s in range(%d):\n"
                    "        r.run(r.new_session(p, 'offline', sample_seed(0, i, s), RunSettings()))\n"
                    "print(time.perf_counter() - t0)"
                )
                % (str(ROOT), str(folder / "loop"), str(prompts), samples),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        loop_wall = time.perf_counter() - started
        rows = [("in-process loop", loop_wall, float(loop.stdout.split()[-1]))]
        for workers in (1, 2):
            data = folder / f"batch{workers}"
            command = [
                sys.executable,
                "-m",
                "studio",
                "batch",
                str(prompts),
                "--name",
                "b",
                "--samples",
                str(samples),
                "--data-dir",
                str(data),
            ]
            started = time.perf_counter()
            procs = [
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    stderr=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    env=dict(os.environ, RANK=str(n), LOCAL_RANK=str(n), WORLD_SIZE=str(workers)),
                )
                for n in range(workers)
            ]
            assert all(p.wait() == 0 for p in procs)
            wall = time.perf_counter() - started
            store = Store(data_dir=data)
            items = WorkQueue(store.db, "b").items()
            assert len(items) == sessions and {i["status"] for i in items} == {"done"}
            span = max(i["finished_at"] for i in items) - min(i["started_at"] for i in items)
            store.close()
            rows.append((f"studio batch, {workers} worker(s)", wall, span))
        base = rows[0][2]
        print(f"{sessions} offline sessions (process mode, 6 rounds max), {os.cpu_count()} cores")
        print(f"{'':32} {'wall s':>8} {'span s':>8} {'sessions/s':>11} {'vs loop':>8}")
        for name, wall, span in rows:
            print(f"{name:32} {wall:8.2f} {span:8.2f} {sessions / span:11.1f} {base / span:7.2f}×")


def _claim_cost(url: str | None, data: Path, items: int) -> tuple[float, float, float]:
    from studio.batch.workqueue import WorkQueue
    from studio.store import Store

    store = Store(url, data)
    queue = WorkQueue(store.db, "claims", worker="bench", lease_s=60)
    queue.ensure(
        {"bench": 1},
        [
            dict(
                mode="process",
                prompt_index=n,
                sample=0,
                prompt=f"p{n}",
                row={"prompt": f"p{n}"},
                seed=n,
            )
            for n in range(items)
        ],
    )
    costs, renewals = [], []
    while True:
        start = time.perf_counter()
        item = queue.claim()
        if item is None:
            break
        middle = time.perf_counter()
        queue.renew(item)
        renewed = time.perf_counter()
        queue.finish(item)
        costs.append(middle - start + time.perf_counter() - renewed)
        renewals.append(renewed - middle)
    store.close()
    costs.sort()
    return (
        statistics.median(costs) * 1000,
        costs[int(len(costs) * 0.95)] * 1000,
        statistics.median(renewals) * 1000,
    )


def claim(items: int) -> None:
    from tests.kits.pg import Cluster

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _claim_cost(None, Path(tmp) / "sqlite", items)
        cluster = Cluster(fast=False)  # durable commits, as a real server
        try:
            pg = _claim_cost(cluster.url, Path(tmp) / "pg", items)
        finally:
            cluster.stop()
    print(
        f"claim + finish per session over {items} items (ms): SQLite median {sqlite[0]:.2f} p95 {sqlite[1]:.2f}; "
        f"PostgreSQL median {pg[0]:.2f} p95 {pg[1]:.2f}. One lease renewal: SQLite {sqlite[2]:.2f}, "
        f"PostgreSQL {pg[2]:.2f}"
    )


def _session_times(rng: random.Random, count: int) -> list[float]:
    """Seconds per session: 3 stages per round (plan, sketch, inspect) + final, 1-6 rounds drawn with
    a skew towards short sessions, each stage lognormal around 1 s, and 2 % of sessions 10× slower
    (a huge image, a model falling back to a slow path)."""
    times = []
    for _ in range(count):
        rounds = min(6, 1 + int(rng.expovariate(0.6)))
        work = sum(rng.lognormvariate(0.0, 0.6) for _ in range(3 * rounds + 1))
        times.append(work * (10 if rng.random() < 0.02 else 1))
    return times


def simulate(claim_s: float = 0.005, seeds: int = 5) -> None:
    import heapq

    print(
        f"makespan / ideal (1.00 = perfect), mean of {seeds} draws; dynamic claims cost {claim_s * 1000:.0f} ms each"
    )
    print(f"{'workers':>8} {'sessions':>9} {'dynamic':>8} {'static':>8}")
    for workers in (8, 64):
        for per_worker in (4, 16):
            count = workers * per_worker
            dynamic, static = [], []
            for seed in range(seeds):
                times = _session_times(random.Random(seed), count)
                ideal = max(sum(times) / workers, max(times))
                free = [0.0] * workers  # when each worker is next free
                heapq.heapify(free)
                for t in times:  # the next free worker claims the next item
                    heapq.heappush(free, heapq.heappop(free) + claim_s + t)
                dynamic.append(max(free) / ideal)
                loads = [sum(times[w::workers]) for w in range(workers)]
                static.append(max(loads) / ideal)
            print(
                f"{workers:8} {count:9} {statistics.mean(dynamic):8.2f} {statistics.mean(static):8.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "what", nargs="?", default="all", choices=("throughput", "claim", "simulate", "all")
    )
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--claims", type=int, default=500)
    args = parser.parse_args()
    if args.what in ("throughput", "all"):
        throughput(args.sessions)
    if args.what in ("claim", "all"):
        claim(args.claims)
    if args.what in ("simulate", "all"):
        simulate()


if __name__ == "__main__":
    main()
