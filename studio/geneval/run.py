"""`studio bench geneval`: GenEval's prompts as a batch (studio/batch/worker.py), plus its checker and report.

The selected prompts (`--tags`, `--limit`) × modes × samples are the items of a batch in the
sessions database, named after the output folder: the same work table, claims, leases, exactly-once
and `--retry-failed` as `studio batch`, and the same seed rule (`batch.sample_seed`). `--workers N`
runs N ordinary batch workers on this machine (studio/batch/local.py); under a launcher
(`accelerate launch … -m studio bench geneval …`) each process is one worker and rank 0 writes the
report. A worker that finishes a sample's session writes its final image into GenEval's layout and
scores it (`Finisher`) before the item counts as done; the report is then built from the layout's
records of the items this run asked for.

Resuming is the batch's: re-running the same command claims only what is not done, a session
interrupted mid-way carries on from its last committed stage, and a sample whose files were removed
from the output folder is written again from its session (never run twice). Failed samples stay
failed (their error is in the report) until `--retry-failed`. One output folder is one batch: a
later run may ask for more prompts, samples or modes; items an earlier run asked for but this one
does not are set aside until asked for again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import engines as registry
from ..batch import BatchOptions, Worker, plan_items
from ..batch.placement import Place
from ..batch.workqueue import DONE, FAILED, WorkQueue
from ..core.domain import Mode, RunSettings, StudioError
from . import checker as checkers
from . import layout
from .metadata import file_digest, read_prompts, resolve_prompts, select
from .samples import Finisher, adopt_earlier_samples, base_record, collect

TITLE = "GenEval"  # sessions are titled "GenEval <mode> <NNNNN>/<NNNN>: <prompt>"
TAGS = ("bench", "geneval")


@dataclass
class BenchOptions:
    prompts: Path | None = None  # None: GenEval's official file beside a source checkout
    engine: str = registry.DEFAULT_ENGINE
    modes: tuple[Mode, ...] = (Mode.SINGLE, Mode.PROCESS)
    samples: int = 4  # GenEval generates 4 images per prompt
    limit: int | None = None
    tags: tuple[str, ...] = ()
    out: Path | None = None  # default: geneval-<engine> in the current folder
    seed: int = 0
    rounds: int = RunSettings.max_rounds
    engine_params: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    pool: str = "auto"  # threads | processes (studio.batch.local.pool_kind)
    checker: str = "auto"
    owl: str | None = checkers.OWL_DEFAULT
    clip: str | None = checkers.CLIP_DEFAULT
    retry_failed: bool = False
    lease_s: float = 60.0
    db: str | None = None
    data_dir: Path | None = None

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out is not None else Path(f"geneval-{self.engine}")


@dataclass
class BenchResult:
    out: Path
    checker: dict[str, str]
    records: list[dict[str, Any]]  # one per finished sample this run asked for
    ran: int  # samples finished (done or failed) during this call
    skipped: int  # samples finished before it
    errors: list[dict[str, Any]]  # failed samples this run asked for, with the engine's message
    db_url: str = ""
    elapsed_s: float = 0.0  # this call, generation and scoring
    total: int = 0  # samples this call asked for (finished or not)
    report: Any = None  # report.Report; None on a launcher's rank other than 0
    batch: str = ""


# -- the run -----------------------------------------------------------------------------------------


def validate(options: BenchOptions) -> None:
    if not options.modes:
        raise StudioError("--modes is empty: give single, process or both (single,process).")
    if options.samples < 1:
        raise StudioError("--samples must be at least 1.")
    if options.workers < 1:
        raise StudioError("--workers must be at least 1.")
    if options.rounds < 1:
        raise StudioError("--rounds must be at least 1.")
    registry.require(options.engine)


def batch_name(out: Path, engine: str) -> str:
    """The output folder's batch: kept in its run.json (so a moved folder keeps its batch); else made
    from the engine and the folder's path (so every rank under a launcher picks the same one)."""
    try:
        saved = json.loads((out / layout.RUN_FILE).read_text(encoding="utf-8")).get("batch")
    except (OSError, ValueError, AttributeError):
        saved = None
    if isinstance(saved, str) and saved:
        return saved
    digest = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:8]
    return f"geneval-{re.sub(r'[^A-Za-z0-9._-]', '-', engine)[:40]}-{digest}"


def run_bench(
    options: BenchOptions,
    on_progress: Callable[[dict[str, Any] | None, int, int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> BenchResult:
    """Enqueue what is missing, run batch workers until the batch is finished, score, report.
    `on_start(total, already_finished)` is called once, then `on_progress(record, finished, total)`
    for each sample that finishes (a record with status "error" for a failed one)."""
    from ..batch.local import pool_kind, run_workers
    from ..store import Store

    validate(options)
    place = Place.from_env()
    if place.world_size > 1 and options.workers > 1:
        raise StudioError(
            f"--workers {options.workers} under a launcher (WORLD_SIZE={place.world_size}): the "
            "launcher starts the workers; drop --workers."
        )
    kind = pool_kind(options.pool)
    prompts_path = resolve_prompts(options.prompts)
    prompts = select(read_prompts(prompts_path), options.tags, options.limit)
    out = options.out_dir
    checker_key = checkers.choose(options.checker, options.engine, options.owl, options.clip)
    name = batch_name(out, options.engine)
    settings = {
        "engine": options.engine,
        "seed": options.seed,
        "rounds": options.rounds,
        "engine_params": options.engine_params,
        "prompts_sha256": file_digest(prompts_path),
    }
    layout.check_run_settings(out, settings | {"batch": name})
    for mode in options.modes:
        for p in prompts:
            layout.write_metadata(out, mode.value, p.index, p.row)
    items = plan_items(
        ((p.index, p.row) for p in prompts), options.modes, options.samples, options.seed
    )
    batch = BatchOptions(
        prompts=prompts_path,
        name=name,
        engine=options.engine,
        rounds=options.rounds,
        engine_params=dict(options.engine_params),
        seed=options.seed,
        tags=TAGS,
        lease_s=options.lease_s,
        db=options.db,
        data_dir=options.data_dir,
        title=TITLE,
    )
    finisher = Finisher(out, checker_key, options.owl, options.clip)

    started, started_wall = time.perf_counter(), time.time()
    store = Store(options.db, options.data_dir)
    try:
        queue = WorkQueue(store.db, name)
        seqs = queue.grow(settings | {"kind": "geneval", "tags": list(TAGS)}, items)
        if options.retry_failed:
            queue.retry_failed(before=started_wall, seqs=seqs)
        adopt_earlier_samples(out, queue, seqs, store)
        ours = set(seqs)
        before = {r["seq"]: r for r in queue.items() if r["seq"] in ours}
        skipped = sum(r["status"] in (DONE, FAILED) for r in before.values())
        if on_start:
            on_start(len(seqs), skipped)
        finished = skipped

        def on_item(row: dict[str, Any]) -> None:
            nonlocal finished
            if row["seq"] not in before or row["status"] not in (DONE, FAILED):
                return
            finished += 1
            if on_progress:
                on_progress(_progress_record(out, row, before[row["seq"]]), finished, len(seqs))

        todo = [s for s in seqs if before[s]["status"] not in (DONE, FAILED)]
        if todo and place.world_size > 1:  # one of a launcher's workers
            worker = Worker(batch, place, on_final=finisher)
            try:
                worker.run(
                    lambda f: on_item({"seq": f.item.seq, "status": f.status, "error": f.error})
                )
            finally:
                worker.close()
        elif todo:
            run_workers(batch, min(options.workers, len(todo)), kind, finisher, todo, on_item)
        if place.rank != 0:
            return BenchResult(
                out,
                checkers.describe(checker_key),
                [],
                finished - skipped,
                skipped,
                [],
                store.shown_url,
                time.perf_counter() - started,
                len(seqs),
                None,
                name,
            )
        rows = {r["seq"]: r for r in queue.items() if r["seq"] in ours}
        records, errors = collect(out, [rows[s] for s in seqs], finisher, store)
        ran = sum(r["status"] in (DONE, FAILED) for r in rows.values()) - skipped
        db_url = store.shown_url
    finally:
        store.close()

    from .report import build_report

    result = BenchResult(
        out,
        checkers.describe(checker_key),
        records,
        ran,
        skipped,
        errors,
        db_url,
        time.perf_counter() - started,
        len(seqs),
        None,
        name,
    )
    result.report = build_report(result, options, prompts_path)
    return result


def _progress_record(out: Path, row: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    base = base_record(
        item["mode"], item["prompt_index"], item["sample"], item["row"], item["seed"]
    )
    if row["status"] == DONE:
        return layout.read_record(out, item["mode"], item["prompt_index"], item["sample"]) or base
    return base | {"status": "error", "error": row.get("error")}
