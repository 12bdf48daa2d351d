"""The work table of a batch: which (prompt, sample) is left, who holds which one, and until when.

Workers on any number of processes and machines share one store and pull from it, so a batch
balances itself: a worker that drew short sessions simply claims more. Each claim is one short
transaction — `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL (claimers skip each other's locked
rows instead of queueing), the store's `BEGIN IMMEDIATE` on SQLite (claims queue for a few
milliseconds on the file's write lock; SQLite ignores FOR UPDATE).

A claim is a *lease*: the holder renews it while its session runs. A holder that dies stops
renewing, and once the lease has run out the next claimer takes the item over and resumes its
session from the last committed stage. Every claim bumps `attempts`, and every later write by a
holder names the attempt it holds (a fencing token), so a holder that was presumed dead but was only
slow finds its writes refused instead of overwriting the new holder's. The session id is chosen at
the first claim and kept on the item, so however often the item changes hands there is one session.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Engine

from ..core.domain import StudioError, new_id
from ..store.opening import insert_ignoring_duplicates
from ..store.store import batch_items, batches
from .workqueue_progress import (
    DONE,
    FAILED,
    PARKED,
    RUNNING,
    THROUGHPUT_WINDOW_S,
    TODO,
    Counts,
    QueueProgress,
    Throughput,
)

# Also the names callers have always imported from here (the statuses, Counts, Throughput).
__all__ = ["TODO", "RUNNING", "DONE", "FAILED", "PARKED", "THROUGHPUT_WINDOW_S", "Counts", "Item",
           "Throughput", "WorkQueue"]  # fmt: skip


@dataclass(frozen=True)
class Item:
    batch: str
    seq: int
    mode: str
    prompt_index: int
    sample: int
    prompt: str
    row: dict[str, Any]
    seed: int
    session_id: str
    attempts: int  # this claim's attempt number: the fencing token of every later write


def _alive(pid_text: str) -> bool:
    """Whether a process of this machine still exists (when in doubt, yes)."""
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except (ValueError, OSError):
        return True
    return True


def _canonical(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


class WorkQueue(QueueProgress):
    """One worker's view of one batch's work table (its progress reads: studio/batch/workqueue_progress.py)."""

    def __init__(self, engine: Engine, batch: str, worker: str = "", lease_s: float = 60.0):
        self.engine, self.batch, self.worker, self.lease_s = engine, batch, worker, float(lease_s)
        self.reader = engine.execution_options(
            readonly=True
        )  # a plain BEGIN on SQLite: never waits for writers

    # -- the batch ---------------------------------------------------------------------------

    def ensure(self, settings: dict[str, Any], items: list[dict[str, Any]]) -> None:
        """Create the batch and its items unless they exist.

        Idempotent and safe to call from every worker at once: rows are inserted with ON CONFLICT
        DO NOTHING. A batch of this name made with other settings (another prompt file, engine,
        seed, …) is refused, so a re-run can only resume the batch it names."""
        with self.engine.begin() as conn:
            found = conn.execute(
                select(batches.c.settings).where(batches.c.name == self.batch)
            ).first()
            if found is None:
                conn.execute(
                    insert_ignoring_duplicates(conn, batches).values(
                        name=self.batch, settings=settings, total=len(items), created_at=time.time()
                    )
                )
                rows = [
                    dict(batch=self.batch, seq=seq, status=TODO, attempts=0, **item)
                    for seq, item in enumerate(items)
                ]
                for start in range(0, len(rows), 1000):
                    conn.execute(
                        insert_ignoring_duplicates(conn, batch_items), rows[start : start + 1000]
                    )
                found = conn.execute(
                    select(batches.c.settings).where(batches.c.name == self.batch)
                ).first()
        self._same_settings(found.settings, settings)

    def grow(self, settings: dict[str, Any], items: list[dict[str, Any]]) -> list[int]:
        """A batch whose items a later run may add to (`studio bench geneval --limit 10`, then the full
        set, in one output folder): create it, or check its settings and append the items it lacks,
        keyed by (mode, prompt_index, sample). Items of earlier runs that are not asked for now and not
        started are parked (never claimed) until a run asks for them again. Returns the seq of each of
        `items`, in order. One transaction, the batch row locked, so concurrent callers agree."""
        key = lambda row: (row["mode"], int(row["prompt_index"]), int(row["sample"]))  # noqa: E731
        c = batch_items.c
        with self.engine.begin() as conn:
            conn.execute(
                insert_ignoring_duplicates(conn, batches).values(
                    name=self.batch, settings=settings, total=0, created_at=time.time()
                )
            )
            found = conn.execute(
                select(batches.c.settings).where(batches.c.name == self.batch).with_for_update()
            ).first()
            self._same_settings(found.settings, settings)
            have = {
                key(r._mapping): r.seq
                for r in conn.execute(
                    select(c.seq, c.mode, c.prompt_index, c.sample).where(c.batch == self.batch)
                )
            }
            next_seq = max(have.values(), default=-1) + 1
            new = []
            for item in items:
                if key(item) not in have:
                    have[key(item)] = next_seq
                    new.append(
                        dict(batch=self.batch, seq=next_seq, status=TODO, attempts=0, **item)
                    )
                    next_seq += 1
            for start in range(0, len(new), 1000):
                conn.execute(
                    insert_ignoring_duplicates(conn, batch_items), new[start : start + 1000]
                )
            wanted = [have[key(item)] for item in items]
            conn.execute(
                update(batch_items)
                .where(c.batch == self.batch, c.status == TODO)
                .values(status=PARKED)
            )
            for start in range(0, len(wanted), 1000):
                conn.execute(
                    update(batch_items)
                    .where(
                        c.batch == self.batch,
                        c.status == PARKED,
                        c.seq.in_(wanted[start : start + 1000]),
                    )
                    .values(status=TODO)
                )
            conn.execute(
                update(batches).where(batches.c.name == self.batch).values(total=len(have))
            )
        return wanted

    def _same_settings(self, theirs: dict[str, Any], ours: dict[str, Any]) -> None:
        if _canonical(theirs) != _canonical(ours):
            differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            raise StudioError(
                f"Batch {self.batch!r} already exists with other settings ({', '.join(differ)}); "
                "run it with its own settings, or give this run another --name."
            )

    def exists(self) -> bool:
        with self.reader.connect() as conn:
            return (
                conn.execute(select(batches.c.name).where(batches.c.name == self.batch)).first()
                is not None
            )

    # -- a worker's claims -------------------------------------------------------------------

    def claim(self) -> Item | None:
        """Take the first item nobody holds (or whose holder's lease ran out); None when there is none now."""
        now = time.time()
        claimable = or_(
            batch_items.c.status == TODO,
            and_(batch_items.c.status == RUNNING, batch_items.c.lease_until < now),
        )
        with self.engine.begin() as conn:
            row = conn.execute(
                select(batch_items)
                .where(batch_items.c.batch == self.batch, claimable)
                .order_by(batch_items.c.seq)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            session_id = row.session_id or new_id()
            conn.execute(
                update(batch_items)
                .where(batch_items.c.batch == self.batch, batch_items.c.seq == row.seq)
                .values(
                    status=RUNNING,
                    worker=self.worker,
                    lease_until=now + self.lease_s,
                    attempts=row.attempts + 1,
                    session_id=session_id,
                    error=None,
                    started_at=func.coalesce(batch_items.c.started_at, now),
                )
            )
        return Item(
            self.batch,
            row.seq,
            row.mode,
            row.prompt_index,
            row.sample,
            row.prompt,
            dict(row.row),
            int(row.seed),
            session_id,
            row.attempts + 1,
        )

    def _held(self, item: Item):
        return (
            batch_items.c.batch == self.batch,
            batch_items.c.seq == item.seq,
            batch_items.c.attempts == item.attempts,
            batch_items.c.status == RUNNING,
        )

    def renew(self, item: Item) -> bool:
        """Extend the lease; False when the item is no longer this claim's (taken over after a stall)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(batch_items)
                .where(*self._held(item))
                .values(lease_until=time.time() + self.lease_s)
            )
        return result.rowcount == 1

    def finish(self, item: Item, error: str | None = None) -> bool:
        """Mark the item done (or failed, with the engine's message); False when the claim was lost."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(batch_items)
                .where(*self._held(item))
                .values(
                    status=FAILED if error is not None else DONE,
                    error=error,
                    lease_until=None,
                    finished_at=time.time(),
                )
            )
        return result.rowcount == 1

    def release(self, item: Item) -> None:
        """Give the item back untouched (the worker is stopping), for any worker to claim at once."""
        with self.engine.begin() as conn:
            conn.execute(
                update(batch_items).where(*self._held(item)).values(status=TODO, lease_until=None)
            )

    def adopt(self, seq: int, session_id: str, done: bool) -> bool:
        """Give a never-claimed item a session made before it was an item (an output folder written
        by the bench's earlier, batch-less runner): done, or to be carried on by the next claim."""
        c = batch_items.c
        values: dict[str, Any] = {"session_id": session_id}
        if done:
            now = time.time()
            values |= {"status": DONE, "attempts": 1, "worker": "adopted", "started_at": now,
                       "finished_at": now}  # fmt: skip
        with self.engine.begin() as conn:
            result = conn.execute(
                update(batch_items)
                .where(
                    c.batch == self.batch,
                    c.seq == seq,
                    c.status.in_((TODO, PARKED)),
                    c.session_id.is_(None),
                )  # fmt: skip
                .values(**values)
            )
        return result.rowcount == 1

    def reclaim_dead_here(self) -> int:
        """Hand back at once the items held by workers on this machine whose process is gone (a killed
        worker, or a whole command killed and started again), instead of waiting out their lease.
        Judged from the holder's id (host:pid:…): a pid since reused by another process only means
        waiting for the lease as before; a holder judged dead wrongly is fenced off, never doubled."""
        host = socket.gethostname()[:64] + ":"
        c = batch_items.c
        with self.reader.connect() as conn:
            held = conn.execute(
                select(c.seq, c.worker, c.attempts).where(
                    c.batch == self.batch,
                    c.status == RUNNING,
                    c.worker.startswith(host, autoescape=True),
                )
            ).all()
        dead = [row for row in held if not _alive(row.worker[len(host) :].split(":", 1)[0])]
        count = 0
        for row in dead:
            with self.engine.begin() as conn:
                count += conn.execute(
                    update(batch_items)
                    .where(
                        c.batch == self.batch,
                        c.seq == row.seq,
                        c.attempts == row.attempts,
                        c.status == RUNNING,
                    )
                    .values(status=TODO, lease_until=None)
                ).rowcount
        return count

    def retry_failed(self, before: float, seqs: list[int] | None = None) -> int:
        """Put the items that failed before `before` back to be done again (`--retry-failed`): an item
        that fails again during this run is not retried twice by the other workers starting with it.
        `seqs`: only these items (a growing batch retries what its latest run asked for)."""
        c = batch_items.c
        failed = (c.batch == self.batch, c.status == FAILED, c.finished_at < before)
        chunks = [None] if seqs is None else [seqs[k : k + 1000] for k in range(0, len(seqs), 1000)]
        count = 0
        with self.engine.begin() as conn:
            for chunk in chunks:
                chosen = failed if chunk is None else (*failed, c.seq.in_(chunk))
                count += conn.execute(
                    update(batch_items).where(*chosen).values(status=TODO, worker=None)
                ).rowcount
        return count
