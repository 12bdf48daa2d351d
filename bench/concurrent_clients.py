"""8 concurrent clients × 25 stages against one studio server: no step may be lost or duplicated.

Starts the real studio page in-process (Gradio queue with 4 jobs at once, as `app.py` runs it) on a
benchmark engine that takes a few milliseconds per stage, then 8 `gradio_client` clients, each in its
own thread, create a session and press Step 25 times, passing back the version each reply carries.
Afterwards every session is read back from the database:

- lost steps: Step replies that claimed a stage but whose step is not in the session;
- duplicated steps: steps beyond the 25 asked for, or two children of one step (a stage run twice).

Both must be 0; each session must be one chain of 25 steps with versions that rose by one per Step.

Usage: .venv/bin/python bench/concurrent_clients.py [--clients 8] [--stages 25] [--stage-ms 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from PIL import Image  # noqa: E402

from studio import engines  # noqa: E402
from studio.core.domain import Check  # noqa: E402
from studio.engines.base import Engine, ImageResult, InspectResult, PlanResult, RefineResult  # noqa: E402
from studio.runner import Runner  # noqa: E402
from studio.store import Store  # noqa: E402

ENGINE = "bench-busy"


class BusyEngine(Engine):
    """Plans never complete; each stage sleeps a little, as a model call would."""

    name = ENGINE
    label = "benchmark engine (sleeps per stage)"
    stage_s = 0.005

    def _work(self, ctx):
        ctx.progress(0.5, "working")
        time.sleep(self.stage_s)

    def plan(self, ctx):
        self._work(ctx)
        return PlanResult(f"step {len(ctx.branch)}", "scene", complete=False)

    def sketch(self, ctx):
        self._work(ctx)
        return ImageResult(Image.new("RGB", (64, 64), (ctx.seed % 256, 80, 160)), sampling_steps=1)

    def inspect(self, ctx):
        self._work(ctx)
        return InspectResult(Check(True, "ok"), Check(True, "ok"))

    def refine(self, ctx, instruction, region):
        self._work(ctx)
        return RefineResult(instruction or "fix", Image.new("RGB", (64, 64)))


def client_run(
    url: str, index: int, stages: int, results: dict, errors: list, barrier: threading.Barrier
) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False, download_files=False)
        view = client.predict(
            f"client {index}: a cup and a bowl",
            ENGINE,
            index,
            False,
            16,
            "process",
            "{}",
            api_name="/new_session",
        )
        session_id, versions, replies, latencies = (
            view["session"]["id"],
            [view["session"]["version"]],
            [],
            [],
        )
        barrier.wait()  # every client starts stepping at once
        for _ in range(stages):
            start = time.perf_counter()
            view = client.predict(session_id, versions[-1], api_name="/step")
            latencies.append(time.perf_counter() - start)
            replies.append(view["note"])
            versions.append(view["session"]["version"])
        results[index] = {
            "session": session_id,
            "versions": versions,
            "replies": replies,
            "latencies": latencies,
        }
    except Exception as error:  # noqa: BLE001 — reported, and counted as a failure below
        errors.append(f"client {index}: {type(error).__name__}: {error}")
        try:
            barrier.abort()
        except threading.BrokenBarrierError:
            pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--stages", type=int, default=25)
    parser.add_argument(
        "--stage-ms", type=float, default=5.0, help="time the engine spends per stage"
    )
    parser.add_argument(
        "--max-jobs", type=int, default=4, help="the Gradio queue's jobs at once (app.py's default)"
    )
    args = parser.parse_args()
    BusyEngine.stage_s = args.stage_ms / 1000
    engines.register(ENGINE, BusyEngine)
    from studio.ui import build_ui, launch_options

    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(folder) / ".gradio"))
        store = Store(data_dir=folder)
        demo = build_ui(Runner(store), ENGINE)
        demo.queue(default_concurrency_limit=args.max_jobs).launch(
            server_name="127.0.0.1",
            server_port=None,
            prevent_thread_lock=True,
            quiet=True,
            **launch_options(demo),
        )
        results: dict[int, dict] = {}
        errors: list[str] = []
        barrier = threading.Barrier(args.clients)
        threads = [
            threading.Thread(
                target=client_run, args=(demo.local_url, i, args.stages, results, errors, barrier)
            )
            for i in range(args.clients)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        demo.close()

        lost = duplicated = broken = 0
        for _index, result in sorted(results.items()):
            trajectory = store.load(result["session"])
            steps = list(trajectory.steps.values())
            claimed = sum("paused after" in reply for reply in result["replies"])
            lost += max(0, claimed - len(steps)) + (args.stages - claimed)
            duplicated += max(0, len(steps) - args.stages)
            duplicated += sum(max(0, len(trajectory.children(s.id)) - 1) for s in steps)
            chain = trajectory.branch()
            versions = result["versions"]
            if len(chain) != len(steps) or any(b - a != 1 for a, b in zip(versions, versions[1:])):
                broken += 1
        store.close()

    latencies = [x for r in results.values() for x in r["latencies"]]
    total = args.clients * args.stages
    print(
        f"{args.clients} clients × {args.stages} stages against one studio server "
        f"(Gradio queue: {args.max_jobs} jobs at once; {args.stage_ms:g} ms of engine work per stage)\n"
    )
    print("| measure | value |")
    print("|---|---|")
    print(f"| clients that finished | {len(results)} of {args.clients} |")
    print(f"| steps committed / asked | {total - lost - len(errors) * args.stages} / {total} |")
    print(f"| lost steps | {lost + (args.clients - len(results)) * args.stages} |")
    print(f"| duplicated steps | {duplicated} |")
    print(f"| sessions not a single chain, or with skipped versions | {broken} |")
    if latencies:
        print(
            f"| Step round trip (median / max) | {statistics.median(latencies) * 1000:.0f} ms / "
            f"{max(latencies) * 1000:.0f} ms |"
        )
    print(f"| all clients, wall | {wall:.1f} s ({total / wall:.0f} steps/s) |")
    for error in errors:
        print(f"\nerror: {error}")
    if errors or lost or duplicated or broken or len(results) != args.clients:
        sys.exit(1)


if __name__ == "__main__":
    main()
