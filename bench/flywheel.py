"""The flywheel measured: does training on steered sessions teach the person's corrections?

    .venv/bin/python bench/flywheel.py [--sessions 24] [--held-out 8] [--steps 10] [--out DIR]

Steered sessions (the offline engine, each corrected by a person: an override with a critique and the
person's own refine, or a rejected sketch with its reason) are split by session into a training set
and a held-out set, each exported as `unified_edit` (edits plus the verdicts as text targets). A tiny
random BAGEL (its own classes, FLUX-size autoencoder) is trained on the training export with
`studio train bagel` (BAGEL's trainer, its CPU patches as in the tests). Measured, on the held-out
export, before and after:

- the loss of the person's targets: BAGEL's own training loss (ce on the verdict texts, mse on the
  corrected images) from one step at learning rate 0 on the held-out export, from the base and from
  the trained snapshot (the same data, seed and first batch, so the numbers compare);
- how often the engine's answers parse in the protocol: the bagel engine, on the base and on the
  trained snapshot, runs sessions on held-out prompts; the share of its verdicts the engine's own
  reader reads (an unreadable one is recorded with its error).

A random 700k-parameter model learns the format's tokens, not pictures: this shows the loop closes and
moves the loss of the held-out corrections, not that the model got better at drawing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio import engines  # noqa: E402
from studio.core.domain import RunSettings, Stage  # noqa: E402
from studio.export.api import export  # noqa: E402
from studio.runner import PausePolicy, Runner  # noqa: E402
from studio.store import Store  # noqa: E402
from studio.train.bagel import TrainOptions, train  # noqa: E402
from tests.kits import bagel_kit  # noqa: E402
from tests.train.test_flywheel import CPU_TRAINER, SMALL_IMAGES, TINY  # noqa: E402

GENEVAL = ROOT.parent / "shared" / "data" / "geneval" / "evaluation_metadata.jsonl"
FIXES = ("make the {cls} green", "make the {cls} blue", "make the {cls} red", "remove one {cls}")


def prompts(n: int) -> list[dict]:
    rows = [json.loads(line) for line in GENEVAL.read_text().splitlines() if line.strip()]
    return rows[:: max(1, len(rows) // n)][:n]


def steer(store: Store, rows: list[dict], offset: int) -> int:
    """One corrected offline session per row; returns how many got a correction the engine drew."""
    runner, corrected = Runner(store), 0
    for i, row in enumerate(rows):
        trajectory = runner.new_session(
            row["prompt"],
            engine="offline",
            seed=offset + i,
            settings=RunSettings(max_rounds=4, engine_params={"draft_noise": 0}),
        )
        runner.run(trajectory, PausePolicy.AT_INSPECT)
        verdict = runner.target(trajectory, None, Stage.INSPECT)
        drawn = [b.label.split(":")[0].split()[-1] for b in verdict.sketch_check.evidence]
        fix = FIXES[i % len(FIXES)].format(cls=drawn[0] if drawn else row["include"][0]["class"])
        if i % 3 == 2:  # a rejected sketch with its reason
            sketch = runner.target(trajectory, None, Stage.SKETCH)
            runner.reject(trajectory, sketch.id, note=f"no: {fix}", by="bench")
        else:
            runner.override(
                trajectory, verdict.id, sketch_passed=False, sketch_critique=fix, by="bench"
            )
            try:
                runner.refine_with(trajectory, verdict.id, fix, by="bench")
                corrected += 1
            except Exception as error:  # noqa: BLE001 - an edit the engine cannot read is skipped
                print("skipped:", error, file=sys.stderr)
        runner.run(trajectory)
    return corrected


def small_config(folder: Path, out: Path) -> Path:
    import yaml

    config = yaml.safe_load((folder / "data.yaml").read_text())
    for family, sizes in SMALL_IMAGES.items():
        if family in config:
            config[family].update(sizes)
    out.write_text(yaml.safe_dump(config))
    return out


def run_trainer(python, snapshot, folder, out, steps, lr, config) -> list[dict]:
    result = train(
        TrainOptions(
            [folder],
            snapshot,
            out,
            steps=steps,
            lr=lr,
            gpus=0,
            python=python,
            repo=bagel_kit.CLONE,
            data_config=config,
            trainer_args=CPU_TRAINER,
        )
    )
    return result.losses


def parse_rate(python, snapshot, rows, data: Path) -> tuple[int, int]:
    """(verdicts the engine's reader read, verdicts) over bagel sessions on `rows`."""
    engine = bagel_kit.make_engine(python, snapshot, cache_gb=1.0)
    engines.register("bagel-bench", lambda: engine)
    store = Store(data_dir=data)
    read = total = 0
    try:
        runner = Runner(store)
        for i, row in enumerate(rows):
            trajectory = runner.new_session(
                row["prompt"],
                engine="bagel-bench",
                seed=i,
                settings=RunSettings(max_rounds=2, engine_params=TINY),
            )
            runner.run(trajectory)
            for step in trajectory.steps.values():
                if step.stage is Stage.INSPECT:
                    total += 1
                    read += "error" not in step.meta
    finally:
        store.close()
        engines.unregister("bagel-bench")
        engine.close()
    return read, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--held-out", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--engine-prompts", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="flywheel-"))
    os.environ["STROKE_STUDIO_BAGEL_TRAIN_PRELUDE"] = str(ROOT / "tests/kits/bagel_train_cpu.py")
    os.environ["PYTHONPATH"] = str(bagel_kit.STANDINS)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    started = time.perf_counter()
    python = bagel_kit.bagel_python()
    base = bagel_kit.build_snapshot(python, work / "base", flux_ae=True)
    rows = prompts(args.sessions + args.engine_prompts)
    held_rows, train_rows = rows[: args.held_out], rows[args.held_out : args.sessions]
    engine_rows = rows[args.sessions :]
    folders = {}
    for name, chosen, offset in (("train", train_rows, 0), ("held-out", held_rows, 1000)):
        store = Store(data_dir=work / f"data-{name}")
        corrected = steer(store, chosen, offset)
        folders[name] = work / f"export-{name}"
        shutil.rmtree(folders[name], ignore_errors=True)
        report = export(store, "unified_edit", folders[name], val_fraction=0.0)
        print(name, "sessions", len(chosen), "person refines drawn", corrected, report.counts)
        store.close()
    held_config = small_config(folders["held-out"], work / "held-out.yaml")
    before = run_trainer(python, base, folders["held-out"], work / "eval-base", 1, 0.0, held_config)
    trained = run_trainer(
        python,
        base,
        folders["train"],
        work / "trained",
        args.steps,
        args.lr,
        small_config(folders["train"], work / "train.yaml"),
    )
    after = run_trainer(
        python, work / "trained", folders["held-out"], work / "eval-trained", 1, 0.0, held_config
    )
    parsed_before = parse_rate(python, base, engine_rows, work / "engine-base")
    parsed_after = parse_rate(python, work / "trained", engine_rows, work / "engine-trained")
    result = {
        "steps": args.steps,
        "train_sessions": len(train_rows),
        "held_out_sessions": len(held_rows),
        "held_out_loss_before": before[0],
        "held_out_loss_after": after[0],
        "train_loss_first_last": [trained[0], trained[-1]],
        "verdicts_parsed_before": parsed_before,
        "verdicts_parsed_after": parsed_after,
        "elapsed_s": round(time.perf_counter() - started, 1),
        "work": str(work),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
