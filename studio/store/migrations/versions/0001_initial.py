"""Sessions, steps and content-addressed images.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("head_id", sa.String(32)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_sessions_updated_at", "sessions", ["updated_at"])
    op.create_table(
        "images",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("byte_size", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "steps",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("parent_id", sa.String(32), sa.ForeignKey("steps.id", ondelete="CASCADE")),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("author", sa.String(8), nullable=False),
        sa.Column("instruction", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("plan_check", sa.JSON),
        sa.Column("sketch_check", sa.JSON),
        sa.Column("image_sha256", sa.String(64), sa.ForeignKey("images.sha256")),
        sa.Column("region_sha256", sa.String(64), sa.ForeignKey("images.sha256")),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("review", sa.String(16)),
        sa.Column("review_note", sa.Text, nullable=False),
        sa.Column("original", sa.JSON, nullable=False),
        sa.Column("seed", sa.BigInteger),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("elapsed_s", sa.Float),
        sa.Column("sampling_steps", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_steps_session", "steps", ["session_id", "created_at"])


def downgrade() -> None:
    op.drop_table("steps")
    op.drop_table("images")
    op.drop_table("sessions")
