"""An item's status in a batch's work table, and how far the batch has got: counts of each status,
the recent throughput behind the ETA, what finished since a moment, every item.

`QueueProgress` is mixed into `studio.batch.workqueue.WorkQueue`; these reads run on its read-only
connection (a plain BEGIN on SQLite), so a watcher never waits for the workers' claims.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Engine

from ..store.store import batch_items

TODO, RUNNING, DONE, FAILED = "todo", "running", "done", "failed"
# Asked for by an earlier run of a growing batch, not by the latest: never claimed.
PARKED = "parked"
# The ETA's throughput: items finished in the last ten minutes, by all workers.
THROUGHPUT_WINDOW_S = 600.0


@dataclass(frozen=True)
class Counts:
    total: int
    done: int
    running: int  # held under a live lease
    failed: int
    left: int  # not started, or held under a lease that has run out
    first_started: float | None
    last_finished: float | None
    workers: tuple[str, ...]  # holders of live leases
    errors: tuple[tuple[int, str], ...]  # (seq, message) of failed items, first few
    # Set aside by the latest run of a growing batch (not left: no worker claims them).
    parked: int = 0


@dataclass(frozen=True)
class Throughput:
    """Items finished (done or failed) by all workers in a recent window, for a rate that follows the
    batch as it runs now: a batch resumed today after a pause overnight is not averaged with the night."""

    finished: int
    window_s: float  # from the window's start (or the first claim inside it) to now
    last_finished: float | None

    @property
    def per_s(self) -> float | None:
        return self.finished / self.window_s if self.finished and self.window_s > 0 else None


class QueueProgress:
    """WorkQueue methods; they need its `reader` (a read-only engine) and its `batch` name."""

    reader: Engine
    batch: str

    def unfinished(self) -> int:
        """Items not yet done or failed (left or running): while any is, a worker may still be needed."""
        with self.reader.connect() as conn:
            return conn.scalar(
                select(func.count())
                .select_from(batch_items)
                .where(batch_items.c.batch == self.batch, batch_items.c.status.in_((TODO, RUNNING)))
            )

    def counts(self) -> Counts:
        now = time.time()
        live = and_(batch_items.c.status == RUNNING, batch_items.c.lease_until >= now)
        c = batch_items.c
        with self.reader.connect() as conn:
            row = conn.execute(
                select(
                    func.count(),
                    func.sum(case((c.status == DONE, 1), else_=0)),
                    func.sum(case((live, 1), else_=0)),
                    func.sum(case((c.status == FAILED, 1), else_=0)),
                    func.min(c.started_at),
                    func.max(case((c.status == DONE, c.finished_at), else_=None)),
                    func.sum(case((c.status == PARKED, 1), else_=0)),
                ).where(c.batch == self.batch)
            ).one()
            workers = tuple(
                sorted(conn.scalars(select(c.worker).distinct().where(c.batch == self.batch, live)))
            )
            errors = tuple(
                (r.seq, r.error or "")
                for r in conn.execute(
                    select(c.seq, c.error)
                    .where(c.batch == self.batch, c.status == FAILED)
                    .order_by(c.seq)
                    .limit(5)
                )
            )
        total, done, running, failed = (int(v or 0) for v in row[:4])
        parked = int(row[6] or 0)
        return Counts(
            total,
            done,
            running,
            failed,
            total - done - running - failed - parked,
            row[4],
            row[5],
            workers,
            errors,
            parked,
        )

    def throughput(
        self, window_s: float = THROUGHPUT_WINDOW_S, now: float | None = None
    ) -> Throughput:
        """Items finished by all workers within the last `window_s`. The window starts no earlier than
        the first claim among those items, so a batch started two minutes ago is not diluted by eight
        empty ones; a stalled batch's rate decays as its last finishes leave the window."""
        now = time.time() if now is None else now
        since = now - window_s
        c = batch_items.c
        with self.reader.connect() as conn:
            row = conn.execute(
                select(func.count(), func.min(c.started_at), func.max(c.finished_at)).where(
                    c.batch == self.batch, c.status.in_((DONE, FAILED)), c.finished_at >= since
                )
            ).one()
        finished, first_claim, last = int(row[0] or 0), row[1], row[2]
        start = max(since, first_claim) if first_claim is not None else since
        return Throughput(finished, max(now - start, 1e-6), last)

    def finished_since(self, since: float) -> list[dict[str, Any]]:
        """Items finished (done or failed) at or after `since`, oldest first: what a watcher reports."""
        c = batch_items.c
        with self.reader.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(
                        c.seq,
                        c.status,
                        c.mode,
                        c.prompt_index,
                        c.sample,
                        c.session_id,
                        c.error,
                        c.finished_at,
                    )
                    .where(
                        c.batch == self.batch, c.status.in_((DONE, FAILED)), c.finished_at >= since
                    )
                    .order_by(c.finished_at, c.seq)
                )
            ]

    def items(self) -> list[dict[str, Any]]:
        """Every item as a dict, in order (for reports and tests)."""
        with self.reader.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(batch_items)
                    .where(batch_items.c.batch == self.batch)
                    .order_by(batch_items.c.seq)
                )
            ]
