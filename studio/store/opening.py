"""Deciding whether a database may be opened, before anything is written to it.

Opening a database the studio does not own must leave it exactly as it was: the store's
connections switch SQLite to WAL mode (a header change) and Alembic creates tables, so every
check here runs first, on a read-only connection of its own. A SQLite file is refused when it
is not SQLite, is read-only, fails `PRAGMA quick_check` (damaged), holds another
application's tables, has an empty `alembic_version`, or was written by a newer version.

A full disk is told apart from damage (`disk_full`): SQLite answers a full disk with SQLITE_FULL,
or with a disk I/O error when it cannot even grow its shared-memory index, and neither means the
file is damaged, so the fix named is to free space, never to recover the file.
"""

from __future__ import annotations

import errno
import importlib
import os
import sqlite3
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, event, insert, inspect
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError

from ..core.domain import StudioError

OUR_TABLES = frozenset({"sessions", "steps", "images"})
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 10, 11, 13, 26  # primary result codes
POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full
LOW_SPACE_BYTES = 1 << 20  # a disk I/O error with less than this free is a full disk
SQLITE_HEADER = b"SQLite format 3\x00"
POSTGRES_INSTALL = 'pip install -e ".[postgres]"  (psycopg 3)'


def parse_url(url: str) -> URL:
    """A database URL the store can use; StudioError naming the fix otherwise."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StudioError(
            f"--db {_short(url)} is not a database URL; use e.g. sqlite:///sessions/studio.db "
            "or postgresql+psycopg://user@host/dbname."
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StudioError(
            f"--db uses {backend!r}; Stroke Studio stores sessions in SQLite or PostgreSQL."
        )
    if backend == "sqlite" and (
        parsed.database in (None, "", ":memory:") or "memory" in str(parsed.query)
    ):
        raise StudioError(
            "--db sqlite:// is an in-memory database: nothing would be saved. "
            "Give a file, e.g. --db sqlite:///sessions/studio.db."
        )
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise StudioError(
            f"--db names the driver {parsed.drivername!r}, which SQLAlchemy does not know; "
            "use sqlite:/// or postgresql+psycopg://."
        ) from None
    except ImportError as error:
        hint = POSTGRES_INSTALL if backend == "postgresql" else f"install the {error.name} package"
        raise StudioError(
            f"--db needs the database driver {error.name!r}, which is not installed: {hint}."
        ) from None
    return parsed


def sqlite_file(parsed: URL) -> Path | None:
    return (
        Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None
    )


def check_sqlite_file(path: Path, known_revisions: tuple[str, ...]) -> None:
    """Refuse an existing SQLite file the store must not open; a missing or empty file is a new database."""
    if path.is_dir():
        raise StudioError(
            f"--db {path} is a folder; give a database file, e.g. {path / 'studio.db'}."
        )
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise StudioError(
            f"Cannot read {path} ({error.strerror or error}); check its permissions."
        ) from None
    if header != SQLITE_HEADER:
        raise StudioError(
            f"{path} is not a Stroke Studio database (not even a SQLite file); nothing was changed. "
            "Pass another --db, or move that file away."
        )
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        raise StudioError(
            f"{path} (or its folder) is read-only; Stroke Studio writes every action as it happens. "
            "Make it writable, or copy it somewhere writable and pass that --db."
        )
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30)
    except sqlite3.Error as error:
        raise _unreadable(path, error) from None
    try:
        verdict = conn.execute("PRAGMA quick_check(5)").fetchall()
        if verdict != [("ok",)]:
            raise _damaged(path, "; ".join(str(row[0]) for row in verdict))
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        revisions = (
            None
            if "alembic_version" not in tables
            else [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
        )
    except sqlite3.DatabaseError as error:
        raise _unreadable(path, error) from None
    finally:
        conn.close()
    check_tables(str(path), tables, revisions, known_revisions)


def check_tables(
    where: str, tables: set[str], revisions: list[str] | None, known: tuple[str, ...]
) -> None:
    """Refuse a database that holds tables but is not (this version's) Stroke Studio database.

    `revisions` is the content of `alembic_version` (None when there is no such table)."""
    tables = {t for t in tables if not t.startswith("sqlite_")}
    if not tables:
        return  # a new, empty database: the store creates its schema
    if revisions is None:
        listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise StudioError(
            f"{where} belongs to another application (its tables: {listed}); nothing was changed. "
            "Pass another --db for Stroke Studio's sessions."
        )
    if len(revisions) != 1:
        raise StudioError(
            f"{where} has {'no' if not revisions else 'several'} schema revisions in its alembic_version "
            "table, so it is damaged or not Stroke Studio's; nothing was changed. Restore a backup, "
            "or pass another --db."
        )
    revision = revisions[0]
    if revision not in known:
        raise StudioError(
            f"{where} was written by a newer Stroke Studio (schema revision {_short(revision)}; this "
            f"version knows up to {known[-1]}); nothing was changed. Upgrade Stroke Studio, or pass "
            "another --db."
        )
    if not OUR_TABLES <= tables:  # every revision has them
        raise StudioError(
            f"{where} has an alembic_version but not Stroke Studio's tables; it belongs to another "
            "application. Nothing was changed; pass another --db."
        )


def migrate(db: Engine, readonly_db: Engine, shown_url: str, known: tuple[str, ...]) -> None:
    """Check an opened database with `check_tables` (read on `readonly_db`), then bring its schema
    to the newest of `known` revisions; a refused or unreadable database has `db` disposed."""
    try:
        with _connect(db, readonly_db, shown_url) as conn:
            tables = set(inspect(conn).get_table_names())
            revisions = (
                list(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
                if "alembic_version" in tables
                else None
            )
    except StudioError:  # a full disk (make_db's handler)
        db.dispose()
        raise
    except (DatabaseError, sqlite3.DatabaseError) as error:
        db.dispose()
        raise StudioError(
            f"Cannot read the database {shown_url} ({str(getattr(error, 'orig', error))[:200]}). "
            "Check the URL, the server and your permissions."
        ) from None
    try:
        check_tables(shown_url, tables, revisions, known)
    except StudioError:
        db.dispose()
        raise
    if revisions == [known[-1]]:
        return
    from .migrations import upgrade  # Alembic is imported only when the schema must change

    upgrade(db)


def _connect(db: Engine, readonly_db: Engine, shown_url: str) -> Connection:
    """The first connection to a database server, or one line saying it could not be reached: the
    driver's first line (psycopg's "connection to server at …, port … failed: Connection refused";
    its second line, a hint, is left out) and what to check. SQLite's errors go to `migrate`."""
    try:
        return readonly_db.connect()
    except DatabaseError as error:
        if readonly_db.dialect.name == "sqlite":
            raise
        db.dispose()
        said = str(getattr(error, "orig", error)).strip().splitlines() or [type(error).__name__]
        reason = " ".join(said[0].split()).removeprefix("connection failed: ")[:200]
        raise StudioError(
            f"Cannot connect to the database {shown_url}: {reason}. Check that the server is "
            "running and the URL's host, port, user, password and database name."
        ) from None


def ensure_writable(folder: Path, env_name: str) -> None:
    """Create the image folder (and the data folder around it) and prove it can be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as error:
        if disk_full(error, None):
            raise StudioError(full_disk_message(folder)) from None
        raise StudioError(
            f"Cannot write to the data directory {folder} ({error.strerror or error}). "
            f"Pass a writable one with --data-dir or set {env_name}."
        ) from None


def disk_full(error: BaseException | None, near: Path | None) -> bool:
    """Whether `error` (a DBAPI error, sqlite3's or psycopg's, or an OSError) means the disk is full:
    SQLITE_FULL, PostgreSQL's disk_full, ENOSPC/EDQUOT, or a SQLite disk I/O error while the file
    system holding `near` (a file or folder) has almost no space left."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if getattr(error, "sqlstate", None) == POSTGRES_DISK_FULL:
        return True
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return False
    if code & 0xFF == SQLITE_FULL:
        return True
    return code & 0xFF == SQLITE_IOERR and near is not None and _free_bytes(near) < LOW_SPACE_BYTES


def _free_bytes(near: Path) -> int:
    folder = near if near.is_dir() else near.parent
    try:
        found = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs on Windows: no evidence of a full disk
        return LOW_SPACE_BYTES
    return found.f_bavail * found.f_frsize


def full_disk_message(where: Path | None = None) -> str:
    """The one line for a full disk. Without `where` it names no path (it may reach a browser)."""
    disk = (
        f"The disk holding {where}" if where is not None else "The disk holding the studio's data"
    )
    return (
        f"{disk} is full; nothing more was written and what was saved is intact (the database is "
        "not damaged). Free some space on that disk, then try again."
    )


def _unreadable(path: Path, error: sqlite3.Error) -> StudioError:
    """Why an existing SQLite file could not be checked: a full disk, damage, or another failure."""
    if disk_full(error, path):
        return StudioError(full_disk_message(path.parent))
    code = getattr(error, "sqlite_errorcode", SQLITE_CORRUPT) & 0xFF
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return _damaged(path, str(error))
    return StudioError(
        f"Cannot read {path} (SQLite: {str(error)[:120]}); nothing was written to it. Check the disk "
        "and the file's permissions, then try again."
    )


def _damaged(path: Path, detail: str) -> StudioError:
    # SQLite's report spans lines; the message is one.
    detail = " ".join(detail.replace("*** in database main ***", "").split())
    return StudioError(
        f"{path} is damaged (SQLite: {detail[:120]}); nothing was written to it. Recover what is left with "
        f"`sqlite3 {path} .recover | sqlite3 recovered.db` and pass --db sqlite:///recovered.db, or restore a backup."
    )


def _short(text: object) -> str:
    shown = ascii(str(text))[1:-1]
    return shown if len(shown) <= 60 else shown[:57] + "..."


# -- connecting (used by the store and the batch work queue) ----------------------------------


def insert_ignoring_duplicates(conn: Connection, table: Table):
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL (a plain insert on other databases)."""
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        dialect = importlib.import_module(f"sqlalchemy.dialects.{name}")
        return dialect.insert(table).on_conflict_do_nothing()
    return insert(table)


def _say_when_full(db: Engine, near: Path | None) -> None:
    """Any statement (or connection) that fails because the disk is full raises StudioError with
    `full_disk_message()` instead of a DBAPI error, for every caller: the CLI, the page, the workers."""

    @event.listens_for(db, "handle_error")
    def _full(context: Any) -> None:
        if disk_full(context.original_exception, near):
            raise StudioError(full_disk_message()) from None


def _wal(cursor: Any, wait_s: float = 30.0) -> None:
    """Switch to WAL. Switching needs the file to itself, and SQLite answers "database is locked" at
    once (no busy wait) while another process is creating or switching the same new file — as two
    batch workers started together do — so it is retried for up to `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_db(url: str) -> Engine:
    """The SQLAlchemy Engine of the store's database (the name `db` keeps "engine" for the model
    engines): a full disk becomes one StudioError line; on SQLite every connection waits up to 30 s
    for a lock, runs in WAL mode, and a writer's transaction takes the write lock at BEGIN (a
    connection with `execution_options(readonly=True)` begins a plain read instead)."""
    if not url.startswith("sqlite"):
        db = create_engine(url, pool_pre_ping=True)
        _say_when_full(db, None)
        return db
    db = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    _say_when_full(db, sqlite_file(make_url(url)))

    @event.listens_for(db, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")  # first, so the pragmas below wait too
        _wal(cursor)
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(db, "begin")
    def _begin(conn: Connection) -> None:
        # Writers take the lock up front, so two writers queue on busy_timeout instead of failing
        # with "database is locked" when one upgrades a read lock; readers never block in WAL mode.
        conn.exec_driver_sql(
            "BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE"
        )

    return db
