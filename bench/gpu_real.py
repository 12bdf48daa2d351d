"""gpu_check's real-checkpoint mode: each GPU engine with local weights, one session, asserted per stage.

    .venv/bin/python bench/gpu_check.py --real [--janus DIR] [--pipeline-toml FILE] [--only ...]

What runs (each engine only when its weights are on this machine; otherwise one JSON line says why it
was skipped):
- bagel:    STROKE_STUDIO_BAGEL_PYTHON, _REPO and _MODEL set (the worker in BAGEL's environment);
            image_size 512, num_timesteps 6 (5 denoising steps), a preview every step;
- janus:    --janus DIR or STROKE_STUDIO_JANUS_MODEL, a local folder (Janus-Pro-1B: one session);
- pipeline: --pipeline-toml FILE or STROKE_STUDIO_PIPELINE_CONFIG, with the sketcher at 512², 4 steps.
Each engine runs plan → sketch → inspect → a person's refine through the real runner and store.
Each stage prints one JSON line; an image stage asserts an image that is not uniform (a NaN decode
comes out flat), previews that are real VAE decodes (thumbnail-sized, not flat; the channel-view
fallback is latent-sized), the sampling steps used, and the peak GPU memory (BAGEL's from its
worker). The run must finish within 8 minutes. The exit status is 1 if any assertion failed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BUDGET_S = 8 * 60


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


IMAGE_STAGES = ("sketch", "refine")


def image_failures(image, previews: list, expected_steps: int | None, steps: int) -> list[str]:
    """What is wrong with one image stage's result (empty: nothing)."""
    from PIL import ImageStat

    from studio.engines.torch_support import PREVIEW_SIZE

    out = []
    if image is None:
        return ["no image"]
    if max(ImageStat.Stat(image.convert("RGB")).stddev) < 2.0:
        out.append("the image is uniform (a NaN or empty decode)")
    decoded = [
        p
        for p in previews
        if max(p.size) >= 0.9 * min(PREVIEW_SIZE, max(image.size))
        and max(ImageStat.Stat(p).stddev) >= 1.0
    ]
    if not previews:
        out.append("no previews")
    elif not decoded:
        out.append(
            f"no preview is a real decode ({len(previews)} previews of sizes {sorted({p.size for p in previews})})"
        )
    if expected_steps is not None and steps != expected_steps:
        out.append(f"{steps} sampling steps, expected {expected_steps}")
    elif steps <= 0:
        out.append("no sampling steps recorded")
    return out


def run_engine(
    name: str, engine, runner, params: dict, expected: dict[str, int | None], peak, reset=None
) -> list[dict]:
    """One session; a row (printed as a JSON line) per stage, with its failures."""
    from studio.core.domain import RunSettings
    from studio.engines import torch_support as ts
    from studio.runner import PausePolicy

    rows: list[dict] = []
    state: dict[str, Any] = {"previews": []}

    def listener(event):
        if event.kind == "started":
            (reset or ts.reset_peak_gpu_memory)()
            state.update(t=time.perf_counter(), previews=[])
        elif event.kind == "progress" and event.progress.preview is not None:
            state["previews"].append(event.progress.preview)
        elif event.kind == "committed":
            step = event.step
            stage = step.stage.value
            row = dict(
                engine=name,
                stage=stage,
                seconds=round(time.perf_counter() - state["t"], 2),
                sampling_steps=step.sampling_steps,
                previews=len(state["previews"]),
                peak_gib=peak(),
            )
            failures = []
            if stage in IMAGE_STAGES:
                image = runner.store.load_image(step.image) if step.image else None
                failures = image_failures(
                    image, state["previews"], expected.get(stage), step.sampling_steps
                )
            if _cuda() and not row["peak_gib"]:
                failures.append("no peak GPU memory recorded")
            row.update(ok=not failures, failures=failures)
            rows.append(row)
            print(json.dumps(row), flush=True)

    from studio import engines

    engines.register(name, lambda: engine)
    try:
        t = runner.new_session(
            "a red apple to the left of a blue cup",
            engine=name,
            seed=1,
            settings=RunSettings(max_rounds=2, engine_params=params),
        )
        runner.run(t, pause=PausePolicy.AT_INSPECT, listener=listener)
        runner.refine_with(
            t, t.head().id, "make the cup blue and move it to the right", listener=listener
        )
    except Exception as exc:  # the stage that failed is the finding: report it as a failed row
        row = dict(engine=name, stage="error", ok=False, failures=[f"{type(exc).__name__}: {exc}"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    finally:
        engine.close()
        engines.unregister(name)
    done = [r["stage"] for r in rows]
    if done[:4] != ["plan", "sketch", "inspect", "refine"] and "error" not in done:
        rows.append(dict(engine=name, stage="session", ok=False, failures=[f"stages run: {done}"]))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _local(path: str | None) -> Path | None:
    return Path(path).expanduser() if path and Path(path).expanduser().is_dir() else None


def main(args) -> int:
    from studio.engines import torch_support as ts
    from studio.runner import Runner
    from studio.store import Store

    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    device = "cuda" if _cuda() else "cpu"
    gpu_peak = lambda: round(ts.peak_gpu_memory()[0], 2)  # noqa: E731
    rows: list[dict] = []
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-real-") as tmp:
        runner = Runner(Store(data_dir=Path(tmp) / "data"))
        if "bagel" in wanted:
            if all(os.environ.get(f"STROKE_STUDIO_BAGEL_{k}") for k in ("PYTHON", "REPO", "MODEL")):
                from studio.engines.bagel import BagelEngine

                bagel = BagelEngine(extra_path=tuple(args.bagel_path or ()))
                params = {
                    "image_size": args.bagel_size,
                    "num_timesteps": 6,
                    "preview_every": 1,
                    "max_think_tokens": 64,
                    "temperature": 0.0,
                }
                steps = params["num_timesteps"] - 1
                rows += run_engine(
                    "bagel",
                    bagel,
                    runner,
                    params,
                    {"sketch": steps, "refine": steps},
                    lambda: bagel.stats().get("peak_gib", 0.0),
                    lambda: bagel.stats(reset_peak=True),
                )
            else:
                rows.append(_skip("bagel", "set STROKE_STUDIO_BAGEL_PYTHON, _REPO and _MODEL"))
        if "janus" in wanted:
            folder = _local(args.janus or os.environ.get("STROKE_STUDIO_JANUS_MODEL"))
            if folder:
                from studio.engines.janus import JanusEngine

                janus = JanusEngine(str(folder), device=device)
                rows += run_engine(
                    "janus",
                    janus,
                    runner,
                    {"max_think_tokens": 64, "temperature": 0.0},
                    {},
                    gpu_peak,
                )
            else:
                rows.append(_skip("janus", "pass --janus DIR (a local Janus-Pro-1B folder)"))
        if "pipeline" in wanted:
            toml = args.pipeline_toml or os.environ.get("STROKE_STUDIO_PIPELINE_CONFIG")
            if toml and Path(toml).is_file():
                from studio.engines.pipeline import PipelineEngine

                config = ts.read_toml(Path(toml))
                config.setdefault("sketcher", {}).update(
                    width=args.pipeline_size, height=args.pipeline_size
                )
                pipeline = PipelineEngine(config)
                rows += run_engine(
                    "pipeline",
                    pipeline,
                    runner,
                    {"steps": 4, "max_think_tokens": 64, "preview_every": 1},
                    {"sketch": 4},
                    gpu_peak,
                )
            else:
                rows.append(
                    _skip("pipeline", "pass --pipeline-toml FILE (e.g. assets/pipeline-24gb.toml)")
                )
        runner.store.close()
    total = time.perf_counter() - began
    summary = dict(
        engine="all",
        stage="total",
        seconds=round(total, 1),
        ok=total <= BUDGET_S,
        failures=[] if total <= BUDGET_S else [f"took {total:.0f} s, over the {BUDGET_S} s budget"],
    )
    rows.append(summary)
    print(json.dumps(summary), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r.get("ok", True) for r in rows) else 1


def _skip(engine: str, why: str) -> dict:
    row = dict(engine=engine, skipped=why)
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":  # pragma: no cover - run through gpu_check.py --real
    sys.exit("run: bench/gpu_check.py --real")
