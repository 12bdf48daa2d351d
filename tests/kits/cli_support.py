"""Run the `studio` command in-process, as its console script does, or in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from studio import cli

ROOT = Path(__file__).resolve().parents[2]


def studio(capsys, *args: object) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `studio ARGS`; paths and numbers are passed as their text."""
    old, sys.argv = sys.argv, ["studio", *map(str, args)]
    try:
        cli.main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sessions_in_a_fresh_interpreter(
    env: dict[str, str], modules: tuple[str, ...]
) -> subprocess.CompletedProcess:
    """`studio sessions` in a new Python process, which then prints `HEAVY [...]`: those of `modules`
    it imported. A subprocess, because this test process has long since imported them all."""
    probe = (
        "import sys; from studio import cli; sys.argv = ['studio', 'sessions']\n"
        "try: cli.main()\nexcept SystemExit: pass\n"
        f"print('HEAVY', sorted(m for m in {modules!r} if m in sys.modules))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
