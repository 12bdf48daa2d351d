"""The schema and the store on PostgreSQL, when a server is given.

Set STROKE_STUDIO_TEST_PG to a SQLAlchemy URL of an empty, disposable database, e.g.
postgresql+psycopg://studio:studio@127.0.0.1/studio_test (needs `pip install "psycopg[binary]"`).
Every table in it is dropped first.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import MetaData, create_engine

from studio.domain import Conflict, Stage
from studio.runner import Runner
from studio.store import Store

URL = os.environ.get("STROKE_STUDIO_TEST_PG")
pytestmark = pytest.mark.skipif(not URL, reason="set STROKE_STUDIO_TEST_PG to a disposable PostgreSQL URL")


@pytest.fixture
def pg_store(tmp_path):
    engine = create_engine(URL)
    old = MetaData()
    old.reflect(engine)
    old.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()
    store = Store(URL, tmp_path / "data")
    yield store
    store.close()


def test_a_whole_session_with_human_actions_round_trips_on_postgres(pg_store, scripted):
    scripted.fail_rounds = {1}
    runner = Runner(pg_store)
    trajectory = runner.new_session("a cat and a dog", engine="scripted", seed=4)
    plan = runner.advance(trajectory)
    runner.edit_plan(trajectory, plan.id, instruction="draw a tabby cat")
    sketch = runner.advance(trajectory)
    runner.reject(trajectory, sketch.id, note="blurry")
    runner.run(trajectory)
    runner.fork(trajectory, plan.id)
    runner.advance(trajectory)
    reopened = Store(URL, pg_store.data_dir).load(trajectory.session.id)
    assert reopened.steps == trajectory.steps and reopened.session == trajectory.session
    assert any(s.stage is Stage.REFINE for s in reopened.steps.values())
    stale = runner.open(trajectory.session.id)
    runner.advance(trajectory)
    with pytest.raises(Conflict):
        runner.accept(stale, sketch.id)
    pg_store.delete_session(trajectory.session.id)
    assert pg_store.list_sessions() == []
