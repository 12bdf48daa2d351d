"""Engines for the batch tests, and `python -m tests.kits.batch_engines …`: the `studio` command with them
registered, which is what the multi-process tests start as workers (a subprocess cannot see an engine
registered in the test process).

- `slow`: the offline engine, sleeping STUDIO_TEST_STAGE_S seconds (default 0.3) before each stage, so
  a worker can be killed while it holds an item whose session has committed stages.
- `flaky`: the offline engine, failing the plan of a prompt containing "FAIL" (a RuntimeError, as an
  engine bug would) unless STUDIO_TEST_FIXED is set.
"""

from __future__ import annotations

import os
import time

from studio import engines
from studio.engines.offline import OfflineEngine


class Slow(OfflineEngine):
    label = "offline engine, slowed down for tests"

    def __init__(self, stage_s: float | None = None):
        super().__init__()
        self.stage_s = (
            float(os.environ.get("STUDIO_TEST_STAGE_S", "0.3")) if stage_s is None else stage_s
        )

    def _wait(self) -> None:
        time.sleep(self.stage_s)

    def plan(self, ctx):
        self._wait()
        return super().plan(ctx)

    def sketch(self, ctx):
        self._wait()
        return super().sketch(ctx)

    def inspect(self, ctx):
        self._wait()
        return super().inspect(ctx)


class Flaky(OfflineEngine):
    label = "offline engine that fails prompts saying FAIL"

    def plan(self, ctx):
        if "FAIL" in ctx.session.prompt and not os.environ.get("STUDIO_TEST_FIXED"):
            raise RuntimeError("the model ran out of patience")
        return super().plan(ctx)


def register() -> None:
    engines.register("slow", Slow)
    engines.register("flaky", Flaky)


if __name__ == "__main__":
    register()
    from studio.cli import main

    main()
