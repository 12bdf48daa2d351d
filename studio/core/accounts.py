"""Studio logins: the people in a users file, their roles, and their passwords' argon2 hashes.

A users file is TOML, one table per person, written by `studio users add NAME --file users.toml`:

    [ana]
    password = "$argon2id$v=19$m=65536,t=3,p=4$..."   # never the password itself
    role = "admin"                                    # or "annotator" (the default)

`python app.py --auth-file users.toml` asks for a login and records the person behind every
human action; an admin sees and exports every session, an annotator their own and the shared
ones. Hashing is argon2-cffi's `PasswordHasher` (argon2id with its recommended parameters):
a kept library, since password hashing is not something to write again.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from .domain import Person, StudioError
from .people import ROLES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover — Python 3.10
    import tomli as tomllib

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_PASSWORD_CHARS = 8


def user_name(value: object) -> str:
    """A login name: 1–64 letters, digits, dots, dashes or underscores (it is shown and stored as the author)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise StudioError(
            "A user name is 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or "
            "digit, e.g. ana or ben.k."
        )
    return value


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise StudioError(f"A password needs at least {MIN_PASSWORD_CHARS} characters.")
    return _hasher().hash(password)


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str

    @property
    def person(self) -> Person:
        return Person(self.name, self.role)


class Accounts:
    """The people allowed in: checks a login (Gradio's `auth=` callable) and names the person behind it."""

    def __init__(self, accounts: dict[str, Account]):
        if not accounts:
            raise StudioError(
                "The users file lists nobody: add someone with `studio users add NAME --file FILE`."
            )
        self._accounts = accounts

    @classmethod
    def single(cls, name: str, password: str) -> "Accounts":
        """`--auth NAME:PASSWORD`: one person, who owns the studio (an admin)."""
        return cls({user_name(name): Account(name, "admin", _hasher().hash(password))})

    @classmethod
    def load(cls, path: str | Path) -> "Accounts":
        return cls(read_users(path))

    def check(self, name: str, password: str) -> bool:
        """Gradio's login check. A wrong name costs the same hash as a wrong password."""
        from argon2.exceptions import InvalidHashError, VerificationError

        account = self._accounts.get(name)
        try:
            if account is None:
                _hasher().verify(_dummy_hash(), password)
                return False
            return _hasher().verify(account.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def person(self, name: str | None) -> Person | None:
        """The person a login name stands for; None when nobody is logged in (no auth: the local user)."""
        if not name:
            return None
        account = self._accounts.get(name)
        return account.person if account else Person(name, "annotator")

    def names(self) -> list[str]:
        return sorted(self._accounts)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password: verifying against it keeps unknown names as slow as known ones."""
    return _hasher().hash(secrets.token_hex(16))


def read_users(path: str | Path) -> dict[str, Account]:
    """The accounts in a users file, each checked; any mistake is one line naming the person and the fix."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudioError(
            f"No users file at {path.name}: create it with `studio users add NAME --file "
            f"{path.name}`."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise StudioError(
            f"Cannot read the users file {path.name} ({type(error).__name__})."
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise StudioError(f"The users file {path.name} is not valid TOML ({error}).") from None
    accounts = {}
    for name, entry in data.items():
        user_name(name)
        if not isinstance(entry, dict):
            raise StudioError(
                f'In {path.name}, {name} must be a table: [{name}] with password = "...".'
            )
        password, role = entry.get("password"), entry.get("role", "annotator")
        if not isinstance(password, str) or not password.startswith("$argon2"):
            raise StudioError(
                f"In {path.name}, {name} has no argon2 password hash (never a plain password): "
                f"run `studio users add {name} --file {path.name}`."
            )
        if role not in ROLES:
            raise StudioError(f"In {path.name}, {name}'s role must be one of {', '.join(ROLES)}.")
        accounts[name] = Account(name, role, password)
    return accounts


def add_user(path: str | Path, name: str, password: str, role: str = "annotator") -> None:
    """Add a person to a users file (or set their password and role), keeping everyone else as they were."""
    name = user_name(name)
    if role not in ROLES:
        raise StudioError(f"The role must be one of {', '.join(ROLES)}.")
    path = Path(path)
    accounts = read_users(path) if path.exists() else {}
    accounts[name] = Account(name, role, hash_password(password))
    lines = [
        "# Stroke Studio logins (argon2 hashes, never passwords): `studio users add NAME --file FILE`."
    ]
    for account in accounts.values():
        lines += [
            "",
            f"[{json.dumps(account.name)}]",
            f"password = {json.dumps(account.password_hash)}",
            f"role = {json.dumps(account.role)}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
