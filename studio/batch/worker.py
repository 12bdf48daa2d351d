"""`studio batch`: self-sampling at scale — every (prompt, sample) of a prompt file as a session.

One process is one worker. Start as many as there are GPUs with an existing launcher
(`accelerate launch --multi_gpu --num_processes N -m studio batch …`, or torchrun, or by hand, on
one machine or several sharing a PostgreSQL store); each reads its place from the launcher's
environment (RANK, LOCAL_RANK, WORLD_SIZE), pins its GPU from LOCAL_RANK, and then pulls work from
the batch's work table in the store (studio/batch/workqueue.py) until none is left. No process
coordinates the others: the database is the only shared state, so workers may start late, die, or
be added while a batch runs, and running the same command again resumes (or does nothing).

Seeds follow `studio bench geneval`: a sample's session seed depends on the run seed, the prompt's
place in the file and the sample number only, so every mode, worker count and re-run draws the same.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy.exc import IntegrityError

from ..core import limits
from ..core.domain import Conflict, Mode, RunSettings, Stage, StudioError
from ..engines.base import CancelToken
from ..runner import Runner
from ..store import Store
from .placement import Place
from .workqueue import THROUGHPUT_WINDOW_S, Counts, Item, Throughput, WorkQueue

MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024
MAX_SAMPLES = 10_000
MAX_ITEMS = 1_000_000
MODES = {"single": (Mode.SINGLE,), "process": (Mode.PROCESS,), "both": (Mode.SINGLE, Mode.PROCESS)}


def sample_seed(seed: int, index: int, sample: int) -> int:
    """The session seed of one sample: the same in every mode, so the modes are compared pairwise."""
    digest = hashlib.sha256(f"geneval:{seed}:{index}:{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def read_prompts(path: Path) -> list[dict[str, Any]]:
    """The prompts of a file, as rows with at least `prompt`: plain text (one prompt a line) or JSONL
    (one object a line with a `prompt`, e.g. GenEval's metadata; other fields are kept for checkers).
    The file is JSONL when its first non-blank line starts with `{`."""
    try:
        if path.stat().st_size > MAX_PROMPT_FILE_BYTES:
            raise StudioError(
                f"{path.name} is larger than {MAX_PROMPT_FILE_BYTES >> 20} MB; split it into batches."
            )
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise StudioError(
            f"Cannot read the prompt file {path.name} ({error.strerror or error})."
        ) from None
    except UnicodeDecodeError as error:
        raise StudioError(
            f"{path.name} is not UTF-8 text (byte {error.start}); save it as UTF-8."
        ) from None
    numbered = [(n + 1, line) for n, line in enumerate(lines) if line.strip()]
    if not numbered:
        raise StudioError(f"{path.name} holds no prompts.")
    jsonl = numbered[0][1].lstrip().startswith("{")
    rows = []
    for number, line in numbered:
        where = f"{path.name}, line {number}"
        if jsonl:
            row = limits.json_row(
                line, where, "not a JSON object (the file is JSONL, as its first line is)"
            )
            if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
                raise StudioError(f'{where}: expected a JSON object with a "prompt" text.')
            limits.json_value(
                row, f"fields of {where}", depth=6, items=256, max_chars=limits.MAX_PARAMS_CHARS
            )
        else:
            row = {"prompt": line}
        try:
            row["prompt"] = limits.prompt(row["prompt"])
        except StudioError as error:
            raise StudioError(f"{where}: {error}") from None
        rows.append(row)
    return rows


@dataclass
class BatchOptions:
    prompts: Path
    name: str
    engine: str = "offline"
    mode: str = "process"  # single | process | both
    samples: int = 1
    rounds: int = RunSettings.max_rounds
    engine_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    tags: tuple[str, ...] = ()
    retry_failed: bool = False
    lease_s: float = 60.0
    db: str | None = None
    data_dir: Path | None = None
    title: str | None = None  # what session titles start with (default: the batch name)


def plan(options: BatchOptions) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The batch's settings (what a re-run must match) and its items, in claim order."""
    rows = read_prompts(options.prompts)
    modes = MODES[options.mode]
    if len(rows) * options.samples * len(modes) > MAX_ITEMS:
        raise StudioError(
            f"That is more than {MAX_ITEMS:,} sessions in one batch; split the prompt file."
        )
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
    settings = {
        "prompts_sha256": digest,
        "engine": options.engine,
        "mode": options.mode,
        "samples": options.samples,
        "rounds": options.rounds,
        "engine_params": options.engine_params,
        "seed": options.seed,
        "tags": list(options.tags),
    }
    return settings, plan_items(enumerate(rows), modes, options.samples, options.seed)


def plan_items(
    rows: Iterable[tuple[int, dict[str, Any]]], modes: Iterable[Mode], samples: int, seed: int
) -> list[dict[str, Any]]:
    """The work items of (index, row) prompts: mode by mode, prompt by prompt, sample by sample (the
    claim order). `index` is the prompt's place in its file, which a subset keeps (GenEval's folders)."""
    rows = list(rows)
    return [
        dict(
            mode=mode.value,
            prompt_index=index,
            sample=sample,
            prompt=row["prompt"],
            row=row,
            seed=sample_seed(seed, index, sample),
        )
        for mode in modes
        for index, row in rows
        for sample in range(samples)
    ]


# -- the worker -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """What a worker reports about one item it held."""

    item: Item
    status: str  # done | failed | lost (another worker took it over)
    session_id: str
    error: str | None
    wall_s: float


class _Lease(threading.Thread):
    """Renews the held item's lease every third of its length; cancels the run when the lease was lost."""

    def __init__(self, queue: WorkQueue):
        super().__init__(daemon=True, name="batch-lease")
        self.queue, self.item, self.cancel = queue, None, CancelToken()
        self._lock, self._stop = threading.Lock(), threading.Event()

    def hold(self, item: Item | None, cancel: CancelToken | None = None) -> None:
        with self._lock:
            self.item, self.cancel = item, cancel or CancelToken()

    def run(self) -> None:
        while not self._stop.wait(self.queue.lease_s / 3):
            with self._lock:
                item, cancel = self.item, self.cancel
            # A database hiccup is tried again next beat: the lease has two more thirds.
            try:
                if item is not None and not self.queue.renew(item):
                    cancel.cancel()
            except Exception:
                pass

    def stop(self) -> None:
        self._stop.set()


# What to do with a finished session before its item counts as done (e.g. `studio bench geneval` writes
# the final image into GenEval's layout and scores it); a StudioError it raises fails the item.
OnFinal = Callable[[Item, Any, Any], None]  # (item, trajectory, store)


class Worker:
    """Claims items and runs each as a session until no item is left for anyone (or `stop()`)."""

    def __init__(
        self,
        options: BatchOptions,
        place: Place | None = None,
        poll_s: float = 1.0,
        on_final: OnFinal | None = None,
        worker_id: str | None = None,
    ):
        self.options, self.place = options, place or Place.from_env()
        self.started = time.time()
        self.store = Store(options.db, options.data_dir)
        self.runner = Runner(self.store)
        self.queue = WorkQueue(
            self.store.db, options.name, worker_id or self.place.worker_id(), options.lease_s
        )
        self.poll_s = min(poll_s, options.lease_s / 4)
        self.settings = RunSettings(
            max_rounds=options.rounds, engine_params=dict(options.engine_params)
        )
        self.on_final = on_final
        self._stopping, self._cancel = threading.Event(), CancelToken()

    def stop(self) -> None:
        """Finish no more items: the one running now is cancelled at its next stage boundary and handed
        back (its session keeps every committed stage), and `run` returns."""
        self._stopping.set()
        self._cancel.cancel()

    def close(self) -> None:
        self.store.close()

    def prepare(self) -> None:
        settings, items = plan(self.options)
        self.queue.ensure(settings, items)
        if self.options.retry_failed:
            self.queue.retry_failed(before=self.started)

    def run(self, on_finished: Callable[[Finished], None] | None = None) -> list[Finished]:
        """Work until every item is done or failed. While others hold the last items this worker waits
        (polling), so that it takes over any whose holder dies."""
        lease = _Lease(self.queue)
        lease.start()
        results: list[Finished] = []
        try:
            # A killed run's items, on a re-run: carried on now, not after their lease.
            self.queue.reclaim_dead_here()
            while not self._stopping.is_set():
                item = self.queue.claim()
                if item is None:
                    if self.queue.unfinished() == 0:
                        return results
                    self._stopping.wait(self.poll_s)
                    self.queue.reclaim_dead_here()
                    continue
                cancel = self._cancel = CancelToken()
                if self._stopping.is_set():
                    cancel.cancel()
                lease.hold(item, cancel)
                try:
                    result = self._run_item(item, cancel)
                except BaseException:  # Ctrl-C: give it back for another worker (or a re-run)
                    lease.hold(None)
                    self.queue.release(item)
                    raise
                lease.hold(None)
                if result.status == "lost" and self._stopping.is_set():
                    # Stopped, not taken over: a re-run carries it on at once.
                    self.queue.release(item)
                    break
                results.append(result)
                if on_finished:
                    on_finished(result)
            return results
        finally:
            lease.stop()

    def _run_item(self, item: Item, cancel: CancelToken) -> Finished:
        started = time.perf_counter()
        trajectory = None
        try:
            if self.store.has_session(item.session_id):  # taken over from a dead worker, or retried
                trajectory = self.runner.open(item.session_id)
            else:
                title = (
                    f"{self.options.title or self.options.name} {item.mode} "
                    f"{item.prompt_index:05d}/{item.sample:04d}: {item.prompt}"
                )
                tags = (
                    f"batch:{self.options.name}",
                    f"mode:{item.mode}",
                    *self.options.tags,
                    *row_tags(item.row),
                )
                # A stalled earlier holder may have created it a moment ago: then that one is carried on.
                try:
                    trajectory = self.runner.new_session(
                        item.prompt,
                        self.options.engine,
                        item.seed,
                        replace(self.settings, mode=Mode(item.mode)),
                        title[:200],
                        tags,
                        session_id=item.session_id,
                    )
                except IntegrityError:
                    trajectory = self.runner.open(item.session_id)
            outcome = self.runner.run(trajectory, cancel=cancel)
            if outcome.status == "cancelled":
                return Finished(item, "lost", item.session_id, None, time.perf_counter() - started)
            final = trajectory.head()
            if final is None or final.stage is not Stage.FINAL:
                raise StudioError(f"the session ended {outcome.status} without a final step")
            if self.on_final is not None:
                self.on_final(item, trajectory, self.store)
            error = None
        except Conflict:  # another worker took the item over and wrote to its session first
            return Finished(item, "lost", item.session_id, None, time.perf_counter() - started)
        except StudioError as failure:
            error = str(failure)
            if trajectory is not None and _discarded(self.runner, trajectory):
                error += " (its session held no step yet and was removed)"
        except Exception as failure:  # an engine's bug is data too: recorded, and the batch goes on
            error = f"{type(failure).__name__}: {failure}"
        kept = self.queue.finish(item, error[:4000] if error else None)
        status = ("failed" if error else "done") if kept else "lost"
        return Finished(item, status, item.session_id, error, time.perf_counter() - started)


def _discarded(runner: Any, trajectory: Any) -> bool:
    """Remove an item's session that failed before its first step (a retry makes it again)."""
    try:
        return runner.discard_if_empty(trajectory)
    except StudioError:  # e.g. the disk is still full: the empty session stays, and is reused
        return False


def row_tags(row: dict[str, Any]) -> tuple[str, ...]:
    """A GenEval-format row's `tag` as a session tag (`tag:counting`), so a tag's sessions can be found."""
    tag = row.get("tag")
    return (
        (f"tag:{tag}",) if isinstance(tag, str) and 0 < len(tag) <= 64 and tag.isprintable() else ()
    )


# -- status ---------------------------------------------------------------------------------------


def status(store: Any, name: str, window_s: float = THROUGHPUT_WINDOW_S) -> dict[str, Any]:
    """done / running / failed / left, throughput and ETA for a batch, from the store alone.

    Throughput is the items finished (done or failed) by all workers in the last `window_s` seconds
    (from the first claim inside it when the batch is younger), so the ETA follows the batch as it
    runs now, is not swayed by one slow or fast item, and is not averaged with a pause. No ETA while
    items are left but no worker holds one (nobody is working on the batch)."""
    queue = WorkQueue(store.db, name)
    if not queue.exists():
        raise StudioError(
            f"No batch {name!r} in this database. Start one with: studio batch PROMPTS.jsonl --name {name}"
        )
    counts: Counts = queue.counts()
    recent: Throughput = queue.throughput(window_s)
    rate = recent.per_s
    remaining = counts.left + counts.running
    if not remaining:
        eta = 0.0
    elif rate and counts.running:
        eta = remaining / rate
    else:
        eta = None
    return {
        "batch": name,
        "total": counts.total,
        "done": counts.done,
        "running": counts.running,
        "failed": counts.failed,
        "left": counts.left,
        "parked": counts.parked,
        "per_minute": rate * 60 if rate else None,
        "window_s": round(recent.window_s, 1),
        "finished_in_window": recent.finished,
        "last_finished": recent.last_finished,
        "eta_s": eta,
        "workers": list(counts.workers),
        "errors": [{"item": seq, "error": message} for seq, message in counts.errors],
    }
