"""`studio batch`: every (prompt, sample) becomes exactly one session, on SQLite and on PostgreSQL.

These run workers in this process (threads stand in for processes where two are needed); the
launcher, several processes and a SIGKILLed worker are in test_batch_launch.py.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from studio import engines
from studio.batch import BatchOptions, Worker, sample_seed, status
from studio.batch.workqueue import WorkQueue
from studio.core.domain import Stage
from studio.runner import Runner
from studio.store import Store

from ..kits.batch_engines import Flaky, Slow
from ..kits.cli_support import studio

pytestmark = pytest.mark.backends


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("a red apple\n\ntwo cats on a sofa\na dog left of a cup\n")
    return path


def options(prompts, db_url, tmp_path, **changes) -> BatchOptions:
    base = dict(
        prompts=prompts, name="run1", samples=2, rounds=2, db=db_url, data_dir=tmp_path / "data"
    )
    return BatchOptions(**(base | changes))


def run_worker(opts: BatchOptions) -> list:
    worker = Worker(opts)
    try:
        worker.prepare()
        return worker.run()
    finally:
        worker.close()


def batch_sessions(store: Store, name: str = "run1"):
    return [s for s in store.list_sessions(limit=10_000) if f"batch:{name}" in s.tags]


def test_every_prompt_and_sample_is_one_finished_session_with_the_bench_seed(
    prompts, db_url, tmp_path
):
    results = run_worker(options(prompts, db_url, tmp_path, mode="both", tags=("mine",)))
    assert [r.status for r in results] == ["done"] * 12  # 3 prompts × 2 samples × 2 modes
    store = Store(db_url, tmp_path / "data")
    found = batch_sessions(store)
    assert len(found) == 12 and len({s.id for s in found}) == 12
    keys = Counter((s.settings.mode.value, s.prompt, s.seed) for s in found)
    assert set(keys.values()) == {1}
    for r in results:
        session = store.session(r.session_id)
        assert session.seed == sample_seed(
            0, r.item.prompt_index, r.item.sample
        )  # as studio bench geneval
        assert {"batch:run1", f"mode:{r.item.mode}", "mine"} <= set(session.tags)
        assert store.load(session.id).head().stage is Stage.FINAL
    by_mode = {
        m: sorted(s.seed for s in found if s.settings.mode.value == m)
        for m in ("single", "process")
    }
    assert by_mode["single"] == by_mode["process"]  # both modes see the same seeds
    store.close()


def test_the_same_command_twice_does_nothing_the_second_time(prompts, db_url, tmp_path):
    run_worker(options(prompts, db_url, tmp_path))
    store = Store(db_url, tmp_path / "data")
    before = {s.id: s.version for s in batch_sessions(store)}
    items_before = WorkQueue(store.db, "run1").items()
    assert run_worker(options(prompts, db_url, tmp_path)) == []
    assert {s.id: s.version for s in batch_sessions(store)} == before
    assert WorkQueue(store.db, "run1").items() == items_before
    store.close()


def test_a_rerun_with_other_settings_is_refused_naming_what_differs(
    prompts, db_url, tmp_path, capsys
):
    run_worker(options(prompts, db_url, tmp_path, samples=1))
    code, _, err = studio(
        capsys,
        "batch",
        prompts,
        "--name",
        "run1",
        "--samples",
        "3",
        "--rounds",
        "2",
        "--db",
        db_url,
        "--data-dir",
        tmp_path / "data",
    )
    assert (
        code == 1
        and "already exists with other settings (samples)" in err
        and "Traceback" not in err
    )


def test_two_workers_share_the_batch_and_do_each_item_once(prompts, db_url, tmp_path):
    engines.register("slow", lambda: Slow(stage_s=0.05))
    try:
        opts = options(prompts, db_url, tmp_path, engine="slow", samples=3)
        Worker(opts).prepare()
        results: dict[int, list] = {}
        threads = [
            threading.Thread(target=lambda n=n: results.__setitem__(n, run_worker(opts)))
            for n in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        engines.unregister("slow")
    done = [r.item.seq for rs in results.values() for r in rs if r.status == "done"]
    assert sorted(done) == list(range(9))  # every item, each once
    assert all(results[n] for n in range(2))  # and both workers had a share


def test_an_engine_error_is_recorded_the_batch_goes_on_and_retry_failed_retries_it(
    tmp_path, db_url, monkeypatch, capsys
):
    engines.register("flaky", Flaky)
    try:
        prompts = tmp_path / "p.txt"
        prompts.write_text("a red apple\nFAIL a blue cup\na green tree\n")
        opts = options(prompts, db_url, tmp_path, engine="flaky", samples=1, name="flaky")
        results = run_worker(opts)
        assert [r.status for r in results] == ["done", "failed", "done"]
        assert results[1].error == "RuntimeError: the model ran out of patience"
        store = Store(db_url, tmp_path / "data")
        report = status(store, "flaky")
        assert (report["done"], report["failed"], report["left"], report["running"]) == (2, 1, 0, 0)
        assert report["errors"] == [
            {"item": 1, "error": "RuntimeError: the model ran out of patience"}
        ]
        assert run_worker(opts) == []  # a plain re-run leaves failures alone
        code, out, _ = studio(
            capsys, "batch", "status", "flaky", "--db", db_url, "--data-dir", tmp_path / "data"
        )
        assert (
            code == 0
            and "2 done, 0 running, 1 failed, 0 left of 3" in out
            and "ran out of patience" in out
        )
        monkeypatch.setenv("STUDIO_TEST_FIXED", "1")
        retried = run_worker(
            options(
                prompts,
                db_url,
                tmp_path,
                engine="flaky",
                samples=1,
                name="flaky",
                retry_failed=True,
            )
        )
        assert [(r.item.seq, r.status) for r in retried] == [(1, "done")]
        assert status(store, "flaky")["done"] == 3 and len(batch_sessions(store, "flaky")) == 3
        store.close()
    finally:
        engines.unregister("flaky")


def test_a_dead_workers_item_is_taken_over_after_its_lease_and_resumed_from_its_last_stage(
    prompts, db_url, tmp_path
):
    opts = options(prompts, db_url, tmp_path, samples=1, lease_s=2.0)
    Worker(opts).prepare()
    store = Store(db_url, tmp_path / "data")
    dead = WorkQueue(store.db, "run1", worker="dead-worker", lease_s=2.0)
    claimed = time.monotonic()
    item = (
        dead.claim()
    )  # it claims, starts the session, commits two stages, and dies (never renews)
    runner = Runner(store)
    trajectory = runner.new_session(
        item.prompt,
        "offline",
        item.seed,
        title="x",
        tags=("batch:run1",),
        session_id=item.session_id,
    )
    kept = [runner.advance(trajectory).id, runner.advance(trajectory).id]
    results = run_worker(opts)
    assert time.monotonic() - claimed >= 2.0  # it waited for the lease to run out
    assert sorted((r.item.seq, r.status) for r in results) == [
        (0, "done"),
        (1, "done"),
        (2, "done"),
    ]
    resumed = store.load(item.session_id)
    assert set(kept) <= set(resumed.steps) and resumed.head().stage is Stage.FINAL
    assert [s.id for s in resumed.branch()][
        :2
    ] == kept  # carried on from the dead worker's last stage
    assert len(batch_sessions(store)) == 3
    assert dead.finish(item) is False  # a holder presumed dead that wakes up is fenced off
    assert WorkQueue(store.db, "run1").items()[0]["attempts"] == 2
    store.close()


def test_status_counts_left_running_and_done_from_the_database(prompts, db_url, tmp_path, capsys):
    opts = options(prompts, db_url, tmp_path, samples=2)
    Worker(opts).prepare()
    store = Store(db_url, tmp_path / "data")
    queue = WorkQueue(store.db, "run1", worker="w1", lease_s=60)
    first, second = queue.claim(), queue.claim()
    queue.finish(first)
    report = status(store, "run1")
    assert (report["total"], report["done"], report["running"], report["left"]) == (6, 1, 1, 4)
    assert report["workers"] == ["w1"] and report["per_minute"] > 0 and report["eta_s"] > 0
    queue.release(second)
    code, out, _ = studio(
        capsys, "batch", "status", "run1", "--json", "--db", db_url, "--data-dir", tmp_path / "data"
    )
    assert code == 0 and '"left": 5' in out
    store.close()


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("a cat\n", ["--mode", "sideways"], "--mode 'sideways': use single, process or both"),
        ("a cat\n", ["--name", "../etc"], "may hold only letters, digits"),
        ("a cat\n", ["--samples", "0"], "--samples is 0; it must be between 1"),
        ("a cat\n", ["--engine", "nosuch"], "Unknown engine 'nosuch'"),
        ("a cat\n", ["--params", "[1]"], "must be a JSON object"),
        ('{"prompt": "a cat"}\nnot json\n', [], "line 2: not a JSON object"),
        ('{"tag": "x"}\n', [], 'line 1: expected a JSON object with a "prompt"'),
        ("\n\n", [], "holds no prompts"),
        (b"a caf\xe9\n", [], "is not UTF-8 text"),
        (None, [], "Cannot read the prompt file"),
    ],
)
def test_bad_batch_input_is_one_line_and_creates_nothing(capsys, tmp_path, content, args, message):
    path = tmp_path / "prompts.txt"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = studio(capsys, "batch", path, *args, "--data-dir", tmp_path / "data")
    assert code == 1 and message in " ".join(err.split()) and "Traceback" not in err + out
    assert (
        not (tmp_path / "data" / "studio.db").exists()
        or not Store(data_dir=tmp_path / "data").list_sessions()
    )


@pytest.mark.parametrize(
    "visible, local_rank, world, pinned",
    [
        ("2,3", 1, 2, "3"),  # the LOCAL_RANK-th visible GPU
        ("2,3", 2, 3, "2"),  # more workers than GPUs: round robin
        ("", 0, 2, None),  # no GPU visible: nothing to pin (a CPU machine, as in CI)
        ("5", 0, 1, None),  # a lone worker with no launcher around it keeps what it was given
    ],
)
def test_each_worker_pins_its_gpu_from_the_launchers_local_rank(
    monkeypatch, visible, local_rank, world, pinned
):
    import sys

    from studio.batch.placement import Place, pin_device

    monkeypatch.delitem(
        sys.modules, "torch", raising=False
    )  # as in a fresh worker: no engine has imported it yet
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    if world == 1:
        monkeypatch.delenv("LOCAL_RANK", raising=False)
    else:
        monkeypatch.setenv("LOCAL_RANK", str(local_rank))
    place = Place.from_env(
        {"RANK": str(local_rank), "LOCAL_RANK": str(local_rank), "WORLD_SIZE": str(world)}
    )
    described = pin_device(place)
    assert (described is None) == (pinned is None)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == (pinned if pinned is not None else visible)


def _finish_at(store, queue: WorkQueue, started: float, finished: float) -> None:
    """Claim and finish the next item, then date it as if it had run from `started` to `finished`."""
    from studio.store.tables import batch_items

    item = queue.claim()
    queue.finish(item)
    with store.db.begin() as conn:
        conn.execute(
            batch_items.update()
            .where(batch_items.c.batch == item.batch, batch_items.c.seq == item.seq)
            .values(started_at=started, finished_at=finished)
        )


def test_the_eta_follows_the_recent_throughput_of_all_workers_not_the_whole_batch(
    prompts, db_url, tmp_path, capsys
):
    Worker(options(prompts, db_url, tmp_path, samples=4)).prepare()  # 12 items
    store = Store(db_url, tmp_path / "data")
    one, two = (WorkQueue(store.db, "run1", worker=w) for w in ("w1", "w2"))
    now = time.time()
    for k in range(4):  # yesterday: a slow hour, then the batch was stopped
        _finish_at(store, one, now - 86_400, now - 86_400 + 900 * (k + 1))
    for k in range(4):  # today, for two minutes: two workers, a session every 30 s between them
        _finish_at(store, (one, two)[k % 2], now - 120, now - 120 + 30 * (k + 1))
    held = two.claim()
    report = status(store, "run1")
    assert report["finished_in_window"] == 4 and 119 <= report["window_s"] <= 130
    assert report["per_minute"] == pytest.approx(2.0, rel=0.08)  # not 8 in a day (0.006 a minute)
    assert report["eta_s"] == pytest.approx(
        4 / 2.0 * 60, rel=0.08
    )  # 3 left + 1 running at 2 a minute
    code, out, _ = studio(
        capsys, "batch", "status", "run1", "--db", db_url, "--data-dir", tmp_path / "data"
    )
    assert (
        code == 0
        and "sessions/min over the last 2 min (4 finished, all workers)" in out
        and "ETA 2.0 min" in out
    )
    two.release(held)  # nobody works on it now: no ETA rather than a made-up one
    assert status(store, "run1")["eta_s"] is None
    code, out, _ = studio(
        capsys, "batch", "status", "run1", "--db", db_url, "--data-dir", tmp_path / "data"
    )
    assert "ETA unknown (no worker is running)" in out
    store.close()


def test_a_stopped_worker_hands_its_item_back_and_the_next_run_carries_its_session_on(
    prompts, db_url, tmp_path
):
    engines.register("slow", lambda: Slow(stage_s=0.2))
    try:
        opts = options(prompts, db_url, tmp_path, engine="slow", samples=1)
        worker = Worker(opts)
        worker.prepare()
        thread = threading.Thread(target=worker.run)
        thread.start()
        store = Store(db_url, tmp_path / "data")
        queue = WorkQueue(store.db, "run1")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = [i for i in queue.items() if i["status"] == "running"]
            if (
                held
                and store.has_session(held[0]["session_id"])
                and store.count_steps(held[0]["session_id"]) >= 1
            ):
                break
            time.sleep(0.02)
        worker.stop()
        thread.join(30)
        assert not thread.is_alive()
        worker.close()
        back = next(i for i in queue.items() if i["seq"] == held[0]["seq"])
        assert (
            back["status"] == "todo" and back["session_id"] == held[0]["session_id"]
        )  # handed back, not lost
        kept = set(store.load(back["session_id"]).steps)
        results = run_worker(opts)
        assert sorted(r.item.seq for r in results if r.status == "done") == [
            i["seq"] for i in queue.items() if i["seq"] >= back["seq"]
        ]
        assert kept <= set(store.load(back["session_id"]).steps)  # carried on, not started again
        assert next(i for i in queue.items() if i["seq"] == back["seq"])["attempts"] == 2
        assert len(batch_sessions(store)) == 3
        store.close()
    finally:
        engines.unregister("slow")


def test_items_held_by_a_dead_process_on_this_machine_are_carried_on_at_once_not_after_their_lease(
    prompts, db_url, tmp_path
):
    import socket
    import subprocess

    opts = options(prompts, db_url, tmp_path, samples=1, lease_s=600.0)
    Worker(opts).prepare()
    store = Store(db_url, tmp_path / "data")
    gone = subprocess.Popen(["true"])
    gone.wait()  # exited and reaped: its pid names no process now
    host = socket.gethostname()[:64]
    dead = WorkQueue(store.db, "run1", worker=f"{host}:{gone.pid}:rank0", lease_s=600.0)
    alive = WorkQueue(store.db, "run1", worker=f"{host}:{os.getpid()}:rank1", lease_s=600.0)
    held_by_dead, held_by_live = dead.claim(), alive.claim()
    assert alive.reclaim_dead_here() == 1  # the dead one only: the live holder keeps its lease
    assert [i["status"] for i in WorkQueue(store.db, "run1").items()] == [
        "todo",
        "running",
        "todo",
    ]
    alive.finish(held_by_live)
    started = time.monotonic()
    results = run_worker(opts)
    assert time.monotonic() - started < 60  # not the 600 s lease
    assert sorted(r.item.seq for r in results) == [held_by_dead.seq, 2]
    assert dead.finish(held_by_dead) is False  # fenced, were it to come back
    store.close()
