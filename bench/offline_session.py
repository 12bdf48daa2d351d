"""CPU time of whole offline-engine sessions through the real Runner and Store.

A three-group prompt plans, sketches and inspects three rounds (plus any refines its draft
mistakes call for) and finishes. Imports and one warm-up session are not counted; each session's
`time.process_time()` is (PNG encoding and SQLite writes included).

Usage: .venv/bin/python bench/offline_session.py [--sessions 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.domain import RunSettings, Stage  # noqa: E402
from studio.runner import Runner  # noqa: E402
from studio.store import Store  # noqa: E402

PROMPT = "two red apples below a blue cup and a green bench left of the cup"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--prompt", default=PROMPT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(Store(data_dir=Path(tmp)))
        runner.run(runner.new_session(args.prompt, seed=999, settings=RunSettings()))  # warm-up
        cpu, stages, refines = [], [], []
        for seed in range(args.sessions):
            start = time.process_time()
            trajectory = runner.new_session(args.prompt, seed=seed, settings=RunSettings())
            runner.run(trajectory)
            cpu.append(time.process_time() - start)
            branch = trajectory.branch()
            stages.append(len(branch))
            refines.append(sum(s.stage is Stage.REFINE for s in branch))
        runner.store.close()
    print(f"prompt: {args.prompt!r}; {args.sessions} sessions through Runner + Store")
    print(
        f"CPU per session: median {statistics.median(cpu) * 1000:.0f} ms, max {max(cpu) * 1000:.0f} ms; "
        f"stages per session: median {statistics.median(stages):.0f} (max {max(stages)}); "
        f"refines: {sum(refines)} in all"
    )


if __name__ == "__main__":
    main()
