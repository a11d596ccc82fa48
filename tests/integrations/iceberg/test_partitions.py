"""Partitioned assets: the table gets the partition spec; a write replaces only its partition or range."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from pyiceberg.transforms import DayTransform, HourTransform, IdentityTransform, MonthTransform

from orchestrator.errors import IOManagerError
from orchestrator.keys import AssetKey
from tests.integrations.iceberg.conftest import DAILY, counts_by_day, day_rows, read, write

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def _write_days(io, counts=(3, 4, 5)):
    for day, n in zip(DAYS, counts, strict=True):
        write(io, "raw/events", day_rows(day, n), day, DAILY)


def _files_not_of(io, day):
    files = {task.file.file_path for task in io.table("raw/events").scan().plan_files()}
    return {f for f in files if f"day_day={day}/" not in f}


def test_daily_partitions_get_a_day_transform_and_overwriting_a_day_leaves_the_others(io):
    _write_days(io)
    before = _files_not_of(io, "2024-01-02")

    meta = write(io, "raw/events", day_rows("2024-01-02", 7, start=100), "2024-01-02", DAILY)

    table = io.table("raw/events")
    assert [(f.name, f.transform) for f in table.spec().fields] == [("day_day", DayTransform())]
    assert counts_by_day(read(io, "raw/events")) == {"2024-01-01": 3, "2024-01-02": 7, "2024-01-03": 5}
    assert read(io, "raw/events", "2024-01-02", DAILY)["id"].to_pylist() == list(range(100, 107))
    after = _files_not_of(io, "2024-01-02")
    assert after == before  # other days' files untouched, not rewritten
    assert meta["rows"] == 7


def test_a_range_overwrites_every_day_of_the_range_and_only_those(io):
    _write_days(io)
    write(io, "raw/events", pa.concat_tables([day_rows("2024-01-02", 1, 50), day_rows("2024-01-03", 1, 60)]),
          "2024-01-02...2024-01-03", DAILY)

    assert counts_by_day(read(io, "raw/events")) == {"2024-01-01": 3, "2024-01-02": 1, "2024-01-03": 1}
    assert sorted(read(io, "raw/events", "2024-01-02...2024-01-03", DAILY)["id"].to_pylist()) == [50, 60]


def test_a_range_write_replaces_days_it_has_no_rows_for(io):
    _write_days(io)
    write(io, "raw/events", day_rows("2024-01-01", 2, 90), "2024-01-01...2024-01-02", DAILY)

    assert counts_by_day(read(io, "raw/events")) == {"2024-01-01": 2, "2024-01-03": 5}


def test_rows_outside_the_partition_are_refused_and_nothing_is_committed(io):
    _write_days(io)
    snapshot = io.table("raw/events").current_snapshot().snapshot_id

    with pytest.raises(IOManagerError, match=r"partition '2024-01-02': 3 row\(s\) do not belong.*2024, 1, 3"):
        write(io, "raw/events", day_rows("2024-01-03", 3), "2024-01-02", DAILY)
    assert io.table("raw/events").current_snapshot().snapshot_id == snapshot


def test_a_partitioned_asset_needs_its_partition_column(io):
    with pytest.raises(IOManagerError, match="no `partition_column` in its metadata"):
        write(io, "raw/events", day_rows("2024-01-01", 1), "2024-01-01")
    with pytest.raises(IOManagerError, match="no partition column 'dt'"):
        write(io, "raw/events", day_rows("2024-01-01", 1), "2024-01-01", {"partition_column": "dt"})


def test_hourly_keys_partition_a_timestamp_column_by_hour(io):
    def hour(h, n):
        return pa.table({"id": range(n), "ts": pa.array([dt.datetime(2024, 1, 1, h, m) for m in range(n)],
                                                        pa.timestamp("us"))})

    meta = {"partition_column": "ts"}
    write(io, "raw/clicks", hour(1, 3), "2024-01-01-01:00", meta)
    write(io, "raw/clicks", hour(2, 4), "2024-01-01-02:00", meta)
    write(io, "raw/clicks", hour(1, 2), "2024-01-01-01:00", meta)

    assert io.table("raw/clicks").spec().fields[0].transform == HourTransform()
    assert read(io, "raw/clicks", "2024-01-01-01:00", meta).num_rows == 2
    assert read(io, "raw/clicks").num_rows == 6


def test_a_zoned_timestamp_column_takes_windows_in_the_partition_timezone(io):
    meta = {"partition_column": "ts", "partition_grain": "day", "partition_timezone": "Europe/Paris"}
    paris_midnight = dt.datetime(2024, 1, 1, 23, 0, tzinfo=dt.timezone.utc)  # 2024-01-02 00:00 in Paris
    table = pa.table({"ts": pa.array([paris_midnight], pa.timestamp("us", "UTC"))})

    write(io, "raw/zoned", table, "2024-01-02", meta)
    with pytest.raises(IOManagerError, match="do not belong"):
        write(io, "raw/zoned", table, "2024-01-01", meta)


def test_month_grain_and_identity_partitions(io):
    monthly = {"partition_column": "day", "partition_grain": "month"}
    write(io, "raw/monthly", pa.concat_tables([day_rows("2024-01-01", 2), day_rows("2024-01-31", 1)]),
          "2024-01-01", monthly)
    write(io, "raw/monthly", day_rows("2024-02-10", 1), "2024-02-01", monthly)
    assert io.table("raw/monthly").spec().fields[0].transform == MonthTransform()
    assert read(io, "raw/monthly", "2024-01-01", monthly).num_rows == 3

    static = {"partition_column": "region"}
    for region, n in (("eu", 2), ("us", 3), ("eu", 1)):
        write(io, "raw/regions", pa.table({"region": [region] * n, "v": range(n)}), region, static)
    assert io.table("raw/regions").spec().fields[0].transform == IdentityTransform()
    assert read(io, "raw/regions", "eu", static).num_rows == 1
    assert read(io, "raw/regions").num_rows == 4


def test_a_partition_never_written_is_not_materialized_but_an_empty_one_is(io):
    _write_days(io)
    with pytest.raises(IOManagerError, match="partition '2024-01-09' has not been materialized"):
        read(io, "raw/events", "2024-01-09", DAILY)
    write(io, "raw/events", day_rows("2024-01-09", 0), "2024-01-09", DAILY)

    assert read(io, "raw/events", "2024-01-09", DAILY).num_rows == 0
    assert io.has(AssetKey.parse("raw/events"), "2024-01-09")
    assert io.has(AssetKey.parse("raw/events"), "2024-01-01")
    assert not io.has(AssetKey.parse("raw/events"), "2024-01-10")


def test_reads_without_metadata_use_the_tables_spec(io, make_io):
    _write_days(io)
    fresh = make_io()  # knows nothing of the asset's metadata (like RunResult.value)
    assert fresh.read_snapshot("raw/events", partition="2024-01-02").num_rows == 4


def test_an_unpartitioned_table_is_repartitioned_when_the_asset_becomes_partitioned(io):
    write(io, "raw/events", day_rows("2024-01-01", 2))
    write(io, "raw/events", day_rows("2024-01-02", 3), "2024-01-02", DAILY)

    assert io.table("raw/events").spec().fields[0].transform == DayTransform()
    assert counts_by_day(read(io, "raw/events")) == {"2024-01-01": 2, "2024-01-02": 3}
