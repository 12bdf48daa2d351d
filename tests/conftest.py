"""Shared fixtures: a fresh store in a temporary folder, and the scripted test engine."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from studio import engines  # noqa: E402
from studio.runner import Runner  # noqa: E402
from studio.store import Store  # noqa: E402

from .kits.fakes import ScriptedEngine  # noqa: E402


@pytest.fixture
def store(tmp_path, backend, request):
    """A fresh store: SQLite in tmp_path, or (tests marked `backends`) also a PostgreSQL database."""
    url = request.getfixturevalue("db_url") if backend == "postgresql" else None
    store = Store(url, data_dir=tmp_path / "data")
    yield store
    store.close()


@pytest.fixture
def runner(store):
    return Runner(store)


@pytest.fixture
def scripted():
    """Registers a fresh ScriptedEngine as "scripted" for one test."""
    engine = ScriptedEngine()
    engines.register("scripted", lambda: engine)
    yield engine
    engines.unregister("scripted")


# -- PostgreSQL beside SQLite ------------------------------------------------------------------
# A test module (or test) marked `@pytest.mark.backends` runs each of its tests that use the
# `store` (or `db_url`) fixture twice: on SQLite and on a real PostgreSQL server (tests/kits/pg.py).


def pytest_configure(config):
    config.addinivalue_line("markers", "backends: run the test's store on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("backends") and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def backend(request):
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def pg_databases():
    from .kits.pg import Cluster, Databases

    url = os.environ.get("STROKE_STUDIO_TEST_PG")
    cluster = None if url else Cluster()
    databases = Databases(url or cluster.url)
    yield databases
    databases.close()
    if cluster is not None:
        cluster.stop()


@pytest.fixture
def db_url(backend, request, tmp_path):
    """The URL of an empty database on the test's backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'studio.db'}"
        return
    databases = request.getfixturevalue("pg_databases")
    url = databases.create()
    yield url
    databases.drop(url)
