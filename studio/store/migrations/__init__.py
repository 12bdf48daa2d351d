"""Schema migrations (Alembic), run in-process when a database is opened.

Alembic is a proper tool for the job: revision files that a developer can read,
write with `alembic revision`, and that run on SQLite and PostgreSQL alike. The
store imports this module only when a database is new or behind, so everyday
commands don't pay for importing Alembic.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent
MIGRATION_LOCK = 0x57D10  # a constant key of PostgreSQL's advisory locks, for schema changes


def config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


def upgrade(db: Engine, revision: str = "head") -> None:
    from alembic import command

    cfg = config()
    with db.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Workers opening a new database at once (a batch's first start on several GPUs) would
            # each create the tables; the first takes this lock, the others then find the schema
            # current. (On SQLite the store's BEGIN IMMEDIATE already queues them.)
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def revisions() -> list[str]:
    """All revision ids, oldest first."""
    from alembic.script import ScriptDirectory

    return [
        s.revision for s in reversed(list(ScriptDirectory.from_config(config()).walk_revisions()))
    ]
