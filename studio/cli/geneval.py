"""`studio bench geneval`: the command line of the GenEval-format benchmark.

Registered by `studio.cli` (`register(app)` adds the `bench` group); the run itself is imported
only when the command runs, so `studio --help` stays light.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import engines as registry
from ..core import limits
from ..core.domain import Mode, RunSettings, StudioError
from ..store import DATA_ENV, DEFAULT_DATA_DIR
from .common import DataOption, DbOption, err, out, print_json, progress_bar, safe

bench_app = typer.Typer(
    help="Benchmarks: GenEval-format runs, single-pass vs process-driven.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _modes(text: str) -> tuple[Mode, ...]:
    names = [
        part.strip()
        for part in ("single,process" if text.strip() == "both" else text).split(",")
        if part.strip()
    ]
    known = [m.value for m in Mode]
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise StudioError(
            f"--modes {text!r}: give a comma-separated list of {', '.join(known)} (e.g. single,process), "
            "or both."
        )
    return tuple(Mode(n) for n in dict.fromkeys(names))


def default_out(engine: str, data_dir: Path | None) -> Path:
    """Beside the sessions database (git-ignored `sessions/` by default), never loose in a checkout."""
    return Path(data_dir or os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR) / f"geneval-{engine}"


@bench_app.command("geneval")
def geneval(
    prompts: Annotated[
        Optional[Path],
        typer.Option(
            help="GenEval metadata (JSONL: tag, prompt, include, exclude). Default: GenEval's "
            "evaluation_metadata.jsonl in ../shared/data/geneval/ beside the checkout."
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="Engine name (see `studio engines`).")
    ] = registry.DEFAULT_ENGINE,
    modes: Annotated[
        str, typer.Option("--modes", "--mode", help="Comma-separated: single, process (or both).")
    ] = "single,process",
    samples: Annotated[
        int, typer.Option(min=1, help="Images per prompt and mode (GenEval uses 4).")
    ] = 4,
    limit: Annotated[
        Optional[int], typer.Option(min=1, help="Only the first N prompts (after --tags).")
    ] = None,
    tags: Annotated[
        Optional[str],
        typer.Option(
            help="Comma-separated GenEval tags: single_object, two_object, counting, colors, position, color_attr."
        ),
    ] = None,
    out_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--out", help="Output folder (default: geneval-ENGINE in the data folder, sessions/)."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Run seed; each sample's seed derives from it (same in every mode).")
    ] = 0,
    rounds: Annotated[
        int, typer.Option(min=1, help="Most plan + refine rounds per session.")
    ] = RunSettings.max_rounds,
    params: Annotated[str, typer.Option(help="Engine parameters as a JSON object.")] = "{}",
    workers: Annotated[
        int, typer.Option(min=1, help="Batch workers on this machine (samples run at once).")
    ] = 1,
    pool: Annotated[
        str,
        typer.Option(
            help="Workers as threads sharing one engine, or processes (each loads its own engine and takes a GPU; "
            "built-in engines only). auto: processes when there are several GPUs, else threads."
        ),
    ] = "auto",
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run the samples that failed before again.")
    ] = False,
    lease: Annotated[
        float,
        typer.Option(
            help="Seconds a worker's claim lasts without renewal before another worker takes the sample over."
        ),
    ] = 60.0,
    checker: Annotated[
        str,
        typer.Option(
            help="auto, offline (the offline engine's analyser; its painter's record is scored beside it), "
            "truth (the offline painter's record alone), yolo (yolov3-tiny + pixel colours), "
            "owl (OWLv2 + CLIP, local weights only) or none."
        ),
    ] = "auto",
    owl: Annotated[
        str, typer.Option(help="OWLv2 folder or cached Hugging Face id (--checker owl).")
    ] = "google/owlv2-base-patch16-ensemble",
    clip: Annotated[
        str, typer.Option(help="CLIP folder or cached Hugging Face id (--checker owl).")
    ] = "openai/clip-vit-large-patch14",
    db: DbOption = None,
    data_dir: DataOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print report.json instead of the tables.")
    ] = False,
) -> None:
    """Run GenEval's prompts in each mode, write GenEval's layout, score the images, write the report.

    The samples are a batch (see `studio batch`, and `studio batch status NAME` while it runs):
    run the same command again to finish what is missing; --retry-failed runs failed samples
    again. Under `accelerate launch … -m studio bench geneval` each process is one worker and
    rank 0 writes the report. GenEval's own evaluator can score the images later
    (evaluate_images.py OUT/MODE); the built-in checker's numbers are not comparable with
    published GenEval scores.
    """
    from ..batch import MAX_SAMPLES
    from ..geneval.run import BenchOptions, run_bench

    engine = limits.engine_name(engine, registry)
    out_dir = default_out(engine, data_dir) if out_dir is None else limits.out_dir(out_dir)
    options = BenchOptions(
        prompts=prompts,
        engine=engine,
        modes=_modes(modes),
        samples=limits.integer(samples, "--samples", 1, MAX_SAMPLES),
        limit=limit,
        tags=tuple(t.strip() for t in (tags or "").split(",") if t.strip()),
        out=out_dir,
        seed=limits.seed(seed),
        rounds=limits.rounds(rounds),
        engine_params=limits.engine_params(engine, params, registry),
        workers=workers,
        pool=pool,
        checker=checker,
        owl=owl,
        clip=clip,
        db=db,
        data_dir=data_dir,
        retry_failed=retry_failed,
        lease_s=limits.lease(lease),
    )
    if checker == "yolo" and engine == "offline":
        err.print(
            "warning: the yolo checker's detector is trained on photographs; it finds almost nothing in the "
            "offline engine's sketches (expect scores near 0). Use --checker offline (or auto) for them.",
            highlight=False,
        )
    bar = progress_bar(remaining=True, keep=True)
    task = bar.add_task("GenEval", total=None)
    tally: dict[str, list[int]] = {}

    def on_start(total: int, done: int) -> None:
        bar.update(
            task,
            total=total,
            completed=done,
            description=f"GenEval {engine}" + (f" (resuming: {done} done)" if done else ""),
        )
        if not err.is_terminal:
            err.print(
                f"GenEval {engine}: {total} samples, {done} already finished; writing to "
                f"{safe(options.out)}",
                highlight=False,
            )

    def on_progress(record, done: int, total: int) -> None:
        if record and record.get("correct") is not None:
            ok = tally.setdefault(record["mode"], [0, 0])
            ok[0] += bool(record["correct"])
            ok[1] += 1
        so_far = "  ".join(f"{m} {c}/{n}" for m, (c, n) in tally.items())
        bar.update(task, completed=done, description=f"GenEval {engine} {so_far}".rstrip())
        if not err.is_terminal and total and (done == total or done % max(1, total // 20) == 0):
            # piped: a line per ~5 % of the samples instead of a bar
            err.print(f"{done}/{total} samples  {so_far}".rstrip(), highlight=False)
        if record and record.get("status") == "error":
            bar.console.print(
                safe(
                    f"sample {record['mode']}/{record['index']:05d}/{record['sample']:04d} failed: "
                    f"{record.get('error')}"
                ),
                highlight=False,
            )

    try:
        with bar:
            result = run_bench(options, on_progress, on_start)
    except KeyboardInterrupt:
        err.print(
            "Interrupted. Finished samples are kept and running ones handed back; run the same command "
            "again to resume."
        )
        raise typer.Exit(130) from None

    report = result.report
    if report is None:  # a launcher's worker other than rank 0: rank 0 writes the report
        err.print(
            f"worker done: {result.ran} sample(s) finished here; rank 0 writes the report.",
            highlight=False,
        )
        return
    if as_json:
        print_json(report.paths["json"].read_text(encoding="utf-8"))
    else:
        _summary(result, engine)
    if result.errors:
        raise typer.Exit(1)


def _summary(result, engine: str) -> None:
    from rich.table import Table

    from ..geneval.report import OFFLINE_ABOUT

    report = result.report
    tables = report.tables
    table = Table(
        title=f"GenEval-format accuracy (checker: {report.checker['name']})", title_justify="left"
    )
    table.add_column("tag")
    truth = [t for t in tables if t.overall.truth is not None]
    for t in tables:
        table.add_column(t.mode, justify="right")
    for t in truth:
        table.add_column(f"{t.mode} (painter's record)", justify="right")
    labels = list(dict.fromkeys(row.label for t in tables for row in t.rows))
    for label in labels + ["overall"]:
        cells = []
        for t in tables:
            row = (
                t.overall
                if label == "overall"
                else next((r for r in t.rows if r.label == label), None)
            )
            cells.append(
                "–" if row is None or row.accuracy is None else f"{row.accuracy:.3f} ({row.images})"
            )
        for t in truth:
            row = (
                t.overall
                if label == "overall"
                else next((r for r in t.rows if r.label == label), None)
            )
            cells.append("–" if row is None or row.truth is None else f"{row.truth:.3f}")
        table.add_row(safe(label) if label != "overall" else "overall (mean over tags)", *cells)
    for what, attr, digits in (
        ("sampling steps / image", "steps", 1),
        ("rounds / image", "rounds", 2),
        ("wall s / image", "wall_s", 3),
    ):
        table.add_row(
            what,
            *(f"{getattr(t.overall, attr):.{digits}f}" for t in tables),
            *("" for _ in truth),
        )
    out.print(table)
    out.print(
        f"{result.ran} sample(s) generated, {result.skipped} already finished, in {result.elapsed_s:.1f} s. "
        "Numbers from this checker are not comparable with published GenEval scores.",
        highlight=False,
    )
    if engine == "offline":
        out.print(OFFLINE_ABOUT, highlight=False)
    if result.errors:
        out.print(
            f"{len(result.errors)} sample(s) failed; run the same command with --retry-failed to run them "
            "again.",
            highlight=False,
        )
    out.print(f"batch: {result.batch} (studio batch status {result.batch})", highlight=False)
    out.print(
        f"report: {safe(report.paths['markdown'])}  chart: {safe(report.paths['chart'])}  "
        f"images: {safe(result.out)}/<mode>/ (GenEval layout)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
