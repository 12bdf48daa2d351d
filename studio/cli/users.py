"""`studio users add NAME --file users.toml`: the logins of `python app.py --auth-file users.toml`.

The password is asked twice without echo (or read from --password-stdin for scripts) and only its
argon2 hash is written; see studio/core/accounts.py for the file's layout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import out, safe

users_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Who may log in to the studio (python app.py --auth-file FILE).",
)


@users_app.command("add")
def add(
    name: Annotated[
        str, typer.Argument(help="The login name, recorded as the author of what they do.")
    ],
    file: Annotated[
        Path, typer.Option("--file", help="The users file to create or update.")
    ] = Path("users.toml"),
    admin: Annotated[
        bool, typer.Option("--admin", help="An admin sees, shares and exports every session.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Add a person (or change their password and role); everyone else in the file is kept."""
    from ..core.accounts import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    add_user(file, name, password, role="admin" if admin else "annotator")
    out.print(
        f"{safe(name)} can log in ({'admin' if admin else 'annotator'}); {safe(file.name)} holds only "
        "password hashes.",
        highlight=False,
    )


@users_app.command("list")
def list_users(
    file: Annotated[Path, typer.Option("--file", help="The users file.")] = Path("users.toml"),
) -> None:
    """The people in a users file and their roles."""
    from ..core.accounts import read_users

    for account in read_users(file).values():
        out.print(f"{safe(account.name)}\t{safe(account.role)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
