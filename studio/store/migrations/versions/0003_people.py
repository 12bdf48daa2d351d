"""People: who owns a session and whether it is shared, who made a step's human change, and the
judgements table (ratings and preferences).

Sessions from before get the owner "" (owned by nobody, visible to everyone) and stay unshared;
their steps get no annotator. Every existing row is kept as it was.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("owner", sa.String(128), nullable=False, server_default=""))
    op.add_column(
        "sessions", sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("steps", sa.Column("annotator", sa.String(128)))
    op.create_table(
        "judgements",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("step_id", sa.String(32), nullable=False),
        sa.Column("other_step_id", sa.String(32)),
        sa.Column("value", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("annotator", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_judgements_step", "judgements", ["step_id"])
    op.create_index("ix_judgements_session", "judgements", ["session_id", "created_at"])


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL), not a batch table copy: on SQLite a copy drops and
    # recreates `sessions`, and with foreign keys on that would cascade-delete every step.
    op.drop_table("judgements")
    op.execute("ALTER TABLE steps DROP COLUMN annotator")
    op.execute("ALTER TABLE sessions DROP COLUMN shared")
    op.execute("ALTER TABLE sessions DROP COLUMN owner")
