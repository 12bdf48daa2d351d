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

How far the batch has got (`counts`, `throughput`, `finished_since`, `items`) is read on a read-only
connection (a plain BEGIN on SQLite), so a watcher never waits for the workers' claims.

Example::

    queue = WorkQueue(store.db, "gliders", worker="host:123:rank0")
    queue.ensure(settings, items)
    while (item := queue.claim()) is not None:
        ...  # run the item's session, calling queue.renew(item) every lease_s / 3
        queue.finish(item)
    print(queue.counts().done)
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.engine import Engine

from ..core.domain import StudioError, new_id
from ..store.opening import insert_ignoring_duplicates
from ..store.tables import batch_items, batches

TODO, RUNNING, DONE, FAILED = "todo", "running", "done", "failed"
# Asked for by an earlier run of a growing batch, not by the latest: never claimed.
PARKED = "parked"
# The ETA's throughput: items finished in the last ten minutes, by all workers.
THROUGHPUT_WINDOW_S = 600.0


@dataclass(frozen=True)
class Counts:
    """How many items of a batch are in each status, when it started and last finished, who holds
    items now, and the first few failures."""

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


@dataclass(frozen=True)
class Item:
    """One (prompt, sample) of a batch as a claim hands it to a worker: what its session runs."""

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


class WorkQueue:
    """One worker's view of one batch's work table: its claims, and how far the batch has got.

    `db` is the store's Engine (`Store.db`); `worker` names the holder of the items this queue
    claims (host:pid:rank); `lease_s` is how long a claim holds without a renewal."""

    def __init__(self, db: Engine, batch: str, worker: str = "", lease_s: float = 60.0):
        self.db, self.batch, self.worker, self.lease_s = db, batch, worker, float(lease_s)
        # The same database on connections that begin with a plain BEGIN: a read never waits for writers.
        self.readonly_db = db.execution_options(readonly=True)

    # -- the batch ---------------------------------------------------------------------------

    def ensure(self, settings: dict[str, Any], items: list[dict[str, Any]]) -> None:
        """Create the batch and its items unless they exist.

        Idempotent and safe to call from every worker at once: rows are inserted with ON CONFLICT
        DO NOTHING. A batch of this name made with other settings (another prompt file, engine,
        seed, …) is refused, so a re-run can only resume the batch it names."""
        with self.db.begin() as conn:
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
        with self.db.begin() as conn:
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
        with self.readonly_db.connect() as conn:
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
        with self.db.begin() as conn:
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
        with self.db.begin() as conn:
            result = conn.execute(
                update(batch_items)
                .where(*self._held(item))
                .values(lease_until=time.time() + self.lease_s)
            )
        return result.rowcount == 1

    def finish(self, item: Item, error: str | None = None) -> bool:
        """Mark the item done (or failed, with the engine's message); False when the claim was lost."""
        with self.db.begin() as conn:
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
        with self.db.begin() as conn:
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
        with self.db.begin() as conn:
            result = conn.execute(
                update(batch_items)
                .where(
                    c.batch == self.batch,
                    c.seq == seq,
                    c.status.in_((TODO, PARKED)),
                    c.session_id.is_(None),
                )
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
        with self.readonly_db.connect() as conn:
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
            with self.db.begin() as conn:
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
        with self.db.begin() as conn:
            for chunk in chunks:
                chosen = failed if chunk is None else (*failed, c.seq.in_(chunk))
                count += conn.execute(
                    update(batch_items).where(*chosen).values(status=TODO, worker=None)
                ).rowcount
        return count

    # -- progress ------------------------------------------------------------------------------

    def unfinished(self) -> int:
        """Items not yet done or failed (left or running): while any is, a worker may still be needed."""
        with self.readonly_db.connect() as conn:
            return conn.scalar(
                select(func.count())
                .select_from(batch_items)
                .where(batch_items.c.batch == self.batch, batch_items.c.status.in_((TODO, RUNNING)))
            )

    def counts(self) -> Counts:
        now = time.time()
        live = and_(batch_items.c.status == RUNNING, batch_items.c.lease_until >= now)
        c = batch_items.c
        with self.readonly_db.connect() as conn:
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
        with self.readonly_db.connect() as conn:
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
        with self.readonly_db.connect() as conn:
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
        with self.readonly_db.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(batch_items)
                    .where(batch_items.c.batch == self.batch)
                    .order_by(batch_items.c.seq)
                )
            ]
