"""The run queue (queued runs, pids, heartbeats, pools, retries), schedules and sensors with their
ticks, cursors and run keys, daemon heartbeats, declarative-automation state, freshness transitions,
and the newest failure / check result per asset. Runs stored as 'started' become 'running'.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

RUN_COLUMNS = [
    sa.Column("exclude", sa.Text),
    sa.Column("launched_by", sa.String(32)),
    sa.Column("parent_run_id", sa.String(64)),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("enqueued_at", sa.Double),
    sa.Column("pid", sa.Integer),
    sa.Column("host", sa.Text),
    sa.Column("heartbeat_at", sa.Double),
    sa.Column("pools", sa.Text),
    sa.Column("config", sa.Text),
    sa.Column("cancel_requested_at", sa.Double),
    sa.Column("error", sa.Text),
    sa.Column("claimed_by", sa.String(64)),
]


def upgrade() -> None:
    for column in RUN_COLUMNS:
        op.add_column("runs", column)
    op.create_index("ix_runs_status_enqueued_at", "runs", ["status", "enqueued_at"])
    op.execute("UPDATE runs SET status = 'running' WHERE status = 'started'")
    op.create_table(
        "asset_failures",
        sa.Column("asset_key", sa.Text, primary_key=True),
        sa.Column("partition", sa.Text, primary_key=True),
        sa.Column("event_id", Id, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
    )
    op.create_table(
        "check_latest",
        sa.Column("asset_key", sa.Text, primary_key=True),
        sa.Column("check_name", sa.Text, primary_key=True),
        sa.Column("event_id", Id, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
    )
    op.create_table(
        "triggers",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16)),
        sa.Column("cursor", sa.Text),
        sa.Column("last_tick_at", sa.Double),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.Double),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_table(
        "ticks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("tick_at", sa.Double, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double),
        sa.Column("run_ids", sa.Text),
        sa.Column("skip_reason", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("cursor", sa.Text),
        sa.UniqueConstraint("name", "tick_at", name="uq_ticks_name_tick_at"),
    )
    op.create_index("ix_ticks_name_id", "ticks", ["name", "id"])
    op.create_table(
        "run_keys",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("run_key", sa.String(255), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_table(
        "daemons",
        sa.Column("daemon_id", sa.String(64), primary_key=True),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("heartbeat_at", sa.Double, nullable=False),
        sa.Column("info", sa.Text),
    )
    op.create_table(
        "asset_automation",
        sa.Column("asset_key", sa.Text, primary_key=True),
        sa.Column("evaluated_at", sa.Double, nullable=False),
        sa.Column("result", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.Text),
        sa.Column("requested_at", sa.Double),
        sa.Column("requested_run_id", sa.String(64)),
        sa.Column("requested_fingerprint", sa.Text),
        sa.Column("cron_handled_at", sa.Double),
        sa.Column("data_version", sa.Text),
    )
    op.create_table(
        "automation_evaluations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("evaluated_at", sa.Double, nullable=False),
        sa.Column("seconds", sa.Double, nullable=False),
        sa.Column("assets", sa.Integer, nullable=False),
        sa.Column("requested", sa.Text),
    )
    op.create_index("ix_automation_evaluations_evaluated_at", "automation_evaluations", ["evaluated_at"])
    op.create_table(
        "freshness_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("asset_key", sa.Text, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("previous", sa.String(8)),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("lag_seconds", sa.Double),
        sa.Column("message", sa.Text),
    )
    op.create_index("ix_freshness_events_asset_key_id", "freshness_events", ["asset_key", "id"])


def downgrade() -> None:
    for table in ("freshness_events", "automation_evaluations", "asset_automation", "daemons", "run_keys",
                  "ticks", "triggers", "check_latest", "asset_failures"):
        op.drop_table(table)
    op.execute("UPDATE runs SET status = 'started' WHERE status = 'running'")
    op.drop_index("ix_runs_status_enqueued_at", "runs")
    with op.batch_alter_table("runs") as batch:
        for column in RUN_COLUMNS:
            batch.drop_column(column.name)
