"""`studio`: the command line, one module per group of subcommands.

    common.py    consoles, --db/--data-dir/--json, the one-line failure (below all the others)
    sessions.py  run, resume, sessions, show, rename, delete, parse, engines
    export.py    export, import
    geneval.py   bench geneval
    batch.py     batch run, batch status
    train.py     train bagel
    users.py     users add, users list (the logins of app.py --auth-file)

Each subcommand module imports `common` and lower layers only, never this package's root or one
another, so any of them imports alone. Errors a person can fix print one line naming the fix and
exit with status 1, never a traceback.
"""

from __future__ import annotations

import typer

from ..core.domain import StudioError
from . import batch, export, geneval, sessions, train, users
from .common import close_stores, fail

app = typer.Typer(
    help="Stroke Studio: process-driven image generation you can watch and steer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _group in (sessions, export, geneval, batch, train, users):
    _group.register(app)


def main() -> None:
    from sqlalchemy.exc import DBAPIError

    try:
        app()
    except StudioError as error:
        fail(str(error))
    except DBAPIError as error:  # the database failed under us (a disk error, damage found mid-run)
        fail(
            f"The database reported an error ({str(error.orig)[:200]}); nothing more was written. "
            "Check the disk and the database (studio sessions checks it on opening)."
        )
    finally:
        close_stores()
