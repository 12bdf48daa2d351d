"""`studio export` and `studio import` from the command line."""

from __future__ import annotations

import json
import os

import pytest

from studio.store import Store

from ..kits.cli_support import sessions_in_a_fresh_interpreter, studio
from .test_export_support import plain, steered

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


@pytest.fixture
def data(store):
    return ["--db", store.url, "--data-dir", str(store.data_dir)]


def test_export_writes_the_folder_and_says_what_it_wrote(capsys, runner, scripted, data, tmp_path):
    steered(runner, scripted)
    plain(runner, "a pear", seed=3)
    code, out, err = studio(
        capsys,
        "export",
        "--format",
        "bagel",
        "--out",
        str(tmp_path / "out"),
        "--val-fraction",
        "0",
        *data,
    )
    assert code == 0, err
    # 8 alignment samples: a person's accept of a sketch and their override of the verdict on it
    # are two corrections
    assert out.strip().startswith(
        "exported 2 trajectories, 3 conflict samples, 8 alignment samples from 2 sessions"
    )
    assert (tmp_path / "out" / "train" / "part-00000.parquet").exists()


def test_export_filters_and_json_report(capsys, runner, scripted, data, tmp_path):
    touched = steered(runner, scripted).trajectory
    plain(runner, "a pear", seed=3)
    code, out, _ = studio(
        capsys,
        "export",
        "--format",
        "folder",
        "--out",
        str(tmp_path / "out"),
        "--human-reviewed",
        "--session",
        touched.session.id[:8],
        "--since",
        "2000-01-01",
        "--engine",
        "scripted",
        "--all-branches",
        "--json",
        *data,
    )
    assert code == 0
    report = json.loads(out)
    assert (
        report["sessions"] == 1
        and report["counts"]["multi_turn"]["train"] + report["counts"]["multi_turn"]["validation"]
        == 1
    )
    assert "manifest.json" in report["files"]


def test_a_skipped_session_is_named_on_stderr(capsys, store, runner, scripted, data, tmp_path):
    broken = plain(runner, "a pear", seed=3)
    store.image_path(broken.branch()[1].image.sha256).unlink()
    code, _, err = studio(capsys, "export", "--format", "hf", "--out", str(tmp_path / "out"), *data)
    assert code == 0 and f"skipped session {broken.session.id}" in err and "--strict" in err
    code, _, err = studio(
        capsys, "export", "--format", "hf", "--out", str(tmp_path / "out2"), "--strict", *data
    )
    assert code == 1 and "missing 1 image file" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "{occupied}"], "is not empty; pass --force"),
        (["--out", "{tmp}/x", "--since", "soon"], "Cannot read --since 'soon'"),
        (["--out", "{tmp}/x", "--val-fraction", "2"], "--val-fraction must be between 0 and 1"),
        (["--out", "{tmp}/x", "--session", "deadbeef"], "No session 'deadbeef'"),
        (["--out", "{tmp}/x", "--session", "nothere"], "'nothere' is not a session id"),
        (["--out", ""], "--out names the current folder"),
    ],
)
def test_export_mistakes_are_one_line_and_exit_1(capsys, data, tmp_path, args, message):
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "mine.txt").write_text("keep")
    args = [a.format(occupied=tmp_path / "occupied", tmp=tmp_path) for a in args]
    code, out, err = studio(capsys, "export", "--format", "folder", *args, *data)
    assert code == 1 and message in " ".join(err.split()) and "Traceback" not in err + out


def test_import_a_folder_then_a_final_png(capsys, store, runner, scripted, tmp_path):
    t = plain(runner, "a pear", seed=3)
    export_dir = tmp_path / "out"
    assert (
        studio(
            capsys,
            "export",
            "--format",
            "folder",
            "--out",
            str(export_dir),
            "--db",
            store.url,
            "--data-dir",
            str(store.data_dir),
        )[0]
        == 0
    )
    fresh = ["--data-dir", str(tmp_path / "fresh")]
    code, out, _ = studio(capsys, "import", str(export_dir), *fresh)
    assert code == 0 and out.strip() == f"imported {t.session.id}"
    png = store.image_path(t.head().image.sha256)
    code, out, _ = studio(capsys, "import", str(png), *fresh)
    assert (
        code == 0 and f"already here {t.session.id}" in out and f"studio show {t.session.id}" in out
    )
    code, out, err = studio(capsys, "import", str(png), "--data-dir", str(tmp_path / "third"))
    assert code == 0 and f"imported {t.session.id}" in out and "earlier image(s) are not in" in err
    assert Store(data_dir=tmp_path / "third").load(t.session.id).head().image == t.head().image


def test_import_mistakes_are_one_line_and_exit_1(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = studio(
        capsys, "import", str(tmp_path / "notes.txt"), "--data-dir", str(tmp_path / "d")
    )
    assert code == 1 and "neither a PNG nor an export folder" in err and "Traceback" not in err


def test_light_commands_never_import_pyarrow(tmp_path):
    env = dict(os.environ, STROKE_STUDIO_DATA=str(tmp_path / "data"))
    result = sessions_in_a_fresh_interpreter(env, ("pyarrow", "datasets", "pandas", "torch"))
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
