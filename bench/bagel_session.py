"""The bagel engine on a tiny real BAGEL (CPU): stage latencies, kept-context bytes, fork cost, and the
worker's overhead against the same requests run in process.

    .venv/bin/python bench/bagel_session.py [--repeats 3] [--json out.json]

Builds BAGEL's test environment and a tiny random snapshot (tests/kits/bagel_kit.py), then:
1. cold start: the worker's process start (to its hello) and the model load;
2. a warm-up session, then `repeats` sessions of plan → sketch (64², 4 timesteps) → inspect →
   a person's refine (BAGEL draws it at 512², the size it resized the sketch to) through the runner;
   per stage the engine's wall time (the runner's store commit excluded) and the bytes of the context
   it kept; every request the engine sent is recorded;
3. a fork at each stage k: the model calls, prefills and latency of the stage after it;
4. bench/bagel_inprocess.py replays the recorded requests in BAGEL's environment through the worker's
   own request handler in one process (no pipes, no second process, no PNG round trip of replies)
   and times each stage; the difference is the worker's overhead (target ≤ 5 % + 20 ms per stage).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PARAMS = {
    "num_timesteps": 4,
    "image_size": 64,
    "preview_every": 1,
    "max_think_tokens": 24,
    "cfg_interval": [0.0, 1.0],
}
STAGES = ("plan", "sketch", "inspect", "refine")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from studio import engines
    from studio.core.domain import RunSettings
    from studio.engines.bagel.client import WorkerClient
    from studio.runner import Runner
    from studio.store import Store
    from tests.kits import bagel_kit

    tmp = Path(tempfile.mkdtemp(prefix="bagel-bench-"))
    python = bagel_kit.bagel_python()
    snapshot = bagel_kit.build_snapshot(python, tmp / "snapshot")
    engine = bagel_kit.make_engine(python, snapshot, cache_gb=1.0)
    engines.register("bagel-bench", lambda: engine)

    log: list[dict] = []  # the current stage's requests
    original = WorkerClient.request

    # the current stage's time inside the worker's request handler (same process, same moment)
    busy = [0.0]

    def recording(self, op, ctx, doing, blobs=(), **fields):
        if op not in ("stats",):
            log.append({"op": op, **fields, "blobs": [base64.b64encode(b).decode() for b in blobs]})
        header, data = original(self, op, ctx, doing, blobs, **fields)
        busy[0] += header.get("busy_s", 0.0)
        return header, data

    WorkerClient.request = recording
    started = time.perf_counter()
    client = WorkerClient(python, extra_path=(str(bagel_kit.STANDINS),))
    client.start()
    hello_s = time.perf_counter() - started
    client.close()
    t0 = time.perf_counter()
    engine.worker()
    cold = {
        "process_start_to_hello_s": round(hello_s, 3),
        "start_and_load_s": round(time.perf_counter() - t0, 3),
    }

    timed: dict[str, list[float]] = {s: [] for s in STAGES}
    handler: dict[str, list[float]] = {s: [] for s in STAGES}
    recorded: list[dict] = []
    sizes: list[dict] = []

    def wrap(name):
        method = getattr(engine, name)

        def call(*a, **k):
            log.clear()
            busy[0] = 0.0
            t = time.perf_counter()
            result = method(*a, **k)
            timed[name].append(time.perf_counter() - t)
            handler[name].append(busy[0])
            recorded.append({"stage": name, "requests": list(log)})
            return result

        return call

    for name in STAGES:
        setattr(engine, name, wrap(name))
    runner = Runner(Store(data_dir=tmp / "data"))
    sessions = []
    for i in range(args.repeats + 1):  # the first is a warm-up (first calls pay one-off costs)
        t = runner.new_session(
            "a red cup left of a blue clock",
            engine="bagel-bench",
            seed=7 + i,
            settings=RunSettings(max_rounds=3, engine_params=PARAMS),
        )
        kept = []
        for _ in range(3):
            runner.advance(t)
            kept.append(engine.stats()["sizes"][-1])
        runner.refine_with(t, t.head().id, "make the cup red")
        kept.append(engine.stats()["sizes"][-1])
        sizes.append(dict(zip(STAGES, kept)))
        sessions.append(t)
        if i == 0:
            for name in STAGES:
                timed[name].clear()
                handler[name].clear()
            warm_records = len(recorded)
    session_records = recorded[warm_records:]

    # A fork at each stage k of the last session, then one stage: what it costs (worker's cache as it is).
    t = sessions[-1]
    forks = []
    for step in list(t.branch()):
        before, prefilled = dict(engine.calls), dict(engine.prefilled)
        runner.fork(t, step.id)
        t1 = time.perf_counter()
        nxt = runner.advance(t)
        forks.append(
            {
                "fork_at": step.stage.value,
                "next_stage": nxt.stage.value,
                "seconds": round(time.perf_counter() - t1, 3),
                "gen_text": engine.calls["gen_text"] - before["gen_text"],
                "gen_image": engine.calls["gen_image"] - before["gen_image"],
                "prefill_requests": engine.calls["prefill"] - before["prefill"],
                "prefilled": {k: engine.prefilled[k] - prefilled[k] for k in prefilled},
            }
        )
    engine.close()
    WorkerClient.request = original

    replay = tmp / "requests.json"
    replay.write_text(
        json.dumps(
            {
                "snapshot": str(snapshot),
                "repo": str(bagel_kit.CLONE),
                "sessions": args.repeats,
                "records": session_records,
            }
        )
    )
    done = subprocess.run(
        [python, str(ROOT / "bench" / "bagel_inprocess.py"), str(replay)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{bagel_kit.STANDINS}"},
        timeout=1800,
    )
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    inproc = json.loads(done.stdout.strip().splitlines()[-1])

    out = {
        "cold_start": {**cold, "in_process_load_s": inproc["load_s"]},
        "stages": {},
        "forks": forks,
        "kept_context_bytes": sizes[-1],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    for name in STAGES:
        worker = statistics.median(timed[name])
        local = statistics.median(inproc["stages"][name])
        # The same stage's model work measured inside the worker at the same moment: immune to other load.
        pairs = [w - h for w, h in zip(timed[name], handler[name])]
        over = statistics.median(pairs)
        inside = statistics.median(handler[name])
        out["stages"][name] = {
            "worker_s": round(worker, 4),
            "in_process_replay_s": round(local, 4),
            "handler_s": round(inside, 4),
            "overhead_ms": round(over * 1000, 1),
            "overhead_pct": round(100 * over / inside, 2),
            "within_target": over <= 0.05 * inside + 0.020,
        }
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
