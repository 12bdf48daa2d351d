"""`studio bench geneval` end to end on the offline engine: GenEval's prompts run as a batch (the work
table, leases and workers of `studio batch`), GenEval's layout, sessions, report, resume."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from studio.batch import sample_seed
from studio.batch.workqueue import WorkQueue
from studio.core.domain import Mode, StudioError
from studio.geneval import layout, metadata
from studio.geneval.run import BenchOptions, run_bench
from studio.store import Store

from ..kits.cli_support import studio

ROWS = [  # one or two of each GenEval tag, as in evaluation_metadata.jsonl
    {
        "tag": "single_object",
        "include": [{"class": "bench", "count": 1}],
        "prompt": "a photo of a bench",
    },
    {
        "tag": "two_object",
        "include": [{"class": "toilet", "count": 1}, {"class": "cup", "count": 1}],
        "prompt": "a photo of a toilet and a cup",
    },
    {
        "tag": "counting",
        "include": [{"class": "clock", "count": 2}],
        "exclude": [{"class": "clock", "count": 3}],
        "prompt": "a photo of two clocks",
    },
    {
        "tag": "colors",
        "include": [{"class": "car", "count": 1, "color": "blue"}],
        "prompt": "a photo of a blue car",
    },
    {
        "tag": "position",
        "include": [
            {"class": "teddy bear", "count": 1},
            {"class": "dog", "count": 1, "position": ["right of", 0]},
        ],
        "prompt": "a photo of a dog right of a teddy bear",
    },
    {
        "tag": "color_attr",
        "include": [
            {"class": "wine glass", "count": 1, "color": "purple"},
            {"class": "apple", "count": 1, "color": "black"},
        ],
        "prompt": "a photo of a purple wine glass and a black apple",
    },
    {
        "tag": "counting",
        "include": [{"class": "apple", "count": 3}],
        "exclude": [{"class": "apple", "count": 4}],
        "prompt": "a photo of three apples",
    },
]


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "evaluation_metadata.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    return path


def evaluator_walk(folder):
    """The files GenEval's evaluate_images.py would score: digit folders, metadata.jsonl, samples/<digits>.png."""
    import os

    found = []
    for sub in sorted(os.listdir(folder)):
        path = folder / sub
        if not path.is_dir() or not sub.isdigit():
            continue
        with open(path / "metadata.jsonl") as fp:
            meta = json.load(fp)
        for name in sorted(os.listdir(path / "samples")):
            if (path / "samples" / name).is_file() and re.match(r"\d+\.png", name):
                found.append((sub, name, meta))
    return found


def test_cli_end_to_end_on_the_offline_engine(capsys, tmp_path, prompts):
    out, data = tmp_path / "out", tmp_path / "data"
    code, stdout, stderr = studio(
        capsys,
        "bench",
        "geneval",
        "--prompts",
        prompts,
        "--limit",
        6,
        "--mode",  # an alias of --modes, as in studio batch; both = single,process
        "both",
        "--samples",
        1,
        "--out",
        out,
        "--data-dir",
        data,
    )
    assert code == 0, stderr
    assert "offline sketch analyser" in stdout and "not comparable" in stdout
    assert "12 sample(s) generated, 0 already finished" in stdout

    for mode in ("single", "process"):  # GenEval's layout, as its evaluator walks it
        walked = evaluator_walk(out / mode)
        assert [(sub, name) for sub, name, _ in walked] == [
            (f"{i:05d}", "0000.png") for i in range(6)
        ]
        assert [meta for _, _, meta in walked] == ROWS[:6]
        assert (out / mode / "00000" / "metadata.jsonl").read_text() == json.dumps(ROWS[0])
        assert sorted(p.name for p in (out / mode).iterdir()) == [f"{i:05d}" for i in range(6)]
        with Image.open(out / mode / "00003" / "samples" / "0000.png") as image:
            assert image.format == "PNG" and image.size == (512, 512)

    store = Store(data_dir=data)
    benched = store.list_sessions(tag="bench", limit=100)
    assert len(benched) == 12 and all("geneval" in s.tags for s in benched)
    assert sorted(s.settings.mode.value for s in benched) == ["process"] * 6 + ["single"] * 6
    record = layout.read_record(out, "process", 4, 0)
    assert record["status"] == "done" and record["checker"] == "offline"
    assert store.session(record["session_id"]).prompt == ROWS[4]["prompt"]
    assert layout.read_record(out, "single", 4, 0)["seed"] == record["seed"] == sample_seed(0, 4, 0)
    store.close()

    report = (out / "report.md").read_text()
    assert report.count("| **overall** |") == 3  # one table per mode, and the modes compared
    for tag in ("single_object", "two_object", "counting", "colors", "position", "color_attr"):
        assert f"| {tag} |" in report
    assert (
        "offline sketch analyser" in report
        and "not comparable with published GenEval scores" in report
    )
    assert (
        "sampling steps / image" in report
        and "rounds / image" in report
        and "wall s / image" in report
    )
    with Image.open(out / "report.png") as chart:
        assert chart.format == "PNG" and chart.width >= 640
    data_json = json.loads((out / "report.json").read_text())
    assert (
        set(data_json["modes"]) == {"single", "process"}
        and data_json["checker"]["key"] == "offline"
    )
    assert data_json["modes"]["process"]["images"] == 6

    # the samples are a batch: one work item per sample, each done once, its session tagged with the batch
    name = json.loads((out / "run.json").read_text())["batch"]
    assert f"batch: {name}" in stdout and f"batch:{name}" in report
    store = Store(data_dir=data)
    items = WorkQueue(store.db, name).items()
    assert (
        len(items) == 12
        and {i["status"] for i in items} == {"done"}
        and {i["attempts"] for i in items} == {1}
    )
    assert sorted(i["session_id"] for i in items) == sorted(s.id for s in benched)
    for session in benched:
        index = int(re.search(r" (\d{5})/\d{4}: ", session.title)[1])
        assert {f"batch:{name}", f"tag:{ROWS[index]['tag']}", "bench", "geneval"} <= set(
            session.tags
        )
    store.close()
    code, stdout, _ = studio(capsys, "batch", "status", name, "--data-dir", data)
    assert (
        code == 0
        and "12 done, 0 running, 0 failed, 0 left of 12" in stdout
        and "ETA finished" in stdout
    )


def test_the_same_command_again_runs_nothing_and_a_removed_image_is_written_again_from_its_session(
    tmp_path, prompts
):
    options = BenchOptions(
        prompts=prompts,
        limit=3,
        samples=2,
        modes=(Mode.PROCESS,),
        out=tmp_path / "out",
        data_dir=tmp_path / "data",
    )
    first = run_bench(options)
    assert (first.ran, first.skipped) == (6, 0)
    again = run_bench(options)
    assert (again.ran, again.skipped) == (0, 6)
    assert [r["session_id"] for r in again.records] == [r["session_id"] for r in first.records]
    removed = layout.sample_path(options.out, "process", 1, 1)
    png = removed.read_bytes()
    removed.unlink()
    layout.record_path(options.out, "process", 2, 0).unlink()
    third = run_bench(options)
    assert (third.ran, third.skipped) == (0, 6)  # nothing generated: the sample's session is done
    assert (
        removed.read_bytes() == png
        and layout.read_record(options.out, "process", 2, 0)["status"] == "done"
    )
    assert [r["session_id"] for r in third.records] == [r["session_id"] for r in first.records]
    store = Store(data_dir=tmp_path / "data")
    assert len(store.list_sessions(tag="bench")) == 6  # never a second session for a sample
    store.close()


def test_one_output_folder_is_one_batch_that_grows_and_sets_aside_what_is_not_asked_for(
    tmp_path, prompts
):
    base = dict(
        prompts=prompts, modes=(Mode.SINGLE,), out=tmp_path / "out", data_dir=tmp_path / "data"
    )
    small = run_bench(BenchOptions(limit=2, samples=1, **base))
    bigger = run_bench(BenchOptions(limit=4, samples=2, **base))
    assert (small.ran, bigger.ran, bigger.skipped) == (2, 6, 2)  # only the new samples ran
    assert [r["session_id"] for r in bigger.records if r["sample"] == 0][:2] == [
        r["session_id"] for r in small.records
    ]
    store = Store(data_dir=tmp_path / "data")
    queue = WorkQueue(store.db, bigger.batch)
    assert bigger.batch == small.batch and len(queue.items()) == 8
    # a later run that asks for fewer: the rest is left alone (nothing to do here, all done), the report is its own
    third = run_bench(BenchOptions(limit=1, samples=1, **base))
    assert (third.ran, third.skipped, len(third.records)) == (0, 1, 1)
    # items asked for earlier and never started are set aside, not run, by a run that does not ask for them
    queue.grow(
        {
            "engine": "offline",
            "seed": 0,
            "rounds": 6,
            "engine_params": {},
            "prompts_sha256": metadata.file_digest(prompts),
            "kind": "geneval",
            "tags": ["bench", "geneval"],
        },
        [
            dict(
                mode="single",
                prompt_index=5,
                sample=0,
                prompt=ROWS[5]["prompt"],
                row=ROWS[5],
                seed=sample_seed(0, 5, 0),
            )
        ],
    )
    fourth = run_bench(BenchOptions(limit=1, samples=1, **base))
    assert fourth.ran == 0 and [i["status"] for i in queue.items()][-1] == "parked"
    assert queue.counts().parked == 1 and queue.counts().left == 0
    store.close()


def test_a_killed_workers_sample_is_taken_over_after_its_lease_and_carries_on_in_its_own_session(
    tmp_path, prompts
):
    from studio.geneval.run import batch_name
    from studio.runner import Runner

    options = BenchOptions(
        prompts=prompts,
        limit=2,
        samples=1,
        modes=(Mode.PROCESS,),
        out=tmp_path / "out",
        data_dir=tmp_path / "data",
        lease_s=2.0,
    )
    run_bench(
        options
    )  # the batch exists; make its first sample as if a worker died holding it mid-session
    store = Store(data_dir=tmp_path / "data")
    name = batch_name(options.out, "offline")
    with store.db.begin() as conn:
        from studio.store.tables import batch_items

        conn.execute(
            batch_items.update()
            .where(batch_items.c.batch == name, batch_items.c.seq == 0)
            .values(status="todo", session_id=None, attempts=0)
        )
    layout.sample_path(options.out, "process", 0, 0).unlink()
    dead = WorkQueue(store.db, name, worker="dead-worker", lease_s=2.0)
    item = dead.claim()
    runner = Runner(store)
    trajectory = runner.new_session(
        item.prompt,
        "offline",
        item.seed,
        title="x",
        tags=("batch:" + name,),
        session_id=item.session_id,
    )
    kept = [runner.advance(trajectory).id, runner.advance(trajectory).id]
    result = run_bench(options)
    assert (result.ran, result.skipped) == (1, 1)
    record = layout.read_record(options.out, "process", 0, 0)
    assert record["session_id"] == item.session_id and record["attempts"] == 2
    resumed = store.load(item.session_id)
    assert [s.id for s in resumed.branch()][:2] == kept and resumed.head().stage.value == "final"
    assert dead.finish(item) is False  # the dead holder, were it to wake, is fenced off
    assert layout.is_finished(options.out, "process", 0, 0)
    store.close()


def test_workers_are_batch_workers_and_give_the_same_verdicts(tmp_path, prompts):
    base = dict(prompts=prompts, limit=4, samples=1, data_dir=tmp_path / "data")
    alone = run_bench(BenchOptions(out=tmp_path / "one", **base))
    threads = run_bench(BenchOptions(out=tmp_path / "threads", workers=2, pool="threads", **base))
    processes = run_bench(BenchOptions(out=tmp_path / "procs", workers=2, pool="processes", **base))

    def verdicts(result):
        return sorted(
            (r["mode"], r["index"], r["correct"], sorted(r["found"].items()))
            for r in result.records
        )

    assert verdicts(alone) == verdicts(threads) == verdicts(processes)
    assert len(alone.records) == 8 and not processes.errors
    store = Store(data_dir=tmp_path / "data")
    for result, who in ((threads, r":thread[01]$"), (processes, r":rank[01]$")):
        items = WorkQueue(store.db, result.batch).items()
        assert len(items) == 8 and {i["attempts"] for i in items} == {1}  # each sample claimed once
        assert all(
            re.search(who, i["worker"]) for i in items
        )  # by the batch's workers, named as such
    assert len({alone.batch, threads.batch, processes.batch}) == 3  # one batch per output folder
    store.close()


def test_resuming_with_other_settings_is_refused(tmp_path, prompts):
    options = BenchOptions(
        prompts=prompts,
        limit=1,
        samples=1,
        modes=(Mode.SINGLE,),
        out=tmp_path / "out",
        data_dir=tmp_path / "data",
    )
    run_bench(options)
    options.seed = 5
    with pytest.raises(StudioError, match="seed.*--out"):
        run_bench(options)


def test_the_default_prompts_are_found_beside_the_checkout_or_named(monkeypatch, tmp_path):
    assert metadata.DEFAULT_PROMPTS.parts[-4:] == (
        "shared",
        "data",
        "geneval",
        "evaluation_metadata.jsonl",
    )
    monkeypatch.setattr(metadata, "DEFAULT_PROMPTS", tmp_path / "absent.jsonl")
    with pytest.raises(StudioError, match="--prompts"):
        metadata.resolve_prompts(None)
    with pytest.raises(StudioError, match="--prompts .*no such file"):
        metadata.resolve_prompts(tmp_path / "nope.jsonl")


@pytest.mark.parametrize(
    "line, message",
    [
        ("not json", "line 1: not JSON"),
        ('{"tag": "x", "prompt": "a cat"}', "`include` is missing"),
        ('{"tag": "x", "prompt": "a cat", "include": [{"class": "cat"}]}', "include\\[0\\] needs"),
        (
            '{"tag": "x", "prompt": "a cat", "include": [{"class": "cat", "count": 1, "color": "teal"}]}',
            "teal",
        ),
        (
            '{"tag": "x", "prompt": "a", "include": [{"class": "cat", "count": 1, "position": ["left of", 0]}]}',
            "earlier",
        ),
    ],
)
def test_bad_prompt_files_name_the_line_and_the_fix(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(StudioError, match=message):
        metadata.read_prompts(path)


def test_tags_and_limit_select_prompts_but_keep_their_folder_numbers(prompts):
    rows = metadata.read_prompts(prompts)
    picked = metadata.select(rows, ["counting"], None)
    assert [p.index for p in picked] == [2, 6]
    assert [p.index for p in metadata.select(rows, ["counting"], 1)] == [2]
    with pytest.raises(StudioError, match="no prompts tagged spatial"):
        metadata.select(rows, ["spatial"], None)


def test_cli_errors_name_the_fix(capsys, tmp_path, prompts):
    code, _, err = studio(
        capsys,
        "bench",
        "geneval",
        "--prompts",
        prompts,
        "--modes",
        "sideways",
        "--out",
        tmp_path / "o",
    )
    assert code == 1 and "--modes" in err and "Traceback" not in err
    code, _, err = studio(
        capsys,
        "bench",
        "geneval",
        "--prompts",
        prompts,
        "--pool",
        "fibres",
        "--out",
        tmp_path / "o",
    )
    assert code == 1 and "--pool 'fibres'" in err
    code, _, err = studio(
        capsys,
        "bench",
        "geneval",
        "--prompts",
        prompts,
        "--engine",
        "nope",
        "--out",
        tmp_path / "o",
    )
    assert code == 1 and "Unknown engine" in err


def test_a_sample_is_moved_into_samples_only_when_whole(tmp_path):
    path = layout.write_sample(tmp_path, "single", 7, 3, b"\x89PNG fake")
    assert path == tmp_path / "single" / "00007" / "samples" / "0003.png"
    assert [p.name for p in path.parent.iterdir()] == [
        "0003.png"
    ]  # no temporary file left in samples/
    assert not re.match(r"\d+\.png", ".tmp-abc.png")  # the temporary name the evaluator would skip


def test_a_failing_sample_is_reported_and_retried_not_scored(capsys, tmp_path):
    prompts = tmp_path / "odd.jsonl"
    rows = [
        ROWS[0],
        {
            "tag": "single_object",
            "include": [{"class": "sunset", "count": 1}],
            "prompt": "a photo of a sunset",
        },
    ]  # a setting, nothing the offline engine can draw
    prompts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    args = (
        "bench",
        "geneval",
        "--prompts",
        prompts,
        "--modes",
        "process",
        "--samples",
        1,
        "--out",
        tmp_path / "out",
        "--data-dir",
        tmp_path / "data",
    )
    code, stdout, _ = studio(capsys, *args)
    assert code == 1  # the run finished the rest, then says it was not clean
    assert not layout.is_finished(tmp_path / "out", "process", 1, 0)
    report = (tmp_path / "out" / "report.md").read_text()
    assert (
        "1 sample(s) failed" in report
        and "| single_object | 1 | 1 |" in report
        and "found no object" in report
    )
    assert "--retry-failed" in report and "--retry-failed" in stdout
    name = json.loads((tmp_path / "out" / "run.json").read_text())["batch"]
    store = Store(data_dir=tmp_path / "data")
    failed = WorkQueue(store.db, name).items()[1]
    assert (
        failed["status"] == "failed" and "found no object to draw" in failed["error"]
    )  # failures are data
    code, stdout, _ = studio(capsys, *args)
    assert (
        code == 1 and "0 sample(s) generated, 2 already finished" in stdout
    )  # a plain re-run leaves it
    code, stdout, _ = studio(capsys, *args, "--retry-failed")
    assert (
        code == 1 and "1 sample(s) generated, 1 already finished" in stdout
    )  # tried again (and fails again)
    assert WorkQueue(store.db, name).items()[1]["attempts"] == 2
    store.close()


@pytest.mark.backends
def test_the_bench_runs_on_postgresql_too(tmp_path, prompts, db_url, backend):
    if backend == "postgresql":  # the test server trusts any password: the report must not show it
        db_url = db_url.replace("postgres@", "postgres:s3cret-pw@")
    options = BenchOptions(
        prompts=prompts,
        limit=3,
        samples=1,
        out=tmp_path / "out",
        db=db_url,
        data_dir=tmp_path / "data",
        workers=2,
        pool="threads",
    )
    first = run_bench(options)
    assert (first.ran, len(first.records), first.errors) == (6, 6, [])
    again = run_bench(options)
    assert (again.ran, again.skipped) == (0, 6)
    store = Store(db_url, tmp_path / "data")
    items = WorkQueue(store.db, first.batch).items()
    assert {i["status"] for i in items} == {"done"} and {i["attempts"] for i in items} == {1}
    store.close()
    written = (tmp_path / "out" / "report.md").read_text() + (
        tmp_path / "out" / "report.json"
    ).read_text()
    assert "s3cret-pw" not in written and ("studio.db" in written or backend == "postgresql")


def test_a_folder_written_before_the_bench_was_a_batch_is_resumed_not_redone(tmp_path, prompts):
    from studio.store.tables import batches

    options = BenchOptions(
        prompts=prompts, limit=3, samples=1, modes=(Mode.PROCESS,), out=tmp_path / "out",
        data_dir=tmp_path / "data",
    )  # fmt: skip
    first = run_bench(options)
    # as the batch-less runner left it: records and PNGs, sessions in the database, no batch; one
    # sample was interrupted (its record "running", no PNG)
    store = Store(data_dir=tmp_path / "data")
    with store.db.begin() as conn:
        conn.execute(batches.delete())
    run_file = options.out / "run.json"
    run_file.write_text(
        json.dumps({k: v for k, v in json.loads(run_file.read_text()).items() if k != "batch"})
    )
    interrupted = layout.read_record(options.out, "process", 2, 0)
    layout.write_record(options.out, interrupted | {"status": "running"})
    layout.sample_path(options.out, "process", 2, 0).unlink()
    again = run_bench(options)
    assert (again.ran, again.skipped) == (1, 2)  # the interrupted one finished in its own session
    assert [r["session_id"] for r in again.records] == [r["session_id"] for r in first.records]
    assert len(store.list_sessions(tag="bench")) == 3  # nothing run twice
    assert layout.is_finished(options.out, "process", 2, 0)
    store.close()


def test_offline_scores_come_with_the_painters_record_and_say_the_draft_mistakes_are_injected(
    capsys, tmp_path, prompts
):
    out, data = tmp_path / "out", tmp_path / "data"
    code, stdout, stderr = studio(
        capsys, "bench", "geneval", "--prompts", prompts, "--limit", 3, "--mode", "single",
        "--samples", 1, "--out", out, "--data-dir", data, "--params", '{"draft_noise": 0}',
    )  # fmt: skip
    assert code == 0, stderr
    assert "painter's record" in stdout and "injected on purpose" in stdout
    report = (out / "report.md").read_text()
    assert "| tag | images | correct | accuracy | painter's record |" in report
    assert "no draft noise in this run (draft_noise 0)" in report
    assert "never comparable with a paper's" in report
    record = layout.read_record(out, "single", 0, 0)
    assert record["checker"] == "offline" and record["truth_correct"] is True
    data_json = json.loads((out / "report.json").read_text())
    assert data_json["modes"]["single"]["overall_painters_record"] == 1.0  # no noise: as planned


def test_the_painters_record_is_a_checker_of_its_own_and_reads_the_trajectory_not_the_pixels(
    capsys, tmp_path, prompts
):
    out, data = tmp_path / "out", tmp_path / "data"
    code, stdout, stderr = studio(
        capsys, "bench", "geneval", "--prompts", prompts, "--limit", 2, "--mode", "single",
        "--samples", 1, "--out", out, "--data-dir", data, "--checker", "truth",
    )  # fmt: skip
    assert code == 0, stderr
    record = layout.read_record(out, "single", 1, 0)
    assert record["checker"] == "truth" and "truth_correct" not in record
    png = layout.sample_path(out, "single", 1, 0).read_bytes()
    from studio.core.pngmeta import strip
    from studio.geneval.checker import TruthChecker

    # the same pixels without the trajectory they carry: the record is not there to read
    stripped = TruthChecker().check_png(strip(png), ROWS[1])
    assert not stripped.correct and "no painter's record" in stripped.reason
