"""The tables of the SQL store, shared by every SQL table module; the migrations build exactly these."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("selection", sa.Text),
    sa.Column("asset_keys", sa.Text, nullable=False),  # JSON list of key strings
    sa.Column("partition", sa.Text),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("ended_at", sa.Double),
    sa.Column("tags", sa.Text),  # JSON object, NULL when empty
    # the run queue (0004)
    sa.Column("exclude", sa.Text),
    sa.Column("launched_by", sa.String(32)),
    sa.Column("parent_run_id", sa.String(64)),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("enqueued_at", sa.Double),
    sa.Column("pid", sa.Integer),
    sa.Column("host", sa.Text),
    sa.Column("heartbeat_at", sa.Double),
    sa.Column("pools", sa.Text),  # JSON list of pool names the run holds a slot of
    sa.Column("config", sa.Text),  # JSON object: executor, retries, ...
    sa.Column("cancel_requested_at", sa.Double),
    sa.Column("error", sa.Text),
    sa.Column("claimed_by", sa.String(64)),
    sa.Index("ix_runs_started_at", "started_at"),
    sa.Index("ix_runs_status_enqueued_at", "status", "enqueued_at"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
    sa.Column("step_key", sa.Text),
    sa.Column("asset_key", sa.Text),
    sa.Column("partition", sa.Text),
    sa.Column("message", sa.Text),
    sa.Column("data", sa.Text),  # JSON object, NULL when empty
    sa.Index("ix_events_run_id_id", "run_id", "id"),
    sa.Index("ix_events_asset_key_type_id", "asset_key", "type", "id"),
)

asset_latest = sa.Table(
    "asset_latest",
    metadata,
    sa.Column("asset_key", sa.Text, primary_key=True),
    sa.Column("partition", sa.Text, primary_key=True),  # '' for an unpartitioned materialization
    sa.Column("event_id", Id, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
)

# The newest failed step per (asset, partition) and the newest result per check, kept up to date in
# the transaction that appends the event (0004): status reads never scan the events.
asset_failures = sa.Table(
    "asset_failures",
    metadata,
    sa.Column("asset_key", sa.Text, primary_key=True),
    sa.Column("partition", sa.Text, primary_key=True),
    sa.Column("event_id", Id, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
)

check_latest = sa.Table(
    "check_latest",
    metadata,
    sa.Column("asset_key", sa.Text, primary_key=True),
    sa.Column("check_name", sa.Text, primary_key=True),
    sa.Column("event_id", Id, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
)

backfills = sa.Table(
    "backfills",
    metadata,
    sa.Column("backfill_id", sa.String(64), primary_key=True),
    sa.Column("selection", sa.Text),
    sa.Column("exclude", sa.Text),
    sa.Column("range_start", sa.Text, nullable=False),
    sa.Column("range_end", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("options", sa.Text),  # JSON object
    sa.Column("error", sa.Text),
    sa.Index("ix_backfills_created_at", "created_at"),
)

backfill_chunks = sa.Table(
    "backfill_chunks",
    metadata,
    sa.Column("backfill_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("asset_keys", sa.Text, nullable=False),  # JSON list of key strings
    sa.Column("range_start", sa.Text),
    sa.Column("range_end", sa.Text),
    sa.Column("partitions", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column("updated_at", sa.Double),
)

dynamic_partitions = sa.Table(
    "dynamic_partitions",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("partition_key", sa.Text, primary_key=True),
    sa.Column("added_at", sa.Double, nullable=False),
)

# -- automation (0004) ----------------------------------------------------------------------------

# One row per schedule or sensor (and one lease row per daemon loop, e.g. the automation evaluator):
# its started/stopped state, cursor, the last tick it handled, and which daemon holds it until when.
triggers = sa.Table(
    "triggers",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16)),  # running | stopped; NULL: the definition's default
    sa.Column("cursor", sa.Text),
    sa.Column("last_tick_at", sa.Double),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", sa.Double),
    sa.Column("updated_at", sa.Double, nullable=False),
)

ticks = sa.Table(
    "ticks",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("tick_at", sa.Double, nullable=False),  # the scheduled instant, or the evaluation time
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("ended_at", sa.Double),
    sa.Column("run_ids", sa.Text),  # JSON list
    sa.Column("skip_reason", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("cursor", sa.Text),
    sa.UniqueConstraint("name", "tick_at", name="uq_ticks_name_tick_at"),
    sa.Index("ix_ticks_name_id", "name", "id"),
)

run_keys = sa.Table(
    "run_keys",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("run_key", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)

daemons = sa.Table(
    "daemons",
    metadata,
    sa.Column("daemon_id", sa.String(64), primary_key=True),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("heartbeat_at", sa.Double, nullable=False),
    sa.Column("info", sa.Text),  # JSON object
)

# Per asset: what declarative automation last decided and requested.
asset_automation = sa.Table(
    "asset_automation",
    metadata,
    sa.Column("asset_key", sa.Text, primary_key=True),
    sa.Column("evaluated_at", sa.Double, nullable=False),
    sa.Column("result", sa.Boolean, nullable=False),
    sa.Column("reasons", sa.Text),  # JSON list of the sub-conditions that decided
    sa.Column("requested_at", sa.Double),
    sa.Column("requested_run_id", sa.String(64)),
    sa.Column("requested_fingerprint", sa.Text),  # the inputs it was requested for
    sa.Column("cron_handled_at", sa.Double),  # the last cron tick a request covered
    sa.Column("data_version", sa.Text),  # its data version at that evaluation
)

automation_evaluations = sa.Table(
    "automation_evaluations",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("evaluated_at", sa.Double, nullable=False),
    sa.Column("seconds", sa.Double, nullable=False),
    sa.Column("assets", sa.Integer, nullable=False),
    sa.Column("requested", sa.Text),  # JSON: the runs it enqueued and each asset's reasons
    sa.Index("ix_automation_evaluations_evaluated_at", "evaluated_at"),
)

freshness_events = sa.Table(
    "freshness_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("asset_key", sa.Text, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),  # pass | warn | fail
    sa.Column("previous", sa.String(8)),
    sa.Column("timestamp", sa.Double, nullable=False),
    sa.Column("lag_seconds", sa.Double),
    sa.Column("message", sa.Text),
    sa.Index("ix_freshness_events_asset_key_id", "asset_key", "id"),
)

TABLES = tuple(metadata.sorted_tables)
