"""The store's schema: its tables, the revisions that build them, and a session row as a Session.

Every other module of the store (and the batch work queue, and Alembic's environment) reads the
tables from here, so the schema has one owner and nothing here imports the rest of the store. Its
history is the revision files in `studio/store/migrations/versions/`; `KNOWN_REVISIONS` lists them.
The column types are portable to SQLite and PostgreSQL.

Example::

    from sqlalchemy import select
    from studio.store.tables import session_from_row, sessions

    with store.readonly_db.connect() as conn:
        newest = session_from_row(
            conn.execute(select(sessions).order_by(sessions.c.updated_at.desc())).first()
        )
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

from ..core.domain import RunSettings, Session

# Alembic revisions this code knows, oldest first; the last is the one it writes.
KNOWN_REVISIONS = ("0001", "0002", "0003")

metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("title", String(200), nullable=False, default=""),
    Column("prompt", Text, nullable=False),
    Column("engine", String(64), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("head_id", String(32)),
    Column("version", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # "" marks a session made before owners were recorded: everyone may see it (queries.visible_to).
    Column("owner", String(128), nullable=False, server_default=""),
    Column("shared", Boolean, nullable=False, server_default=false()),
    Index("ix_sessions_updated_at", "updated_at"),
)

images = Table(
    "images",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("byte_size", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

steps = Table(
    "steps",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("session_id", String(32), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", String(32), ForeignKey("steps.id", ondelete="CASCADE")),
    Column("stage", String(16), nullable=False),
    Column("round", Integer, nullable=False),
    Column("author", String(8), nullable=False),
    Column("instruction", Text),
    Column("description", Text),
    Column("plan_check", JSON),
    Column("sketch_check", JSON),
    Column("image_sha256", String(64), ForeignKey("images.sha256")),
    Column("region_sha256", String(64), ForeignKey("images.sha256")),
    Column("complete", Boolean, nullable=False),
    Column("review", String(16)),
    Column("review_note", Text, nullable=False),
    Column("original", JSON, nullable=False),
    Column("seed", BigInteger),
    Column("params", JSON, nullable=False),
    Column("meta", JSON, nullable=False),
    Column("elapsed_s", Float),
    Column("sampling_steps", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("annotator", String(128)),  # the person behind the step's latest human action
    Index("ix_steps_session", "session_id", "created_at"),
)

# Ratings and preferences (studio.core.people.Judgement), read and written by studio/store/queries.py.
judgements = Table(
    "judgements",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("session_id", String(32), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("step_id", String(32), nullable=False),
    Column("other_step_id", String(32)),
    Column("value", String(16), nullable=False),
    Column("note", Text, nullable=False),
    Column("annotator", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_judgements_step", "step_id"),
    Index("ix_judgements_session", "session_id", "created_at"),
)

# The work tables of `studio batch` (studio/batch/workqueue.py): one row per batch, one per (prompt, sample).
batches = Table(
    "batches",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("total", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

batch_items = Table(
    "batch_items",
    metadata,
    Column("batch", String(64), ForeignKey("batches.name", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("mode", String(16), nullable=False),
    Column("prompt_index", Integer, nullable=False),
    Column("sample", Integer, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("row", JSON, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("session_id", String(32)),
    Column("status", String(16), nullable=False),
    Column("worker", String(128)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("started_at", Float),
    Column("finished_at", Float),
    Index("ix_batch_items_claim", "batch", "status", "seq"),
)


# -- rows <-> domain objects ------------------------------------------------------------------


def session_from_row(row: Any) -> Session:
    """The Session a row of `sessions` holds (its settings and tags decoded from JSON)."""
    return Session(
        id=row.id,
        prompt=row.prompt,
        engine=row.engine,
        seed=row.seed,
        title=row.title,
        settings=RunSettings.from_dict(row.settings),
        tags=tuple(row.tags),
        head_id=row.head_id,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        owner=row.owner,
        shared=bool(row.shared),
    )
