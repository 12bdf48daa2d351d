"""The store: schema history, images on disk, listing and deleting sessions."""

from __future__ import annotations

import pytest
from PIL import Image
from sqlalchemy import create_engine

from studio.core.domain import RunSettings
from studio.runner import Runner
from studio.store import Store
from studio.store.migrations import revisions
from studio.store.tables import KNOWN_REVISIONS, metadata

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


def test_the_migrations_build_exactly_the_schema_the_code_declares(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    assert revisions() == list(KNOWN_REVISIONS)
    with create_engine(store.url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    store = Store(data_dir=tmp_path / "data")
    with store.db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_images_are_content_addressed_pngs_written_once(store):
    image = Image.new("RGB", (20, 10), (200, 10, 10))
    ref = store.save_image(image)
    again = store.save_image(image.copy())
    path = store.image_path(ref.sha256)
    assert ref == again and (ref.width, ref.height) == (20, 10)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size == ref.byte_size
    assert list(path.parent.glob(".tmp-*")) == []
    assert store.load_image(ref).getpixel((0, 0)) == (200, 10, 10)


def test_a_database_url_keeps_its_images_beside_it(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'elsewhere' / 'mine.db'}")
    assert store.images_dir == tmp_path / "elsewhere" / "images"
    store.close()


def test_list_search_and_delete_sessions(store, scripted):
    runner = Runner(store)
    cat = runner.new_session("a black cat", engine="scripted", settings=RunSettings())
    dog = runner.new_session("a white dog", engine="scripted")
    runner.run(cat)
    runner.run(dog)
    assert [s.prompt for s in store.list_sessions(search="CAT")] == ["a black cat"]
    assert {s.id for s in store.list_sessions()} == {cat.session.id, dog.session.id}
    cat_images = {s.image.sha256 for s in cat.steps.values() if s.image}
    dog_images = {s.image.sha256 for s in dog.steps.values() if s.image}
    store.delete_session(cat.session.id[:6])
    assert [s.id for s in store.list_sessions()] == [dog.session.id]
    assert not any(store.image_path(h).exists() for h in cat_images - dog_images)
    assert all(store.image_path(h).exists() for h in dog_images)


def test_a_session_reopens_exactly_as_it_was(store, scripted):
    runner = Runner(store)
    trajectory = runner.new_session("a cat and a dog", engine="scripted", seed=9, tags=("bench",))
    runner.run(trajectory)
    reopened = Store(store.url).load(trajectory.session.id)
    assert reopened.session == trajectory.session
    assert reopened.steps == trajectory.steps


def test_search_counts_and_matches_percent_and_underscore_literally(store, scripted):
    runner = Runner(store)
    for prompt in ("100% cotton cat", "a black_cat", "a white dog"):
        runner.new_session(prompt, engine="scripted")
    assert [s.prompt for s in store.list_sessions(search="%")] == ["100% cotton cat"]
    assert [s.prompt for s in store.list_sessions(search="k_c")] == ["a black_cat"]
    assert (
        store.count_sessions() == 3
        and store.count_sessions("CAT") == 2
        and store.count_sessions("%_") == 0
    )


def test_refusing_a_newer_database_leaves_its_header_out_of_wal_mode(tmp_path):
    import sqlite3

    import pytest

    from studio.core.domain import StudioError

    path = tmp_path / "newer.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StudioError, match="newer Stroke Studio"):
        Store(f"sqlite:///{path}")
    assert (
        path.read_bytes() == before and before[18:20] == b"\x01\x01"
    )  # still a rollback-journal file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.db"]


def test_taken_step_ids_are_those_any_session_uses(store, scripted):
    runner = Runner(store)
    trajectory = runner.new_session("a cat", engine="scripted")
    runner.run(trajectory)
    mine = list(trajectory.steps)
    assert store.taken_step_ids(mine + ["0" * 32]) == set(mine)


def test_a_tag_filter_applies_before_the_limit(store, scripted):
    runner = Runner(store)
    tagged = [
        runner.new_session(f"a cat {i}", engine="scripted", tags=("batch:cats",)).session.id
        for i in range(3)
    ]
    for i in range(5):  # newer, untagged sessions that a filter after LIMIT would have counted
        runner.new_session(
            f"a dog {i}", engine="scripted", tags=("batch:cats-and-dogs", "batch:cat")
        )
    found = store.list_sessions(tag="batch:cats", limit=3)
    assert sorted(s.id for s in found) == sorted(
        tagged
    )  # exactly the tag, not a prefix or a longer one
    assert (
        store.list_sessions(tag="batch:%", limit=10) == []
    )  # % is a character here, not a wildcard


def test_processes_opening_one_new_sqlite_folder_at_once_all_get_in(tmp_path):
    """Batch workers started together create the same new database. Switching a new file to WAL
    made SQLite answer "database is locked" at once to the others (2 of 60 opens failed here before
    the switch was retried); now every process waits its turn."""
    import subprocess
    import sys

    code = (
        "import sys; from studio.store.store import Store; s = Store(data_dir=sys.argv[1]); "
        "s.list_sessions(limit=1); s.close()"
    )
    failures = []
    for trial in range(8):
        folder = tmp_path / f"data-{trial}"
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(folder)], stderr=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        failures += [err for w in workers if (err := w.communicate()[1]) and w.returncode]
    assert failures == []
