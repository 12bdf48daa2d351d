"""Shared fixtures: a fresh store in a temporary folder, and the scripted test engine."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from studio import engines  # noqa: E402
from studio.runner import Runner  # noqa: E402
from studio.store import Store  # noqa: E402

from .fakes import ScriptedEngine  # noqa: E402


@pytest.fixture
def store(tmp_path):
    store = Store(data_dir=tmp_path / "data")
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
