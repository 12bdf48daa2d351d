"""What only PostgreSQL does: the store on a real server (tests/kits/pg.py starts a throwaway one, or set
STROKE_STUDIO_TEST_PG to a server of your own), claims that skip each other's locked rows, and
workers creating a new database's schema at the same moment.

The store, runner, batch and export specs run on PostgreSQL too (their modules are marked
`backends`); these are the PostgreSQL-only ones.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from studio.batch.workqueue import WorkQueue
from studio.core.domain import Conflict, Stage
from studio.runner import Runner
from studio.store import Store
from studio.store.tables import batch_items

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def test_a_whole_session_with_human_actions_round_trips_on_postgres(store, scripted):
    scripted.fail_rounds = {1}
    runner = Runner(store)
    trajectory = runner.new_session("a cat and a dog", engine="scripted", seed=4)
    plan = runner.advance(trajectory)
    runner.edit_plan(trajectory, plan.id, instruction="draw a tabby cat")
    sketch = runner.advance(trajectory)
    runner.reject(trajectory, sketch.id, note="blurry")
    runner.run(trajectory)
    runner.fork(trajectory, plan.id)
    runner.advance(trajectory)
    reopened = Store(store.url, store.data_dir).load(trajectory.session.id)
    assert reopened.steps == trajectory.steps and reopened.session == trajectory.session
    assert any(s.stage is Stage.REFINE for s in reopened.steps.values())
    stale = runner.open(trajectory.session.id)
    runner.advance(trajectory)
    with pytest.raises(Conflict):
        runner.accept(stale, sketch.id)
    store.delete_session(trajectory.session.id)
    assert store.list_sessions() == []


def _queue(store, worker: str) -> WorkQueue:
    queue = WorkQueue(store.db, "b", worker=worker, lease_s=60)
    items = [
        dict(
            mode="process",
            prompt_index=n,
            sample=0,
            prompt=f"prompt {n}",
            row={"prompt": f"prompt {n}"},
            seed=n,
        )
        for n in range(3)
    ]
    queue.ensure({"k": 1}, items)
    return queue


def test_a_claim_skips_the_row_another_claimer_has_locked_instead_of_waiting(store):
    first, second = _queue(store, "a"), _queue(store, "b")
    with store.db.connect() as conn:
        held = (
            conn.begin()
        )  # a claimer stalled in the middle of its claim, holding item 0's row lock
        conn.execute(select(batch_items).where(batch_items.c.seq == 0).with_for_update())
        got: list = []
        thread = threading.Thread(target=lambda: got.append(second.claim()))
        thread.start()
        thread.join(10)
        assert not thread.is_alive(), "the claim waited for the lock (no SKIP LOCKED)"
        assert got[0].seq == 1
        held.rollback()
    assert first.claim().seq == 0 and first.claim().seq == 2 and first.claim() is None


def test_workers_opening_a_new_database_at_once_create_its_schema_once(db_url, tmp_path):
    errors: list[Exception] = []

    def open_store(n: int) -> None:
        try:
            Store(db_url, tmp_path / "data").close()
        except Exception as error:  # a collision creating the tables would land here
            errors.append(error)

    threads = [threading.Thread(target=open_store, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
