"""N workers of one batch on this machine, started by a command rather than by a launcher.

`studio bench geneval --workers N` uses this. Each worker is an ordinary `batch.Worker`: it claims
items from the work table, holds them under a lease and finishes them, exactly as the workers
`accelerate launch … -m studio batch` starts. Nothing here decides who runs what: this module only
starts the workers (threads sharing this process's engines, or processes each with its own, placed
as a launcher would place them: RANK / LOCAL_RANK / WORLD_SIZE, one GPU each where there are GPUs)
and, while they run, reports each item of interest as the database records it finished.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any, Callable, Iterable

from ..core.domain import StudioError
from ..store import Store
from .placement import Place, pin_device, visible_gpus
from .worker import BatchOptions, OnFinal, Worker
from .workqueue import WorkQueue

POOLS = ("auto", "threads", "processes")
WATCH_S = 0.25  # how often the watcher reads newly finished items


def pool_kind(pool: str) -> str:
    """auto: threads (one engine, shared; on the 2-core test machine 2 threads and 2 processes ran the
    same), or processes when this machine has several GPUs (one worker per GPU)."""
    if pool not in POOLS:
        raise StudioError(f"--pool {pool!r}: choose one of {', '.join(POOLS)}.")
    if pool == "auto":
        return "processes" if len(visible_gpus()) > 1 else "threads"
    return pool


def _process_main(options: BatchOptions, on_final: OnFinal | None, rank: int, world: int) -> None:
    """A worker process: placed as a launcher would place it, then an ordinary batch worker."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    place = Place(rank, rank, world)
    pin_device(place)
    worker = Worker(options, place, on_final=on_final)
    try:
        worker.run()
    except KeyboardInterrupt:  # its item was handed back; the parent says how to resume
        raise SystemExit(130) from None
    finally:
        worker.close()


class _Threads:
    def __init__(self, options: BatchOptions, count: int, on_final: OnFinal | None):
        place = Place.from_env()
        self.workers = [
            Worker(options, place, on_final=on_final, worker_id=f"{place.worker_id()}:thread{k}")
            for k in range(count)
        ]
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._run, args=(w,), name=f"batch-worker-{k}", daemon=True)
            for k, w in enumerate(self.workers)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, worker: Worker) -> None:
        try:
            worker.run()
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            self.errors.append(error)
        finally:
            worker.close()

    def alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        for thread in self.threads:
            thread.join(60)

    def check(self) -> None:
        if self.errors:
            raise self.errors[0]


class _Processes:
    def __init__(self, options: BatchOptions, count: int, on_final: OnFinal | None):
        context = multiprocessing.get_context("spawn")  # never fork a parent that has threads
        self.processes = [
            context.Process(
                target=_process_main, args=(options, on_final, k, count), name=f"batch-worker-{k}"
            )
            for k in range(count)
        ]
        for process in self.processes:
            process.start()

    def alive(self) -> bool:
        return any(p.is_alive() for p in self.processes)

    def stop(self) -> None:
        """Ctrl-C reached the workers too (one process group); wait for them to hand their items back."""
        deadline = time.monotonic() + 30
        for process in self.processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(10)

    def check(self) -> None:
        bad = [(k, p.exitcode) for k, p in enumerate(self.processes) if p.exitcode not in (0, None)]
        if bad:
            k, code = bad[0]
            raise StudioError(
                f"worker process {k} exited with status {code} (its messages are above); the batch's "
                "finished items are kept: fix the cause and run the same command again."
            )


def run_workers(
    options: BatchOptions,
    count: int,
    pool: str,
    on_final: OnFinal | None = None,
    watch: Iterable[int] = (),
    on_item: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Run `count` workers of the (already prepared) batch until it is finished. `on_item` gets, in
    this thread, each item of `watch` (seqs) that finishes while they run, as the work table has it."""
    kind = pool_kind(pool)
    wanted = set(watch)
    since = time.time() - 1.0
    seen: set[int] = set()
    store = Store(options.db, options.data_dir)
    queue = WorkQueue(store.db, options.name)

    def report() -> None:
        nonlocal since
        for row in queue.finished_since(since):
            if row["seq"] in wanted and row["seq"] not in seen:
                seen.add(row["seq"])
                if on_item:
                    on_item(row)
        # The windows overlap: a commit may land with an older timestamp than when it is read.
        since = time.time() - 5.0

    workers = (_Processes if kind == "processes" else _Threads)(options, count, on_final)
    try:
        while workers.alive():
            time.sleep(WATCH_S)
            report()
        report()
        workers.check()
    except BaseException:
        workers.stop()
        raise
    finally:
        store.close()
