"""Backfills and their chunks.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfills",
        sa.Column("backfill_id", sa.String(64), primary_key=True),
        sa.Column("selection", sa.Text),
        sa.Column("exclude", sa.Text),
        sa.Column("range_start", sa.Text, nullable=False),
        sa.Column("range_end", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("options", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_backfills_created_at", "backfills", ["created_at"])
    op.create_table(
        "backfill_chunks",
        sa.Column("backfill_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("asset_keys", sa.Text, nullable=False),
        sa.Column("range_start", sa.Text),
        sa.Column("range_end", sa.Text),
        sa.Column("partitions", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", sa.Double),
    )


def downgrade() -> None:
    op.drop_table("backfill_chunks")
    op.drop_table("backfills")
