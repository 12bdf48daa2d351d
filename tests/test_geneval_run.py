"""`studio bench geneval` end to end on the offline engine: GenEval's layout, sessions, report, resume."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from studio.domain import Mode, StudioError
from studio.geneval import layout, metadata
from studio.geneval.run import BenchOptions, run_bench, sample_seed
from studio.store import Store

from .cli_support import studio

ROWS = [  # one or two of each GenEval tag, as in evaluation_metadata.jsonl
    {"tag": "single_object", "include": [{"class": "bench", "count": 1}], "prompt": "a photo of a bench"},
    {"tag": "two_object", "include": [{"class": "toilet", "count": 1}, {"class": "cup", "count": 1}],
     "prompt": "a photo of a toilet and a cup"},
    {"tag": "counting", "include": [{"class": "clock", "count": 2}], "exclude": [{"class": "clock", "count": 3}],
     "prompt": "a photo of two clocks"},
    {"tag": "colors", "include": [{"class": "car", "count": 1, "color": "blue"}], "prompt": "a photo of a blue car"},
    {"tag": "position", "include": [{"class": "teddy bear", "count": 1},
                                    {"class": "dog", "count": 1, "position": ["right of", 0]}],
     "prompt": "a photo of a dog right of a teddy bear"},
    {"tag": "color_attr", "include": [{"class": "wine glass", "count": 1, "color": "purple"},
                                      {"class": "apple", "count": 1, "color": "black"}],
     "prompt": "a photo of a purple wine glass and a black apple"},
    {"tag": "counting", "include": [{"class": "apple", "count": 3}], "exclude": [{"class": "apple", "count": 4}],
     "prompt": "a photo of three apples"},
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
    code, stdout, stderr = studio(capsys, "bench", "geneval", "--prompts", prompts, "--limit", 6,
                                  "--modes", "single,process", "--samples", 1, "--out", out, "--data-dir", data)
    assert code == 0, stderr
    assert "offline sketch analyser" in stdout and "not comparable" in stdout
    assert "12 sample(s) generated, 0 already finished" in stdout

    for mode in ("single", "process"):  # GenEval's layout, as its evaluator walks it
        walked = evaluator_walk(out / mode)
        assert [(sub, name) for sub, name, _ in walked] == [(f"{i:05d}", "0000.png") for i in range(6)]
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
    assert "offline sketch analyser" in report and "not comparable with published GenEval scores" in report
    assert "sampling steps / image" in report and "rounds / image" in report and "wall s / image" in report
    with Image.open(out / "report.png") as chart:
        assert chart.format == "PNG" and chart.width >= 640
    data_json = json.loads((out / "report.json").read_text())
    assert set(data_json["modes"]) == {"single", "process"} and data_json["checker"]["key"] == "offline"
    assert data_json["modes"]["process"]["images"] == 6


def test_resume_skips_finished_samples_and_redoes_missing_ones(tmp_path, prompts):
    options = BenchOptions(prompts=prompts, limit=3, samples=2, modes=(Mode.PROCESS,), out=tmp_path / "out",
                           data_dir=tmp_path / "data")
    first = run_bench(options)
    assert (first.ran, first.skipped) == (6, 0)
    again = run_bench(options)
    assert (again.ran, again.skipped) == (0, 6)
    assert [r["session_id"] for r in again.records] == [r["session_id"] for r in first.records]
    layout.sample_path(options.out, "process", 1, 1).unlink()
    third = run_bench(options)
    assert (third.ran, third.skipped) == (1, 5)
    store = Store(data_dir=tmp_path / "data")
    assert len(store.list_sessions(tag="bench")) == 7  # one more session, for the one redone sample
    store.close()


def test_a_killed_sample_carries_on_in_its_own_session(tmp_path, prompts):
    from studio.runner import PausePolicy, Runner

    options = BenchOptions(prompts=prompts, limit=1, samples=1, modes=(Mode.PROCESS,), out=tmp_path / "out",
                           data_dir=tmp_path / "data")
    run_bench(options)
    record = layout.read_record(options.out, "process", 0, 0)
    layout.sample_path(options.out, "process", 0, 0).unlink()
    # as if the process died after the first stage: a session with one step, a "running" record
    store = Store(data_dir=tmp_path / "data")
    runner = Runner(store)
    trajectory = runner.new_session(ROWS[0]["prompt"], "offline", record["seed"], tags=("bench", "geneval"))
    runner.run(trajectory, PausePolicy.EVERY_STAGE)
    layout.write_record(options.out, {k: record[k] for k in ("mode", "index", "sample", "tag", "prompt", "seed")}
                        | {"status": "running", "session_id": trajectory.session.id})
    result = run_bench(options)
    assert result.ran == 1
    redone = layout.read_record(options.out, "process", 0, 0)
    assert redone["session_id"] == trajectory.session.id and redone["resumed"] is True
    assert store.load(trajectory.session.id).head().stage.value == "final"
    store.close()


def test_workers_give_the_same_verdicts(tmp_path, prompts):
    base = dict(prompts=prompts, limit=4, samples=1, data_dir=tmp_path / "data")
    alone = run_bench(BenchOptions(out=tmp_path / "one", **base))
    threads = run_bench(BenchOptions(out=tmp_path / "threads", workers=2, pool="threads", **base))
    processes = run_bench(BenchOptions(out=tmp_path / "procs", workers=2, pool="processes", **base))

    def verdicts(result):
        return sorted((r["mode"], r["index"], r["correct"], sorted(r["found"].items())) for r in result.records)

    assert verdicts(alone) == verdicts(threads) == verdicts(processes)
    assert len(alone.records) == 8 and not processes.errors


def test_resuming_with_other_settings_is_refused(tmp_path, prompts):
    options = BenchOptions(prompts=prompts, limit=1, samples=1, modes=(Mode.SINGLE,), out=tmp_path / "out",
                           data_dir=tmp_path / "data")
    run_bench(options)
    options.seed = 5
    with pytest.raises(StudioError, match="seed.*--out"):
        run_bench(options)


def test_the_default_prompts_are_found_beside_the_checkout_or_named(monkeypatch, tmp_path):
    assert metadata.DEFAULT_PROMPTS.parts[-4:] == ("shared", "data", "geneval", "evaluation_metadata.jsonl")
    monkeypatch.setattr(metadata, "DEFAULT_PROMPTS", tmp_path / "absent.jsonl")
    with pytest.raises(StudioError, match="--prompts"):
        metadata.resolve_prompts(None)
    with pytest.raises(StudioError, match="--prompts .*no such file"):
        metadata.resolve_prompts(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("line, message", [
    ("not json", "line 1: not JSON"),
    ('{"tag": "x", "prompt": "a cat"}', "`include` is missing"),
    ('{"tag": "x", "prompt": "a cat", "include": [{"class": "cat"}]}', "include\\[0\\] needs"),
    ('{"tag": "x", "prompt": "a cat", "include": [{"class": "cat", "count": 1, "color": "teal"}]}', "teal"),
    ('{"tag": "x", "prompt": "a", "include": [{"class": "cat", "count": 1, "position": ["left of", 0]}]}', "earlier"),
])
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
    code, _, err = studio(capsys, "bench", "geneval", "--prompts", prompts, "--modes", "both", "--out", tmp_path / "o")
    assert code == 1 and "--modes" in err
    code, _, err = studio(capsys, "bench", "geneval", "--prompts", prompts, "--engine", "nope", "--out", tmp_path / "o")
    assert code == 1 and "Unknown engine" in err


def test_a_sample_is_moved_into_samples_only_when_whole(tmp_path):
    path = layout.write_sample(tmp_path, "single", 7, 3, b"\x89PNG fake")
    assert path == tmp_path / "single" / "00007" / "samples" / "0003.png"
    assert [p.name for p in path.parent.iterdir()] == ["0003.png"]  # no temporary file left in samples/
    assert not re.match(r"\d+\.png", ".tmp-abc.png")  # the temporary name the evaluator would skip


def test_a_failing_sample_is_reported_and_retried_not_scored(capsys, tmp_path):
    prompts = tmp_path / "odd.jsonl"
    rows = [ROWS[0], {"tag": "single_object", "include": [{"class": "sunset", "count": 1}],
                      "prompt": "a photo of a sunset"}]  # a setting, nothing the offline engine can draw
    prompts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    args = ("bench", "geneval", "--prompts", prompts, "--modes", "process", "--samples", 1,
            "--out", tmp_path / "out", "--data-dir", tmp_path / "data")
    code, stdout, _ = studio(capsys, *args)
    assert code == 1  # the run finished the rest, then says it was not clean
    record = layout.read_record(tmp_path / "out", "process", 1, 0)
    assert record["status"] == "error" and "found no object to draw" in record["error"]
    assert not layout.is_finished(tmp_path / "out", "process", 1, 0)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "1 sample(s) failed" in report and "| single_object | 1 | 1 |" in report
    code, stdout, _ = studio(capsys, *args)
    assert code == 1 and "1 sample(s) generated, 1 already finished" in stdout  # retried on resume
