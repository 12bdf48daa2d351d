"""What every `studio` subcommand shares: the consoles, the --db/--data-dir/--json options and the
one-line failure. It sits below the subcommand modules (as Datasette's publish/common.py does), so
each of them imports it and none imports another; it loads no engine, exporter or benchmark.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..store import DATA_ENV, DB_ENV, Store

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def db_option(help: str = "SQLAlchemy URL of the sessions database.") -> typer.models.OptionInfo:
    return typer.Option("--db", envvar=DB_ENV, help=help)


def data_option(help: str = "Folder for the database and images.") -> typer.models.OptionInfo:
    return typer.Option("--data-dir", envvar=DATA_ENV, help=help)


DbOption = Annotated[Optional[str], db_option()]
DataOption = Annotated[Optional[Path], data_option()]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


_opened: list[Store] = []


def open_store(db: Optional[str], data_dir: Optional[Path]) -> Store:
    """The command's store, closed by `close_stores` when the command ends (`studio.cli.main`): SQLite
    folds its write-ahead log back into the file then, not whenever Python happens to collect the
    store (a caller running several commands in one process, as the tests do, would otherwise see
    the file change at a random moment)."""
    store = Store(db, data_dir)
    _opened.append(store)
    return store


def close_stores() -> None:
    while _opened:
        _opened.pop().close()


def fail(message: str) -> None:
    """Print one red line on stderr and exit with status 1 (never a traceback)."""
    # Undecodable input arrives as lone surrogates; print them escaped rather than fail to print.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    err.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
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
