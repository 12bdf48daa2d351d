"""Run the `studio` command in-process, as its console script does."""

from __future__ import annotations

import sys

from studio import cli


def studio(capsys, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `studio ARGS`."""
    old, sys.argv = sys.argv, ["studio", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err
