"""The `studio` command: headless runs, listings, and clear errors for bad input."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ..kits import upstream
from ..kits.cli_support import sessions_in_a_fresh_interpreter, studio

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path):
    return ["--data-dir", str(tmp_path / "data")]


def test_run_prints_each_stage_and_ends_with_the_session_id(capsys, scripted, db):
    code, out, _ = studio(
        capsys, "run", "a cat and a dog", "--engine", "scripted", "--seed", "3", *db
    )
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("engine scripted")
    assert [line.split()[1] for line in lines[1:-1]] == [
        "plan",
        "sketch",
        "inspect",
        "plan",
        "sketch",
        "inspect",
        "final",
    ]
    assert lines[-1].startswith("session ") and lines[-1].endswith("(finished)")


@pytest.mark.parametrize("command", [["run", "a cat", "--engine", "scripted"], ["sessions"]])
def test_a_command_closes_its_database_when_it_ends(capsys, scripted, tmp_path, command):
    """Its write-ahead log is folded back into the file then, not when Python later collects the
    store, so the file does not change under a caller who runs another command in the same process."""
    import gc

    folder = tmp_path / "data"
    gc.disable()  # nothing collected behind the command's back
    try:
        assert studio(capsys, *command, "--data-dir", folder)[0] == 0
        assert sorted(p.name for p in folder.iterdir()) == ["images", "studio.db"]
    finally:
        gc.enable()


def test_run_json_prints_the_whole_trajectory(capsys, scripted, db):
    code, out, err = studio(capsys, "run", "a cat", "--engine", "scripted", "--json", *db)
    assert code == 0
    data = json.loads(out)
    assert [s["stage"] for s in data["steps"]] == ["plan", "sketch", "inspect", "final"]
    assert data["branch"] == [s["id"] for s in data["steps"]]
    assert "plan" in err  # stage lines go to stderr so stdout stays JSON


def test_sessions_show_rename_delete(capsys, scripted, db):
    studio(capsys, "run", "a purple giraffe", "--engine", "scripted", *db)
    studio(capsys, "run", "a green bench", "--engine", "scripted", *db)
    code, out, _ = studio(capsys, "sessions", "--search", "GIRAFFE", "--json", *db)
    found = json.loads(out)
    assert code == 0 and [s["prompt"] for s in found] == ["a purple giraffe"]
    session_id = found[0]["id"]
    code, out, _ = studio(capsys, "show", session_id[:6], *db)
    assert code == 0 and "* " in out and "plan" in out
    code, out, _ = studio(capsys, "show", session_id, "--text", *db)
    assert out.startswith("<prompt>a purple giraffe</prompt>\n<ins>")
    assert studio(capsys, "rename", session_id, "Giraffe study", *db)[0] == 0
    _, out, _ = studio(capsys, "sessions", "--search", "study", "--json", *db)
    assert json.loads(out)[0]["title"] == "Giraffe study"
    assert studio(capsys, "delete", session_id, "--yes", *db)[0] == 0
    _, out, _ = studio(capsys, "sessions", "--json", *db)
    assert [s["prompt"] for s in json.loads(out)] == ["a green bench"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "   "], "prompt is empty"),
        (["run", "x" * 4001], "limit is 4,000"),
        (["run", "a cat", "--engine", "nope"], "Unknown engine 'nope'"),
        (["show", "deadbeef"], "No session 'deadbeef'"),
        (["resume", "deadbeef"], "No session 'deadbeef'"),
    ],
)
def test_bad_input_is_one_clear_line_and_a_nonzero_exit(capsys, db, args, message):
    code, out, err = studio(capsys, *args, *db)
    assert code == 1
    assert message in " ".join(err.split())
    assert "Traceback" not in err + out


def test_an_unwritable_data_directory_is_refused(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = studio(capsys, "sessions", "--data-dir", str(blocker / "data"))
    assert code == 1 and "Cannot write to the data directory" in err and "--data-dir" in err


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(capsys, tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"these are my notes, not a database" * 100)
    code, _, err = studio(
        capsys, "sessions", "--db", f"sqlite:///{bogus}", "--data-dir", str(tmp_path)
    )
    assert code == 1 and "is not a Stroke Studio database" in " ".join(err.split())
    assert bogus.read_bytes() == b"these are my notes, not a database" * 100


def test_a_database_from_a_newer_schema_is_refused(capsys, tmp_path, store):
    with sqlite3.connect(store.url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    code, _, err = studio(capsys, "sessions", "--db", store.url, "--data-dir", str(tmp_path))
    assert code == 1 and "newer Stroke Studio" in " ".join(err.split()) and "9999" in err


def test_the_console_script_exits_cleanly_on_bad_input_and_light_commands_skip_torch(tmp_path):
    """Through a real subprocess: exit status, no traceback, and no torch/gradio import."""
    env = dict(os.environ, STROKE_STUDIO_DATA=str(tmp_path / "data"))
    result = sessions_in_a_fresh_interpreter(env, ("torch", "gradio", "diffusers", "transformers"))
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    bad = subprocess.run(
        [str(Path(sys.executable).with_name("studio")), "run", ""],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "prompt is empty" in bad.stderr and "Traceback" not in bad.stderr


def test_parse_file_reproduces_geneval_include_lists(capsys, tmp_path):
    metadata = upstream.GENEVAL.require() / "evaluation_metadata.jsonl"
    rows = [json.loads(line) for line in metadata.read_text().splitlines() if line.strip()]
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(r["prompt"] for r in rows) + "\n")
    code, out, _ = studio(capsys, "parse", "--file", str(prompts), "--json")
    parsed = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(parsed) == len(rows)
    exact = sum(p["include"] == r["include"] for p, r in zip(parsed, rows))
    assert exact / len(rows) >= 0.98


def test_parse_one_prompt_and_refuse_no_prompt(capsys):
    code, out, _ = studio(capsys, "parse", "a cat to the left of a dog", "--json")
    assert json.loads(out)["include"] == [
        {"class": "dog", "count": 1},
        {"class": "cat", "count": 1, "position": ["left of", 0]},
    ]
    code, _, err = studio(capsys, "parse")
    assert code == 1 and "Give a prompt or --file" in err


def test_sessions_says_how_many_more_there_are(capsys, scripted, db):
    for n in range(3):
        studio(capsys, "run", f"a cat number {n}", "--engine", "scripted", *db)
    code, out, err = studio(capsys, "sessions", "--limit", "2", *db)
    assert code == 0 and "1 more; list them with --limit 3" in err
    assert "more" not in studio(capsys, "sessions", "--limit", "3", *db)[2]


def test_show_keeps_a_straight_branch_in_one_column_and_whole_lines_when_piped(
    capsys, scripted, db
):
    studio(
        capsys,
        "run",
        "a cat and a dog " + "with a very long description " * 6,
        "--engine",
        "scripted",
        *db,
    )
    session_id = json.loads(studio(capsys, "sessions", "--json", *db)[1])[0]["id"]
    code, out, _ = studio(capsys, "show", session_id, *db)
    lines = out.splitlines()[1:]
    assert code == 0 and len(lines) == 7
    indents = {len(line) - len(line.lstrip("│├└─ ")) for line in lines}
    assert len(indents) == 1  # no step is nested under the one before it
    assert any(len(line) > 120 for line in lines)  # piped: not cut at 80 columns
    assert "with a very long description " * 6 in out.replace("\n", "")


def test_show_refuses_json_with_text_and_rename_says_what_it_did(capsys, scripted, db):
    studio(capsys, "run", "a cat", "--engine", "scripted", *db)
    session_id = json.loads(studio(capsys, "sessions", "--json", *db)[1])[0]["id"]
    code, _, err = studio(capsys, "show", session_id, "--json", "--text", *db)
    assert code == 1 and "--json or --text, not both" in err
    code, out, _ = studio(capsys, "rename", session_id, "Tabby", *db)
    assert code == 0 and f"renamed {session_id[:8]} to 'Tabby'" in out


def test_engines_says_which_can_run_here_and_what_the_others_need(capsys):
    from studio import engines

    def needs_more():
        from studio.core.domain import StudioError

        raise StudioError("needs the gpu extra")

    engines.register("needy", needs_more)
    try:
        code, out, _ = studio(capsys, "engines")
    finally:
        engines.unregister("needy")
    assert code == 0
    assert (
        "offline (default): ready" in out and "needy: cannot run here: needs the gpu extra" in out
    )


def test_show_names_who_edited_and_who_reviewed_and_sessions_names_the_owner(
    capsys, scripted, runner, db
):
    t = runner.new_session("a cat", engine="scripted", owner="ana")
    runner.run(t)
    plan, sketch = t.branch()[0], t.branch()[1]
    runner.edit_plan(t, plan.id, description="a black cat", by="ana")
    runner.accept(t, sketch.id, by="ben")
    runner.share(t, True, by="ana")
    code, out, _ = studio(capsys, "show", t.session.id, *db)
    assert code == 0 and "(edited by ana)" in out and "[accepted by ben]" in out
    code, out, _ = studio(capsys, "sessions", *db)
    assert code == 0 and "ana (shared)" in out
    [listed] = json.loads(studio(capsys, "sessions", "--json", *db)[1])
    assert (listed["owner"], listed["shared"]) == ("ana", True)
