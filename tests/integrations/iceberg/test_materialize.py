"""End to end: a daily-partitioned asset materialized through IcebergIOManager, read downstream."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from orchestrator import asset, materialize
from orchestrator.partitions import DailyPartitions
from orchestrator.storage.base import MemoryEventStore
from orchestrator.storage.events import EventType
from tests.integrations.iceberg.conftest import counts_by_day, day_rows, read

DAYS = DailyPartitions("2024-01-01", end="2024-01-10")


@asset(key_prefix="raw", partitions=DAYS, metadata={"partition_column": "day"})
def events(context) -> pa.Table:
    n = int(context.partition_key[-2:])  # day N has N rows
    return day_rows(context.partition_key, n, start=100 * n)


@asset(key_prefix="marts", partitions=DAYS, metadata={"partition_column": "day"}, ins={"events": "raw/events"})
def daily_totals(events: pa.Table) -> pa.Table:
    day = events["day"][0].as_py()
    return pa.table({"day": pa.array([day], pa.date32()), "events": [events.num_rows]})


def test_materialize_writes_each_partition_into_one_iceberg_table_and_reads_it_downstream(io):
    store = MemoryEventStore()
    for day in ("2024-01-02", "2024-01-03", "2024-01-02"):
        result = materialize([events, daily_totals], io_managers={"io_manager": io}, partition=day, store=store)
        assert result.success, result.causes

    assert counts_by_day(read(io, "raw/events")) == {"2024-01-02": 2, "2024-01-03": 3}
    totals = read(io, "marts/daily_totals").sort_by("day").to_pydict()
    assert totals == {"day": [dt.date(2024, 1, 2), dt.date(2024, 1, 3)], "events": [2, 3]}
    assert result.value("raw/events").num_rows == 2  # read back without metadata: the table's spec

    [run] = [r for r in store.list_runs() if r.run_id == result.run_id]
    materialized = [e for e in store.events(run.run_id) if e.type == EventType.MATERIALIZATION]
    data = {str(e.asset_key): e.data["metadata"] for e in materialized}
    assert data["raw/events"]["rows"] == 2
    assert data["raw/events"]["data_version"] == str(io.table("raw/events").current_snapshot().snapshot_id)
    assert data["raw/events"]["location"].endswith("/raw/events")
