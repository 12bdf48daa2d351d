"""`studio batch` as separate worker processes, on SQLite and on PostgreSQL: started by accelerate's
launcher (torchrun underneath starts two CPU processes here), and a worker SIGKILLed mid-session.

The workers run `python -m tests.kits.batch_engines batch …`: the studio command with the tests' slowed
offline engine registered, so a worker can be caught holding a session that has committed stages.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.batch.workqueue import WorkQueue
from studio.store import Store

pytestmark = pytest.mark.backends

ROOT = Path(__file__).resolve().parents[2]
ACCELERATE = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which(
    "accelerate"
)


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("a red apple\ntwo cats on a sofa\na dog left of a cup\na blue car\n")
    return path


def worker_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "CUDA_VISIBLE_DEVICES")
    }
    return env | {"PYTHONPATH": str(ROOT), **extra}


def batch_args(prompts, db_url, tmp_path, *more: str) -> list[str]:
    return [
        "batch",
        str(prompts),
        "--name",
        "run1",
        "--rounds",
        "2",
        "--db",
        db_url,
        "--data-dir",
        str(tmp_path / "data"),
        *more,
    ]


def exactly_once(db_url, tmp_path, expected: int) -> list[dict]:
    """Every item done, each with its own session, and no other session tagged with the batch."""
    store = Store(db_url, tmp_path / "data")
    try:
        items = WorkQueue(store.db, "run1").items()
        assert len(items) == expected and {i["status"] for i in items} == {"done"}
        tagged = [s.id for s in store.list_sessions(limit=10_000) if "batch:run1" in s.tags]
        assert sorted(tagged) == sorted(i["session_id"] for i in items)
        assert all(store.load(i["session_id"]).head().stage.value == "final" for i in items)
        return items
    finally:
        store.close()


def launch(prompts, db_url, tmp_path, *more: str) -> subprocess.CompletedProcess:
    command = [
        ACCELERATE,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "tests.kits.batch_engines",
        *batch_args(prompts, db_url, tmp_path, "--engine", "slow", *more),
    ]
    return subprocess.run(
        command,
        cwd=ROOT,
        env=worker_env(STUDIO_TEST_STAGE_S="0.05"),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_accelerate_launch_starts_two_workers_that_share_the_batch_and_a_rerun_does_nothing(
    prompts, db_url, tmp_path
):
    assert ACCELERATE, "accelerate's launcher is a dev dependency (pip install -e '.[dev]')"
    first = launch(prompts, db_url, tmp_path, "--samples", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "worker 0/2" in first.stderr and "worker 1/2" in first.stderr
    items = exactly_once(db_url, tmp_path, 8)
    assert {i["worker"].rsplit(":", 1)[1] for i in items} == {"rank0", "rank1"}  # both took a share
    second = launch(prompts, db_url, tmp_path, "--samples", "2")
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("ran 0 session(s)") == 2
    assert exactly_once(db_url, tmp_path, 8) == items  # not a row changed


def test_a_worker_killed_mid_session_leaves_nothing_done_twice_or_lost(prompts, db_url, tmp_path):
    args = batch_args(
        prompts, db_url, tmp_path, "--engine", "slow", "--samples", "2", "--lease", "2"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.kits.batch_engines", *args],
            cwd=ROOT,
            env=worker_env(
                RANK=str(n), LOCAL_RANK=str(n), WORLD_SIZE="2", STUDIO_TEST_STAGE_S="0.3"
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    victim, survivor = workers
    try:
        store = Store(db_url, tmp_path / "data")
        killed = None
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and victim.poll() is None:
            held = [
                i
                for i in (WorkQueue(store.db, "run1").items() if _exists(store) else [])
                if i["status"] == "running" and f":{victim.pid}:" in (i["worker"] or "")
            ]
            if (
                held
                and store.has_session(held[0]["session_id"])
                and store.count_steps(held[0]["session_id"]) >= 2
            ):
                steps_before = set(store.load(held[0]["session_id"]).steps)
                victim.send_signal(signal.SIGKILL)
                killed = held[0]
            time.sleep(0.05)
        assert killed is not None, "the victim never held a session with committed stages"
        assert survivor.wait(180) == 0, survivor.stderr.read()[-3000:]
        store.close()
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
            process.wait()
    items = exactly_once(db_url, tmp_path, 8)
    taken_over = next(i for i in items if i["seq"] == killed["seq"])
    assert taken_over["attempts"] == 2 and f":{survivor.pid}:" in taken_over["worker"]
    store = Store(db_url, tmp_path / "data")
    assert steps_before <= set(store.load(killed["session_id"]).steps)  # resumed, not started again
    store.close()


def _exists(store: Store) -> bool:
    return WorkQueue(store.db, "run1").exists()


def test_bench_geneval_under_a_launcher_each_process_is_a_worker_and_rank_0_reports(
    db_url, tmp_path
):
    import json

    metadata = tmp_path / "evaluation_metadata.jsonl"
    rows = [
        {
            "tag": "single_object",
            "include": [{"class": c, "count": 1}],
            "prompt": f"a photo of a {c}",
        }
        for c in ("bench", "cup", "clock", "car")
    ]
    metadata.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "studio",
        "bench",
        "geneval",
        "--prompts",
        str(metadata),
        "--samples",
        "2",
        "--modes",
        "process",
        "--out",
        str(out),
        "--db",
        db_url,
        "--data-dir",
        str(tmp_path / "data"),
    ]
    workers = [
        subprocess.Popen(
            args,
            cwd=ROOT,
            env=worker_env(RANK=str(n), LOCAL_RANK=str(n), WORLD_SIZE="2"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    try:
        done = [w.communicate(timeout=240) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert [w.returncode for w in workers] == [0, 0], [e[-2000:] for _, e in done]
    assert "8 sample(s) generated" in done[0][0] and "rank 0 writes the report" in done[1][1]
    name = json.loads((out / "run.json").read_text())["batch"]
    store = Store(db_url, tmp_path / "data")
    items = WorkQueue(store.db, name).items()
    store.close()
    assert (
        len(items) == 8
        and {i["status"] for i in items} == {"done"}
        and {i["attempts"] for i in items} == {1}
    )
    assert json.loads((out / "report.json").read_text())["modes"]["process"]["images"] == 8
    assert all(
        (out / "process" / f"{i:05d}" / "samples" / f"{s:04d}.png").is_file()
        for i in range(4)
        for s in range(2)
    )


def test_a_bench_killed_mid_session_resumes_at_once_when_run_again_and_then_does_nothing(
    db_url, tmp_path
):
    """The whole `studio bench geneval` command SIGKILLed while its worker holds a sample with committed
    stages: the same command again carries that session on at once (the holder's process is gone, so
    its 60 s lease is not waited out), every sample is done exactly once, and a third run does nothing."""
    import json

    metadata = tmp_path / "evaluation_metadata.jsonl"
    rows = [
        {
            "tag": "single_object",
            "include": [{"class": c, "count": 1}],
            "prompt": f"a photo of a {c}",
        }
        for c in ("bench", "cup", "clock")
    ]
    metadata.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out, data = tmp_path / "out", tmp_path / "data"
    command = [sys.executable, "-m", "tests.kits.batch_engines", "bench", "geneval", "--prompts", str(metadata),
               "--engine", "slow", "--samples", "1", "--modes", "process", "--out", str(out),
               "--db", db_url, "--data-dir", str(data)]  # fmt: skip
    env = worker_env(STUDIO_TEST_STAGE_S="0.3")
    first = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    store = Store(db_url, data)
    try:
        held, deadline = None, time.monotonic() + 120
        while held is None and time.monotonic() < deadline and first.poll() is None:
            if (out / "run.json").is_file():
                name = json.loads((out / "run.json").read_text())["batch"]
                queue = WorkQueue(store.db, name)
                running = [
                    i for i in (queue.items() if queue.exists() else []) if i["status"] == "running"
                ]
                if running and store.has_session(running[0]["session_id"]):
                    if store.count_steps(running[0]["session_id"]) >= 2:
                        held = running[0]
                        kept = set(store.load(held["session_id"]).steps)
                        first.send_signal(signal.SIGKILL)
            time.sleep(0.05)
        first.wait(30)
        assert held is not None, "the bench never held a sample with committed stages"
        started = time.monotonic()
        again = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
        )
        assert again.returncode == 0, again.stderr[-3000:]
        assert time.monotonic() - started < 50  # not after the killed holder's 60 s lease
        items = WorkQueue(store.db, name).items()
        assert {i["status"] for i in items} == {"done"} and len(items) == 3
        resumed = next(i for i in items if i["seq"] == held["seq"])
        assert resumed["session_id"] == held["session_id"] and resumed["attempts"] == 2
        assert kept <= set(store.load(held["session_id"]).steps)  # carried on, not started again
        tagged = [s.id for s in store.list_sessions(limit=1000) if f"batch:{name}" in s.tags]
        assert sorted(tagged) == sorted(i["session_id"] for i in items)  # one session per sample
        third = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
        )
        assert third.returncode == 0 and "0 sample(s) generated, 3 already finished" in third.stdout
        assert WorkQueue(store.db, name).items() == items
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        store.close()


# --- accelerate asked for N processes on a machine without GPUs ------------------------------


def test_accelerate_asked_for_two_processes_without_multi_gpu_still_runs_two_workers(
    prompts, tmp_path
):
    """Without GPUs and without --multi_gpu, accelerate starts one process for --num_processes 2: the
    worker says so in one line and runs the two through torchrun, as --multi_gpu would have."""
    url = f"sqlite:///{tmp_path / 'data' / 'studio.db'}"
    command = [ACCELERATE, "launch", "--num_processes", "2", "--num_machines", "1"]
    command += [
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "tests.kits.batch_engines",
    ]
    command += batch_args(prompts, url, tmp_path, "--engine", "slow")
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=worker_env(STUDIO_TEST_STAGE_S="0.05", CUDA_VISIBLE_DEVICES=""),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [said] = [line for line in done.stderr.splitlines() if "asked for 2 processes" in line]
    assert (
        "only this one" in said
        and "torchrun --nproc_per_node 2 -m tests.kits.batch_engines batch" in said
    )
    assert "worker 0/2" in done.stderr and "worker 1/2" in done.stderr
    assert "Traceback" not in done.stderr
    items = exactly_once(url, tmp_path, 4)
    assert {i["worker"].rsplit(":", 1)[1] for i in items} <= {"rank0", "rank1"}


def test_a_launch_short_of_processes_is_told_from_one_that_is_not():
    from studio.batch.placement import launcher_shortfall

    accelerate = {"ACCELERATE_MIXED_PRECISION": "no"}  # what accelerate's one-process path sets
    # stand-ins for the launcher's command line, as /proc/<parent>/cmdline gives it
    asked = [
        "/venv/bin/python",
        "/venv/bin/accelerate",
        "launch",
        "--num_processes=3",
        "x.py",
        "-v",
    ]
    short = launcher_shortfall(accelerate, asked)
    assert short and short.asked == 3 and short.fix == "torchrun --nproc_per_node 3 x.py -v"
    one = ["accelerate", "launch", "--num_processes", "1", "-m", "studio", "batch", "p.txt"]
    assert launcher_shortfall(accelerate, one) is None
    two = ["accelerate", "launch", "--num_processes", "2", "-m", "studio", "batch", "p.txt"]
    assert launcher_shortfall({**accelerate, "WORLD_SIZE": "2"}, two) is None  # placed by torchrun
    assert launcher_shortfall({}, two) is None  # not started by accelerate
    assert launcher_shortfall(accelerate, ["bash", "-c", "launch --num_processes 2"]) is None
    assert (
        launcher_shortfall(accelerate, two).fix
        == "torchrun --nproc_per_node 2 -m studio batch p.txt"
    )
