"""The initial schema: runs, events, and the latest materialization per (asset, partition).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("selection", sa.Text),
        sa.Column("asset_keys", sa.Text, nullable=False),
        sa.Column("partition", sa.Text),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double),
        sa.Column("tags", sa.Text),
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("step_key", sa.Text),
        sa.Column("asset_key", sa.Text),
        sa.Column("partition", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("data", sa.Text),
    )
    op.create_index("ix_events_run_id_id", "events", ["run_id", "id"])
    op.create_index("ix_events_asset_key_type_id", "events", ["asset_key", "type", "id"])
    op.create_table(
        "asset_latest",
        sa.Column("asset_key", sa.Text, primary_key=True),
        sa.Column("partition", sa.Text, primary_key=True),
        sa.Column("event_id", Id, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("asset_latest")
    op.drop_table("events")
    op.drop_table("runs")
