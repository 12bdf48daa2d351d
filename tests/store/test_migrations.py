"""Schema upgrades keep every row: a database written by an older studio opens in this one with all
of its sessions, steps, images and batches as they were, on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import inspect, select

from studio.batch.workqueue import WorkQueue
from studio.core.domain import RunSettings, Stage
from studio.runner import Runner
from studio.store import Store
from studio.store import opening as dbopen
from studio.store import tables as schema
from studio.store.migrations import upgrade

pytestmark = pytest.mark.backends  # each test's database on SQLite and on PostgreSQL

OLD_TABLES = ("sessions", "images", "steps", "batches", "batch_items")


def rows(engine, name, columns):
    """Every row of a table as tuples of `columns` (typed as the store declares them), in a stable order."""
    declared = getattr(schema, name)
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(select(*[declared.c[c] for c in columns])))


def insert_old(conn, name, columns, found):
    """Rows as an older studio wrote them: only `columns` (the store's typed table, so each database gets
    its own booleans and JSON; columns that did not exist then are not named at all)."""
    conn.execute(getattr(schema, name).insert(), [dict(zip(columns, row)) for row in found])


def source_data(tmp_path, scripted):
    """Sessions made the ordinary way (a human edit, a reject, a fork) and a batch, in a current store."""
    store = Store(data_dir=tmp_path / "source")
    runner = Runner(store)
    for prompt in ("a cat and a dog", "a red kite"):
        t = runner.new_session(
            prompt, engine="scripted", seed=3, settings=RunSettings(max_rounds=3), tags=("x",)
        )
        runner.run(t)
        sketch = next(s for s in t.branch() if s.stage is Stage.SKETCH)
        runner.reject(t, sketch.id, "too dark", by="ana")
        runner.edit_plan(t, t.branch()[0].id, instruction="draw a black cat")
    items = [
        dict(mode="process", prompt_index=i, sample=0, prompt=f"p{i}", row={"i": i}, seed=i)
        for i in range(3)
    ]
    WorkQueue(store.db, "run1").ensure({"engine": "scripted"}, items)
    return store


def test_a_0002_database_with_data_keeps_every_row_through_0003(tmp_path, db_url, scripted):
    source = source_data(tmp_path, scripted)
    (tmp_path / "data").mkdir(exist_ok=True)
    old = dbopen.make_db(db_url)
    upgrade(old, "0002")
    old_columns = {name: [c["name"] for c in inspect(old).get_columns(name)] for name in OLD_TABLES}
    assert "owner" not in old_columns["sessions"] and "annotator" not in old_columns["steps"]
    id_at = old_columns["steps"].index("id")
    step_rows = {row[id_at]: row for row in rows(source.db, "steps", old_columns["steps"])}
    in_tree_order = [
        s.id
        for t in map(source.load, (s.id for s in source.list_sessions()))
        for s in t.tree_order()
    ]
    with old.begin() as conn:  # parents first, for the foreign keys
        for name in ("sessions", "images", "batches", "batch_items"):
            insert_old(conn, name, old_columns[name], rows(source.db, name, old_columns[name]))
        insert_old(conn, "steps", old_columns["steps"], [step_rows[i] for i in in_tree_order])
    before = {name: rows(old, name, old_columns[name]) for name in OLD_TABLES}
    assert all(before[name] for name in OLD_TABLES)
    old.dispose()

    store = Store(db_url, data_dir=tmp_path / "data")  # migrates to the newest revision
    assert {name: rows(store.db, name, old_columns[name]) for name in OLD_TABLES} == before
    assert rows(store.db, "sessions", ["owner", "shared"]) == [("", False), ("", False)]
    assert {row[0] for row in rows(store.db, "steps", ["annotator"])} == {None}
    assert store.judgements() == []
    for session in source.list_sessions():
        migrated, original = store.load(session.id), source.load(session.id)
        assert migrated.session == dataclasses.replace(original.session, owner="")
        assert migrated.steps == {k: s.replace(annotator=None) for k, s in original.steps.items()}
    assert store.count_sessions() == 2
    store.close()
    source.close()


def test_downgrading_0003_drops_only_what_it_added(tmp_path, db_url, scripted):
    """A plain DROP COLUMN, not a table copy: on SQLite a copy of `sessions` would cascade-delete the steps."""
    from alembic import command

    from studio.store.migrations import config

    (tmp_path / "data").mkdir(exist_ok=True)
    store = Store(db_url, data_dir=tmp_path / "data")
    runner = Runner(store)
    t = runner.new_session("a cat", engine="scripted", owner="ana")
    runner.run(t)
    runner.rate(t, t.branch()[-1].id, "up", by="ben")
    columns = {
        name: [c["name"] for c in inspect(store.db).get_columns(name)] for name in OLD_TABLES
    }
    old_columns = {
        name: [c for c in found if c not in ("owner", "shared", "annotator")]
        for name, found in columns.items()
    }
    before = {name: rows(store.db, name, old_columns[name]) for name in OLD_TABLES}
    cfg = config()
    with store.db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    after = inspect(store.db)
    assert "judgements" not in after.get_table_names()
    assert [c["name"] for c in after.get_columns("sessions")] == old_columns["sessions"]
    assert [c["name"] for c in after.get_columns("steps")] == old_columns["steps"]
    assert {name: rows(store.db, name, old_columns[name]) for name in OLD_TABLES} == before
    assert len(before["steps"]) == len(t.steps)
    store.close()
