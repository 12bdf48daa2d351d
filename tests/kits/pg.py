"""A throwaway PostgreSQL server for the tests: Debian's binaries (`scripts/setup.sh --dev` installs
them), a fresh cluster in a temporary folder, one new database per test.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to the `postgres`
user the Debian package creates, and its commands run through `runuser -u postgres --`. The server
listens on 127.0.0.1 only, with trust authentication, on a free port; fsync is off (a test server
that loses its data on a power cut loses nothing of value). `STROKE_STUDIO_TEST_PG`, when set, names
a server of your own instead (a URL whose user may create and drop databases).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

SETUP_HINT = (
    "PostgreSQL's server is not installed here; run `bash scripts/setup.sh --dev` "
    "(it installs Debian's postgresql)."
)


def binary(name: str) -> str | None:
    """A PostgreSQL server program: Debian keeps them off PATH, under /usr/lib/postgresql/<version>/bin."""
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(p.split("/")[4]),
        reverse=True,
    )
    return found[0] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """initdb + pg_ctl start in a temporary folder; `stop()` removes every trace of it."""

    def __init__(self, fast: bool = True):
        initdb, pg_ctl = binary("initdb"), binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError(SETUP_HINT)
        self.pg_ctl = pg_ctl
        self.folder = Path(tempfile.mkdtemp(prefix="studio-pg-"))
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")  # created by Debian's package
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.port = _free_port()
        self._run(
            [
                initdb,
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ]
        )
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        if fast:
            options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self._run(
            [
                pg_ctl,
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(self.prefix + command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}\n{log}"
            )

    def stop(self) -> None:
        try:
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class Databases:
    """Creates a fresh database per test on a server (ours or the one STROKE_STUDIO_TEST_PG names)."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")

    def create(self) -> str:
        name = f"studio_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.admin.dispose()
