"""What every `studio` subcommand shares: the consoles, the --db/--data-dir/--json options, the one
way user text reaches a terminal (`safe`) and the one-line failure. It sits below the subcommand
modules (as Datasette's publish/common.py does), so each of them imports it and none imports
another; it loads no engine, exporter or benchmark.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..core import limits
from ..store import DATA_ENV, DB_ENV, Store

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def db_option(help: str = "SQLAlchemy URL of the sessions database.") -> typer.models.OptionInfo:
    return typer.Option("--db", envvar=DB_ENV, help=help)


def data_option(help: str = "Folder for the database and images.") -> typer.models.OptionInfo:
    # The raw text is checked (typer's Path would read "" as "." and put the data in this folder).
    return typer.Option(
        "--data-dir", envvar=DATA_ENV, help=help, parser=limits.data_dir, metavar="PATH"
    )


DbOption = Annotated[Optional[str], db_option()]
DataOption = Annotated[Optional[Path], data_option()]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


_opened: list[Store] = []

# What a terminal would act on rather than show: C0 and C1 controls (ESC starts colour, cursor,
# clear-screen and window-title sequences; a lone C1 CSI does the same on some terminals), DEL,
# line and paragraph separators, and the bidirectional marks, embeddings, overrides and isolates
# that reorder the rest of the line (U+061C, U+200E/F, U+202A-202E, U+2066-2069).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufff9-\ufffb]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(value: object, *, markup: bool = True) -> str:
    """User text (titles, prompts, names, notes, errors quoting them) as it may reach a terminal: the
    characters above written visibly as `\\x1b` or `\\u202e`, and (with `markup`, for rich's print)
    rich markup escaped, so `[bold]x` prints as typed. Every command prints user text through this
    (or `print_json`)."""
    text = _UNSAFE.sub(_escaped, str(value).encode("utf-8", "backslashreplace").decode("utf-8"))
    return escape(text) if markup else text


def print_json(text: str) -> None:
    """JSON for scripts: non-ASCII as \\u escapes, so no control or bidi character reaches a terminal."""
    out.print_json(text, ensure_ascii=True)


def print_line(data: object) -> None:
    """One JSON line (JSON lines output), printed without markup or highlighting."""
    out.print(json.dumps(data), markup=False, highlight=False, soft_wrap=True)


def open_store(db: Optional[str], data_dir: Optional[Path]) -> Store:
    """The command's store, closed by `close_stores` when the command ends (`studio.cli.main`): SQLite
    folds its write-ahead log back into the file then, not whenever Python happens to collect the
    store (a caller running several commands in one process, as the tests do, would otherwise see
    the file change at a random moment)."""
    if data_dir is None and DATA_ENV in os.environ:
        limits.data_dir(os.environ[DATA_ENV], what=DATA_ENV)  # set but empty: refused, not "."
    store = Store(db, data_dir)
    _opened.append(store)
    return store


def close_stores() -> None:
    while _opened:
        _opened.pop().close()


def fail(message: str) -> None:
    """Print one red line on stderr and exit with status 1 (never a traceback)."""
    err.print(f"[bold red]Error:[/] {safe(' '.join(message.split()))}", highlight=False)
    sys.exit(1)


def progress_bar(*, counted: bool = True, remaining: bool = False, keep: bool = False):
    """The one rich progress bar of the CLI, on stderr and only on a terminal: a description, the bar,
    `done/total` when `counted`, the time taken (and left, with `remaining`); `keep` leaves it on screen."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += [MofNCompleteColumn()] if counted else []
    columns += [TimeElapsedColumn()] + ([TimeRemainingColumn()] if remaining else [])
    return Progress(*columns, console=err, transient=not keep, disable=not err.is_terminal)
