"""First preview latency as a share of the sketch's generation time.

The latency is what a person waits after pressing Step on a sketch before the first live preview can
be shown: from the runner's "started" event to the first progress event carrying a preview image
(the listener the UI and CLI use), and through the studio page's stream (`Studio.step`, the views the
page's Step receives) to the first view that carries the preview. The share divides
it by the time the engine spent generating the sketch. Measured for:

- a tiny random-weight StableDiffusionPipeline (real diffusers code; skipped without diffusers),
  previewing each denoising step as a latent→RGB view or a full VAE decode;
- the offline engine, which previews after each object it draws.

Usage: .venv/bin/python bench/preview_latency.py [--repeats 5] [--steps 20] [--no-ui]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from studio import engines  # noqa: E402
from studio.core.domain import Mode, RunSettings, Stage  # noqa: E402
from studio.engines.offline import OfflineEngine  # noqa: E402
from studio.runner import Runner  # noqa: E402
from studio.store import Store  # noqa: E402

OFFLINE_PROMPT = (
    "three red apples, two blue cups and a green bottle"  # one sketch draws six objects
)


class TimedOffline(OfflineEngine):
    """The offline engine, timing its own sketches."""

    name = "bench-offline-timed"

    def __init__(self):
        self.sketch_seconds: list[float] = []

    def sketch(self, ctx):
        start = time.perf_counter()
        result = super().sketch(ctx)
        self.sketch_seconds.append(time.perf_counter() - start)
        return result


def runner_latency(
    runner: Runner, engine, prompt: str, repeats: int, mode: Mode = Mode.PROCESS
) -> list[tuple]:
    """(share, latency s, generation s) per sketch through the runner's listener; share = latency / generation."""
    shares = []
    for k in range(repeats + 1):  # the first sketch warms caches up and is not counted
        trajectory = runner.new_session(
            prompt, engine.name, seed=k, settings=RunSettings(mode=mode)
        )
        runner.advance(trajectory)  # plan
        marks: dict[str, float] = {}

        def listener(event, marks=marks):
            now = time.perf_counter()
            if event.kind == "started":
                marks["started"] = now
            elif event.kind == "progress" and event.progress.preview is not None:
                marks.setdefault("preview", now)

        step = runner.advance(trajectory, listener)
        assert step.stage is Stage.SKETCH and "preview" in marks, "no preview was reported"
        if k:
            latency = marks["preview"] - marks["started"]
            shares.append((latency / engine.sketch_seconds[-1], latency, engine.sketch_seconds[-1]))
    return shares


def ui_latency(data_dir: Path, engine, prompt: str, repeats: int) -> list[tuple]:
    """The same through the studio's page path: the streamed views the page's Step receives (`Studio.step`).

    The page gets these views over Gradio's stream; this measures up to the first view that carries a
    preview, without the browser (bench/page_latency.py measures clicks in Chromium).
    """
    from studio.ui.actions import Studio

    store = Store(data_dir=data_dir)
    studio = Studio(Runner(store))
    shares = []
    try:
        for k in range(repeats + 1):
            view = studio.new_session(prompt, engine.name, k, False, 6, "process", "{}")
            sid = view.session["id"]
            view = list(studio.step(sid, view.session["version"]))[-1]  # plan
            start = time.perf_counter()
            first = None
            for update in studio.step(sid, view.session["version"]):  # sketch, streamed
                if first is None and update.preview:
                    first = time.perf_counter()
            assert first is not None, "no preview reached the page's stream"
            if k:
                shares.append(
                    (
                        (first - start) / engine.sketch_seconds[-1],
                        first - start,
                        engine.sketch_seconds[-1],
                    )
                )
    finally:
        store.close()
    return shares


def row(name: str, path: str, measured: list[tuple]) -> str:
    shares = [m[0] for m in measured]
    latency, generation = (statistics.median(m[i] for m in measured) * 1000 for i in (1, 2))
    return (
        f"| {name} | {path} | {statistics.median(shares):.3f} | {min(shares):.3f}–{max(shares):.3f} | "
        f"{latency:.0f} ms | {generation:.0f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--steps", type=int, default=20, help="denoising steps of the tiny diffusers sketch"
    )
    parser.add_argument(
        "--no-ui", action="store_true", help="skip the measurements through the studio page"
    )
    args = parser.parse_args()
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as folder:
        runner = Runner(Store(data_dir=Path(folder) / "runner"))
        offline = TimedOffline()
        engines.register(offline.name, lambda: offline)
        rows.append(
            row(
                "offline engine (preview after each object)",
                "runner listener",
                runner_latency(runner, offline, OFFLINE_PROMPT, args.repeats, Mode.SINGLE),
            )
        )
        if not args.no_ui:
            rows.append(
                row(
                    "offline engine (preview after each object)",
                    "studio page stream (Studio.step)",
                    ui_latency(Path(folder) / "ui-offline", offline, OFFLINE_PROMPT, args.repeats),
                )
            )

        import tiny_sd

        why = tiny_sd.available()
        if why:
            notes.append(f"tiny diffusers pipeline skipped: {why}.")
        else:
            pipe = tiny_sd.build_pipeline()
            for preview in ("latent", "decode"):
                engine = tiny_sd.TinySDEngine(pipe, steps=args.steps, preview=preview)
                engine.name = f"bench-tiny-sd-{preview}"
                engines.register(engine.name, lambda engine=engine: engine)
                shown = "latent→RGB" if preview == "latent" else "VAE decode"
                label = f"tiny SD, {args.steps} steps, {shown} preview each step"
                rows.append(
                    row(
                        label,
                        "runner listener",
                        runner_latency(runner, engine, "a red apple", args.repeats),
                    )
                )
                if not args.no_ui and preview == "latent":
                    rows.append(
                        row(
                            label,
                            "studio page stream (Studio.step)",
                            ui_latency(
                                Path(folder) / f"ui-{preview}", engine, "a red apple", args.repeats
                            ),
                        )
                    )
        runner.store.close()
    print(
        f"first preview latency / sketch generation time (median and range of {args.repeats} sketches)\n"
    )
    print("| engine | measured at | share | range | first preview | generation |")
    print("|---|---|---:|---|---:|---:|")
    print("\n".join(rows))
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
