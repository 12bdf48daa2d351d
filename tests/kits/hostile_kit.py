"""Hostile inputs built in code, and the yardstick every fault-injection test holds them to.

`Tally` counts each case the suites try (clean, traceback, wrongly accepted, data changed); set
HOSTILE_REPORT=path.json to have the suites add their counts to that file (docs/benchmarks.md
quotes them). `snapshot` is the state a refused input must leave untouched: every row of the
database (as SQL, so a harmless WAL checkpoint does not count as a change) and every file's bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from studio.core import pngmeta

REPORT_ENV = "HOSTILE_REPORT"


def snapshot(data_dir: Path) -> dict[str, str]:
    """Rows of studio.db (when there is one) and the sha256 of every other file under `data_dir`."""
    state: dict[str, str] = {}
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and not path.name.startswith("studio.db"):
            state[str(path.relative_to(data_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    db = data_dir / "studio.db"
    if db.exists():
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            state["studio.db rows"] = hashlib.sha256(
                "\n".join(conn.iterdump()).encode()
            ).hexdigest()
        conn.close()
    return state


def file_bytes(path: Path) -> dict[str, str]:
    """The exact bytes of a database file, and of its -wal when that holds anything. (Merely reading a
    database already in WAL mode makes SQLite create an empty -wal and its -shm index; a database
    not in WAL mode gets neither, and the tests check that it does not.)"""
    files = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        files[wal.name] = hashlib.sha256(wal.read_bytes()).hexdigest()
    return files


def one_line_error(code: int, out: str, err: str) -> bool:
    """A refusal as the CLI gives it: exit status 1 (2 for typer's own usage errors), no traceback,
    one non-blank line on stderr that says Error."""
    lines = [line for line in err.splitlines() if line.strip()]
    if (
        code == 2
    ):  # typer/click usage errors (e.g. "abc" for a number): a small box, still no traceback;
        # an unknown option would be the test's own typo, so it does not count as a refusal
        return "Traceback" not in out + err and "Error" in err and "No such option" not in err
    return (
        code == 1
        and "Traceback" not in out + err
        and len(lines) == 1
        and lines[0].startswith("Error:")
    )


@dataclass
class Tally:
    suite: str
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "tried": 0,
            "clean": 0,
            "traceback": 0,
            "wrongly_accepted": 0,
            "data_changed": 0,
        }
    )

    def record(
        self,
        *,
        refused_cleanly: bool,
        should_refuse: bool = True,
        traceback: bool = False,
        changed: bool = False,
    ) -> None:
        self.counts["tried"] += 1
        self.counts["traceback"] += traceback
        self.counts["data_changed"] += changed
        self.counts["wrongly_accepted"] += should_refuse and not refused_cleanly and not traceback
        self.counts["clean"] += refused_cleanly == should_refuse and not traceback and not changed

    def save(self) -> None:
        target = os.environ.get(REPORT_ENV)
        if not target:
            return
        path = Path(target)
        report = json.loads(path.read_text()) if path.exists() else {}
        report[self.suite] = self.counts
        path.write_text(json.dumps(report, indent=1, sort_keys=True))


# -- PNGs ---------------------------------------------------------------------------------------


def plain_png(size: int = 32, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def with_chunk(png: bytes, kind: bytes, body: bytes) -> bytes:
    """`png` with one more chunk just before IEND."""
    return png[:-12] + chunk(kind, body) + png[-12:]


def our_chunk(text: bytes, *, compressed: bool = False, kind: bytes = b"iTXt") -> bytes:
    """The body of a trajectory chunk holding `text` as given (any bytes: JSON or not)."""
    head = pngmeta.KEYWORD + b"\0"
    if kind == b"tEXt":
        return head + text
    if kind == b"zTXt":
        return head + b"\0" + (zlib.compress(text) if compressed else text)
    return (
        head
        + (b"\1\0" if compressed else b"\0\0")
        + b"\0\0"
        + (zlib.compress(text) if compressed else text)
    )


def stamped(payload: object, png: bytes | None = None, **options) -> bytes:
    """A PNG carrying `payload` (any JSON value) where a final image carries its trajectory."""
    text = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    return with_chunk(png or plain_png(), b"iTXt", our_chunk(text, **options))


def garbage_pixels(png: bytes) -> bytes:
    """The same header and chunks, but the IDAT's compressed pixel data replaced by noise (valid CRCs)."""
    out, offset = [png[:8]], 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        body = png[offset + 8 : offset + 8 + length]
        if kind == b"IDAT":
            body = bytes((i * 97 + 13) % 256 for i in range(len(body)))
        out.append(chunk(kind, body))
        offset += 12 + length
    return b"".join(out)


# -- databases ----------------------------------------------------------------------------------


def foreign_db(path: Path) -> Path:
    """Another application's SQLite file: a notes table with a row."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('buy milk')")
    conn.close()
    return path


def alembic_db(path: Path, revisions: list[str], with_our_tables: bool = True) -> Path:
    """A file that looks like ours at `revisions` (empty list: an empty alembic_version table)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.executemany("INSERT INTO alembic_version VALUES (?)", [(r,) for r in revisions])
        if with_our_tables:
            for table in ("sessions", "steps", "images"):
                conn.execute(f"CREATE TABLE {table} (id TEXT)")
    conn.close()
    return path


def corrupt(path: Path) -> None:
    """Overwrite every page but the first with noise, as a failing disk would; the file header and
    the schema page stay valid, so the file still opens and only a check of the pages finds it."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with path.open("r+b") as handle:
        for number in range(1, pages):
            handle.seek(number * page)
            handle.write(bytes((number * 31 + i * 7) % 256 for i in range(page)))
