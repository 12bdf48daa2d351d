"""Nothing is lost: a killed process resumes, concurrent writers keep every step, stale tabs get a conflict."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.core.domain import Conflict, RunSettings, Stage
from studio.runner import Runner
from studio.store import Store

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from pathlib import Path
from studio import engines
from studio.runner import Runner
from studio.store import Store
from tests.kits.fakes import ScriptedEngine

engine = ScriptedEngine(gate=Path(sys.argv[2]), started=Path(sys.argv[3]))
engines.register("scripted", lambda: engine)
runner = Runner(Store(data_dir=sys.argv[1]))
trajectory = runner.new_session("a cat and a dog", engine="scripted", seed=1)
print(trajectory.session.id, flush=True)
runner.run(trajectory)
"""


def test_a_process_killed_mid_stage_resumes_from_its_last_committed_step(tmp_path, scripted):
    data = tmp_path / "data"
    gate, started = tmp_path / "gate", tmp_path / "started"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), str(gate), str(started)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    session_id = child.stdout.readline().strip()
    deadline = time.monotonic() + 60
    while not started.exists():  # the plan is committed and the sketch is being drawn
        assert time.monotonic() < deadline and child.poll() is None, (
            "the child never reached the sketch"
        )
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    store = Store(data_dir=data)
    trajectory = Runner(store).open(session_id)
    assert [s.stage for s in trajectory.branch()] == [
        Stage.PLAN
    ]  # only the sketch in flight was lost
    outcome = Runner(store).run(trajectory)
    assert outcome.status == "finished"
    assert [s.stage.value for s in trajectory.branch()] == [
        "plan",
        "sketch",
        "inspect",
        "plan",
        "sketch",
        "inspect",
        "final",
    ]
    assert len(store.load(session_id).steps) == 7  # nothing duplicated
    with sqlite3.connect(data / "studio.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_two_threads_writing_two_sessions_lose_nothing(tmp_path, scripted):
    scripted.fail_rounds = {1, 2, 3}
    stores = [
        Store(data_dir=tmp_path / "data"),
        Store(data_dir=tmp_path / "data"),
    ]  # as two processes would
    results, errors = {}, []

    def work(index):
        try:
            runner = Runner(stores[index])
            trajectory = runner.new_session(
                " and ".join(f"part {i}" for i in range(6)),
                engine="scripted",
                seed=index,
                settings=RunSettings(max_rounds=10),
            )
            runner.run(trajectory)
            results[trajectory.session.id] = len(trajectory.steps)
        except Exception as error:  # noqa: BLE001 — surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    assert len(results) == 2
    for session_id, count in results.items():
        assert count > 20
        assert len(stores[0].load(session_id).steps) == count


def test_a_stale_tab_gets_a_conflict_then_sees_the_change(store, scripted):
    runner = Runner(store)
    trajectory = runner.new_session("a cat", engine="scripted")
    plan = runner.advance(trajectory)
    other_tab = runner.open(trajectory.session.id)
    runner.advance(trajectory)  # the first tab draws the sketch
    with pytest.raises(Conflict, match="changed elsewhere"):
        runner.edit_plan(other_tab, plan.id, instruction="draw a dog")
    reloaded = runner.open(trajectory.session.id)
    assert [s.stage for s in reloaded.branch()] == [Stage.PLAN, Stage.SKETCH]
    edited = runner.edit_plan(reloaded, plan.id, instruction="draw a dog")
    assert edited.id != plan.id  # the drawn plan is kept; the edit is a new branch
