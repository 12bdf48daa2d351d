"""`python app.py` with bad flags: one line on stderr and exit status 1, before any database or
port is opened (checked in-process: a refusal happens before Gradio is imported)."""

from __future__ import annotations

import socket

import pytest

from studio.ui.serve import main

from ..kits import hostile_kit as kit

TALLY = kit.Tally("app")


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    TALLY.save()


def refused(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    clean = (
        exit_.value.code in (1, 2)
        and "Traceback" not in err
        and (exit_.value.code == 2 or len(lines) == 1)
    )
    TALLY.record(refused_cleanly=clean, traceback="Traceback" in err)
    assert clean, err
    return err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--max-jobs", "0"], "between 1 and 64"),
        (["--max-jobs", "-1"], "between 1 and 64"),
        (["--max-jobs", "many"], "whole number"),
        (["--port", "0"], "between 1 and 65,535"),
        (["--port", "70000"], "between 1 and 65,535"),
        (["--port", "http"], "whole number"),
        (["--engine", "nope"], "Unknown engine"),
        (["--db", "sqlite://"], "in-memory"),
        (["--db", "::::"], "not a database URL"),
        (["--share"], "--auth USER:PASSWORD"),
    ],
)
def test_bad_flags_are_one_line(capsys, tmp_path, flags, message):
    assert message in refused(capsys, *flags, "--data-dir", str(tmp_path / "data"))
    assert not (tmp_path / "data").exists()  # nothing was created for a bad flag


def test_a_port_in_use_is_one_line_before_the_database_opens(capsys, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        err = refused(capsys, "--port", str(port), "--data-dir", str(tmp_path / "data"))
    assert f"Port {port} is in use" in err and not (tmp_path / "data").exists()
