"""`studio batch PROMPTS` and `studio batch status NAME`: the command line of studio/batch/worker.py.

A sub-app of its own (registered by studio/cli/__init__.py, never importing it back). `studio batch FILE …`
is short for `studio batch run FILE …`, so the launcher line stays the one people expect:
`accelerate launch --multi_gpu --num_processes 2 -m studio batch prompts.jsonl --samples 4`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from typer.core import TyperGroup

from .. import engines as registry
from ..core import limits
from ..core.domain import RunSettings, StudioError
from .common import (
    data_option,
    db_option,
    err,
    open_store,
    out,
    print_json,
    print_line,
    progress_bar,
    safe,
)


class _RunByDefault(TyperGroup):
    """`studio batch FILE …` runs the batch; `studio batch status NAME` and `studio batch run FILE` as named."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


batch_app = typer.Typer(
    cls=_RunByDefault,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Run a prompt file as sessions on one or many workers (studio batch PROMPTS.jsonl).",
)

DbOption = Annotated[
    Optional[str],
    db_option("SQLAlchemy URL of the sessions database (PostgreSQL for several machines)."),
]
DataOption = Annotated[
    Optional[Path], data_option("Folder for the database and images (shared by all workers).")
]


@batch_app.command("run")
def run(
    prompts: Annotated[
        Path,
        typer.Argument(
            help='Plain text (a prompt a line) or JSONL with a "prompt" per line (GenEval\'s metadata works).'
        ),
    ],
    name: Annotated[
        Optional[str],
        typer.Option(
            help="Batch name; sessions are tagged batch:NAME (default: the file's name without extension)."
        ),
    ] = None,
    samples: Annotated[int, typer.Option(help="Sessions per prompt and mode.")] = 1,
    engine: Annotated[str, typer.Option(help="Engine name (see `studio engines`).")] = "offline",
    mode: Annotated[str, typer.Option(help="single, process or both.")] = "process",
    rounds: Annotated[
        int, typer.Option(help=f"Most plan + refine rounds (1 to {limits.MAX_ROUNDS}).")
    ] = RunSettings.max_rounds,
    params: Annotated[str, typer.Option(help="Engine parameters as a JSON object.")] = "{}",
    seed: Annotated[
        int,
        typer.Option(
            help="Run seed; each sample's seed derives from it (as in studio bench geneval)."
        ),
    ] = 0,
    tag: Annotated[
        Optional[list[str]], typer.Option(help="Extra session tag (repeatable).")
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run the items that failed before again.")
    ] = False,
    lease: Annotated[
        float,
        typer.Option(
            help="Seconds a worker's claim lasts without renewal before another worker takes the item over."
        ),
    ] = 60.0,
    db: DbOption = None,
    data_dir: DataOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print this worker's results as JSON lines.")
    ] = False,
) -> None:
    """Run every (prompt, sample) as a session; run the same command again to resume.

    Start one process per GPU with accelerate launch (or torchrun): they share the work through the database."""
    from ..batch import MAX_SAMPLES, MODES, BatchOptions, Worker
    from ..batch.placement import Place, pin_device, relaunch_as_asked

    if mode not in MODES:
        raise StudioError(f"--mode {limits.shown(mode)}: use single, process or both.")
    engine = limits.engine_name(engine, registry)
    options = BatchOptions(
        prompts=prompts,
        name=limits.batch_name(name if name is not None else prompts.stem),
        engine=engine,
        mode=mode,
        samples=limits.integer(samples, "--samples", 1, MAX_SAMPLES),
        rounds=limits.rounds(rounds),
        engine_params=limits.engine_params(engine, params, registry),
        seed=limits.seed(seed) or 0,
        tags=tuple(limits.text(t, "tag", max_chars=100) for t in (tag or [])),
        retry_failed=retry_failed,
        lease_s=limits.lease(lease),
        db=db,
        data_dir=data_dir,
    )
    relaunch_as_asked()  # accelerate was asked for N processes but started one: run the N
    place = Place.from_env()
    device = pin_device(place)
    worker = Worker(options, place)
    try:
        worker.prepare()
        _work(worker, place, device, as_json)
    finally:
        worker.close()


def _work(worker, place, device: str | None, as_json: bool) -> None:
    who = f"worker {place.rank}/{place.world_size}"
    counts = worker.queue.counts()
    err.print(
        f"{who}: batch {worker.options.name}, {counts.total} sessions, {counts.done} done, "
        f"{counts.failed} failed{f', on {device}' if device else ''}",
        highlight=False,
    )
    bar = progress_bar(keep=True)
    task = bar.add_task(who, total=counts.total, completed=counts.done + counts.failed)
    mine = {"done": 0, "failed": 0, "lost": 0}

    def on_finished(result) -> None:
        mine[result.status] += 1
        item = result.item
        label = f"{item.mode} {item.prompt_index:05d}/{item.sample:04d}"
        if as_json:
            print_line(
                {
                    "item": item.seq,
                    "mode": item.mode,
                    "prompt_index": item.prompt_index,
                    "sample": item.sample,
                    "status": result.status,
                    "session_id": result.session_id,
                    "error": result.error,
                    "wall_s": round(result.wall_s, 4),
                }
            )
        if result.status == "failed":
            bar.console.print(safe(f"{who}: {label} failed: {result.error}"), highlight=False)
        elif not err.is_terminal:
            err.print(
                f"{who}: {label} {result.status} session {result.session_id[:8]} ({result.wall_s:.2f} s)",
                highlight=False,
            )
        now = worker.queue.counts()
        bar.update(
            task,
            completed=now.done + now.failed,
            description=f"{who} ({mine['done']} here, {now.running} running)",
        )

    started = time.perf_counter()
    try:
        with bar:
            worker.run(on_finished)
    except KeyboardInterrupt:
        err.print(
            f"{who}: interrupted; its item was handed back. Run the same command again to resume."
        )
        raise typer.Exit(130) from None
    err.print(
        f"{who}: ran {mine['done']} session(s), {mine['failed']} failed, in {time.perf_counter() - started:.1f} s; "
        "the batch is finished"
        + (f" ({mine['lost']} taken over by other workers)" if mine["lost"] else ""),
        highlight=False,
    )


@batch_app.command("status")
def show_status(
    name: Annotated[
        str, typer.Argument(help="The batch name (its --name, or the prompt file's name).")
    ],
    db: DbOption = None,
    data_dir: DataOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Done / running / failed / left, throughput and ETA of a batch across all its workers."""
    from ..batch import status
    from ..batch.workqueue import THROUGHPUT_WINDOW_S

    report = status(open_store(db, data_dir), limits.batch_name(name))  # closed as the command ends
    if as_json:
        print_json(json.dumps(report))
        return
    window = (
        f"{report['window_s'] / 60:.0f} min"
        if report["window_s"] >= 60
        else f"{report['window_s']:.0f} s"
    )
    rate = (
        f"{report['per_minute']:.1f} sessions/min over the last {window} ({report['finished_in_window']} finished, "
        "all workers)"
        if report["per_minute"]
        else f"no session finished in the last {THROUGHPUT_WINDOW_S / 60:.0f} min"
    )
    eta = (
        "finished"
        if report["eta_s"] == 0
        else "unknown (no worker is running)"
        if not report["running"]
        else "unknown"
        if report["eta_s"] is None
        else f"{report['eta_s'] / 60:.1f} min"
        if report["eta_s"] >= 60
        else f"{report['eta_s']:.0f} s"
    )
    out.print(
        f"batch {report['batch']}: {report['done']} done, {report['running']} running, {report['failed']} failed, "
        f"{report['left']} left of {report['total']}"
        + (
            f" ({report['parked']} set aside: not asked for by its latest run)"
            if report["parked"]
            else ""
        ),
        highlight=False,
    )
    out.print(
        f"throughput {rate}; ETA {eta}; {len(report['workers'])} worker(s) holding items",
        highlight=False,
    )
    for worker in report["workers"]:
        out.print(f"  {safe(worker)}", highlight=False)
    for failure in report["errors"]:
        out.print(
            safe(f"  item {failure['item']} failed: {failure['error'][:200]}"), highlight=False
        )
    if report["failed"]:
        out.print(
            "retry the failed ones with the batch's command and --retry-failed", highlight=False
        )


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")
