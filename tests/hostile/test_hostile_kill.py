"""SIGKILL at any moment, including in the middle of a commit: the database stays sound (SQLite's
integrity_check and the store's own quick_check on opening), every session loads, nothing is half
written, and a killed session carries on with `resume`.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.runner import Runner
from studio.store import Store

from ..kits import hostile_kit as kit

ROOT = Path(__file__).resolve().parents[2]
TALLY = kit.Tally("kill")

LOOP = """
import sys
from studio.runner import Runner
from studio.store import Store
runner = Runner(Store(data_dir=sys.argv[1]))
print("ready", flush=True)
for n in range(1000):
    trajectory = runner.new_session("two red apples and a blue cup", seed=n)
    runner.run(trajectory)
"""

# Holds the transaction open, with its rows written, right before COMMIT: a kill then lands mid-commit.
MID_COMMIT = """
import sys, time
from pathlib import Path
from sqlalchemy import event
from studio.runner import Runner
from studio.store import Store
store = Store(data_dir=sys.argv[1])
runner = Runner(store)
trajectory = runner.open(sys.argv[3])
count = [0]

@event.listens_for(store.db, "commit")
def hold(conn):
    count[0] += 1
    if count[0] == int(sys.argv[4]):
        Path(sys.argv[2]).touch()
        time.sleep(60)

runner.run(trajectory)
"""


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    TALLY.save()


def child(code: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )


def sound(folder: Path) -> None:
    """The database passes SQLite's full check, opens in the store, and every session loads whole."""
    with sqlite3.connect(folder / "studio.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        orphans = conn.execute(
            "SELECT count(*) FROM steps WHERE parent_id IS NOT NULL AND parent_id NOT IN "
            "(SELECT id FROM steps)"
        ).fetchone()[0]
        assert orphans == 0
    conn.close()
    store = Store(data_dir=folder)
    try:
        for session in store.list_sessions(limit=10_000):
            trajectory = store.load(session.id)
            trajectory.tree_order()
            for step in trajectory.steps.values():
                if step.image is not None:
                    assert store.image_path(step.image.sha256).is_file()
    finally:
        store.close()


def test_random_kills_never_damage_the_database_and_every_session_resumes(tmp_path):
    folder = tmp_path / "data"
    Store(data_dir=folder).close()
    rng = random.Random(12)
    for _ in range(6):
        process = child(LOOP, folder)
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
        time.sleep(rng.uniform(0.05, 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        ok = True
        try:
            sound(folder)
        except AssertionError:
            ok = False
        TALLY.record(refused_cleanly=ok, should_refuse=True, changed=not ok)
        assert ok
    store = Store(data_dir=folder)
    try:
        runner = Runner(store)
        for session in store.list_sessions(limit=10_000):
            assert runner.run(runner.open(session.id)).status == "finished"
    finally:
        store.close()
    sound(folder)


@pytest.mark.parametrize("commit_number", [1, 3])
def test_a_kill_in_the_middle_of_a_commit_keeps_all_or_nothing(tmp_path, commit_number):
    folder = tmp_path / "data"
    store = Store(data_dir=folder)
    runner = Runner(store)
    trajectory = runner.new_session("a red apple left of a blue cup", seed=4)
    runner.advance(trajectory)
    store.close()
    holding = tmp_path / "holding"
    process = child(MID_COMMIT, folder, holding, trajectory.session.id, commit_number)
    deadline = time.monotonic() + 60
    while not holding.exists():
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    sound(folder)
    store = Store(data_dir=folder)
    try:
        reopened = store.load(trajectory.session.id)
        # the commit in flight is absent entirely: as many steps as versions before it, no more
        assert len(reopened.steps) == reopened.session.version == commit_number
        assert Runner(store).run(reopened).status == "finished"
    finally:
        store.close()
    TALLY.record(refused_cleanly=True)


def test_a_database_damaged_after_a_kill_is_refused_not_written(capsys, tmp_path):
    """The worst case a kill on a bad disk leaves: pages overwritten. Every command refuses it."""
    from ..kits.cli_support import studio

    folder = tmp_path / "data"
    store = Store(data_dir=folder)
    runner = Runner(store)
    runner.run(runner.new_session("a cat", seed=1))
    store.close()
    kit.corrupt(folder / "studio.db")
    before = kit.file_bytes(folder / "studio.db")
    for command in (
        ["sessions"],
        ["run", "a dog"],
        ["resume", "abcd"],
        ["export", "--format", "folder", "--out", str(tmp_path / "out")],
    ):
        code, out, err = studio(capsys, *command, "--data-dir", folder)
        refused = kit.one_line_error(code, out, err) and "damaged" in err
        changed = kit.file_bytes(folder / "studio.db") != before
        TALLY.record(refused_cleanly=refused, traceback="Traceback" in err, changed=changed)
        assert refused and not changed, err
