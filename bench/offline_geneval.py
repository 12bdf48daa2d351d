"""GenEval with the offline engine: single-pass vs process-driven, judged by its analyser and by the truth.

For each of the 553 prompts of GenEval's metadata, runs a whole session in both modes and checks
the final sketch against the prompt's `include` / `exclude` entries twice: with the GenEval checker
of `studio bench geneval` (`studio.geneval.checker`, the offline analyser as its detector, i.e. the
same eyes the loop's inspector has), and with the painter's own record of what the final canvas
holds (`meta["canvas"]`: every object drawn and not erased, with its true class, colour and box),
which the inspector never reads. Prints a markdown table per tag, the CPU time per session, and how
many of the sketcher's draft mistakes the inspector caught.

Sessions run through a small in-memory loop that follows the runner's rules (`domain.next_stage`,
its per-stage seeds and round numbering), so this measures the engine alone; `--runner` drives the
real `Runner` and `Store` instead. For GenEval's output layout, sessions kept in the database,
resume, workers and a report, use `studio bench geneval`.

Usage: .venv/bin/python bench/offline_geneval.py [--limit N] [--rounds 6] [--noise 1.0] [--runner] [--prompts FILE]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from offline_recognition import iou  # noqa: E402  (a sibling script)

from studio.core.domain import (  # noqa: E402
    ImageRef,
    Mode,
    RunSettings,
    Session,
    Stage,
    Step,
    last_image,
    new_id,
    next_stage,
    stage_round,
)
from studio.engines.base import StageContext  # noqa: E402
from studio.engines.offline import OfflineEngine  # noqa: E402
from studio.engines.offline.analyse import Found, analyse, geneval_satisfied  # noqa: E402
from studio.engines.offline.plan import placeholder_nouns, planned, prompt_scene  # noqa: E402
from studio.geneval.checker import OfflineChecker, canvas_record  # noqa: E402
from studio.geneval.metadata import TAGS, read_prompts, resolve_prompts  # noqa: E402
from studio.runner.runner import seed_for  # noqa: E402


def run_in_memory(engine: OfflineEngine, prompt: str, seed: int, settings: RunSettings):
    """One session, stage by stage, as the runner would drive it; returns (branch, final image)."""
    images = {}

    def save(image):
        key = hashlib.sha256(image.tobytes()).hexdigest()
        images[key] = image
        return ImageRef(key, image.width, image.height, 0)

    session = Session(new_id(), prompt, engine.name, seed, settings=settings)
    branch: list[Step] = []
    while (stage := next_stage(branch, settings)) is not None:
        ctx = StageContext(
            session,
            stage,
            branch,
            seed_for(seed, len(branch), 0),
            dict(settings.engine_params),
            stage_round(branch, stage),
            settings.max_rounds,
            settings.mode,
            lambda ref: images[ref.sha256],
        )
        if stage is Stage.PLAN:
            r = engine.plan(ctx)
            fields = dict(instruction=r.instruction, description=r.description, complete=r.complete)
        elif stage is Stage.SKETCH:
            r = engine.sketch(ctx)
            fields = dict(image=save(r.image), meta=r.meta)
        elif stage is Stage.INSPECT:
            r = engine.inspect(ctx)
            fields = dict(plan_check=r.plan_check, sketch_check=r.sketch_check)
        elif stage is Stage.REFINE:
            r = engine.refine(ctx, None, None)
            fields = dict(instruction=r.instruction, image=save(r.image), meta=r.meta)
        else:
            fields = dict(image=last_image(branch).image)
        branch.append(
            Step(
                new_id(),
                session.id,
                branch[-1].id if branch else None,
                stage,
                round=ctx.round,
                **fields,
            )
        )
    return branch, images[branch[-1].image.sha256]


def truth(branch: list[Step], row: dict) -> bool:
    """GenEval's verdict on what the painter knows the final canvas holds."""
    objects = [Found(o["class"], o["color"], tuple(o["box"]), 0) for o in canvas_record(branch)]
    return geneval_satisfied(row, objects)


def hidden(prompt: str, branch: list[Step], final) -> tuple[int, int]:
    """(objects in the painter's record of the final canvas, those the analyser does not find there
    as their class at box IoU >= 0.5): objects a viewer may still see, covered or cut by later strokes."""
    drawn = canvas_record(branch)
    described, instructed, _ = planned(branch)
    found = analyse(final, placeholder_nouns(prompt_scene(prompt), described, instructed)).objects
    missed = sum(
        not any(f.cls == o["class"] and iou(f.box, o["box"]) >= 0.5 for f in found) for o in drawn
    )
    return len(drawn), missed


def run_with_runner(runner, prompt: str, seed: int, settings: RunSettings):
    trajectory = runner.new_session(prompt, engine="offline", seed=seed, settings=settings)
    runner.run(trajectory)
    branch = trajectory.branch()
    return branch, runner.store.load_image(branch[-1].image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N prompts")
    parser.add_argument(
        "--rounds", type=int, default=6, help="max rounds (plans + refines) per session"
    )
    parser.add_argument(
        "--noise", type=float, default=1.0, help="draft-noise scale (engine param draft_noise)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--runner", action="store_true", help="drive sessions through the real Runner and Store"
    )
    parser.add_argument(
        "--prompts", type=Path, default=None, help="GenEval metadata (default: the official file)"
    )
    args = parser.parse_args()

    rows = [p.row for p in read_prompts(resolve_prompts(args.prompts))]
    rows = rows[: args.limit] if args.limit else rows
    engine = OfflineEngine()
    checker = OfflineChecker()
    if args.runner:
        from studio.runner import Runner
        from studio.store import Store

        tmp = tempfile.TemporaryDirectory()
        runner = Runner(Store(data_dir=Path(tmp.name)))
        drive = lambda prompt, seed, settings: run_with_runner(runner, prompt, seed, settings)  # noqa: E731
    else:
        drive = lambda prompt, seed, settings: run_in_memory(engine, prompt, seed, settings)  # noqa: E731

    passed = {m: collections.Counter() for m in Mode}
    true = {m: collections.Counter() for m in Mode}
    total = collections.Counter()
    cpu = {m: 0.0 for m in Mode}
    stages = {m: 0 for m in Mode}
    mistakes = caught = 0
    on_finals = collections.Counter()  # drawn / hidden objects on the process mode's final canvases
    for k, row in enumerate(rows):
        total[row["tag"]] += 1
        for mode in Mode:
            settings = RunSettings(
                max_rounds=args.rounds, mode=mode, engine_params={"draft_noise": args.noise}
            )
            start = time.process_time()
            branch, final = drive(row["prompt"], args.seed + k, settings)
            cpu[mode] += time.process_time() - start
            stages[mode] += len(branch)
            ok = checker.check(final, row).correct
            passed[mode][row["tag"]] += ok
            true[mode][row["tag"]] += truth(branch, row)
            # did inspect flag the sketches the sketcher knows it got wrong?
            if mode is Mode.PROCESS:
                drawn, missed = hidden(row["prompt"], branch, final)
                on_finals.update(drawn=drawn, hidden=missed, sessions=missed > 0)
                for i, step in enumerate(branch):
                    if step.stage is Stage.SKETCH and step.meta.get("draft_mistakes"):
                        mistakes += 1
                        check = next((s for s in branch[i + 1 :] if s.stage is Stage.INSPECT), None)
                        caught += bool(check and not check.sketch_check.passed)

    n = len(rows)
    print(
        f"GenEval prompts: {n}; max rounds {args.rounds}; draft noise x{args.noise}; seed {args.seed}; "
        f"{'Runner + Store' if args.runner else 'in-memory loop'}\n"
    )
    print(
        "| tag | prompts | single-pass (analyser) | process (analyser) | single-pass (truth) | process (truth) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for tag in TAGS:
        if total[tag]:
            cells = [
                d[m][tag] / total[tag] for d in (passed, true) for m in (Mode.SINGLE, Mode.PROCESS)
            ]
            print(f"| {tag} | {total[tag]} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    cells = [sum(d[m].values()) / n for d in (passed, true) for m in (Mode.SINGLE, Mode.PROCESS)]
    print(f"| **overall** | {n} | " + " | ".join(f"**{c:.3f}**" for c in cells) + " |\n")
    for mode in Mode:
        print(
            f"- {mode.value}: {cpu[mode] / n * 1000:.0f} ms CPU and {stages[mode] / n:.1f} stages per session"
        )
    print(
        f"- process finals: {on_finals['drawn']} objects in the painter's record, "
        f"{on_finals['hidden']} of them not found by the analyser (covered or cut by later strokes), "
        f"in {on_finals['sessions']} sessions"
    )
    if mistakes:
        print(
            f"- sketches with a draft mistake: {mistakes}; "
            f"flagged by the next inspect: {caught} ({caught / mistakes:.0%})"
        )


if __name__ == "__main__":
    main()
