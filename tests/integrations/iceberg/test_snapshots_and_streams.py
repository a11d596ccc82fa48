"""Time travel through snapshots, and record-batch iterators written in bounded memory, all or nothing."""

from __future__ import annotations

import datetime as dt
import time

import pyarrow as pa
import pytest

from orchestrator.errors import IOManagerError
from tests.integrations.iceberg.conftest import DAILY, day_rows, read, write


def test_older_snapshots_are_readable_by_id_and_by_time(io):
    first = write(io, "t", day_rows("2024-01-01", 2))
    time.sleep(0.01)
    between = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.01)
    write(io, "t", day_rows("2024-01-01", 5, start=10))

    assert io.read_snapshot("t", snapshot_id=first["snapshot_id"])["id"].to_pylist() == [0, 1]
    assert io.read_snapshot("t", as_of=between)["id"].to_pylist() == [0, 1]
    assert io.read_snapshot("t").num_rows == 5
    assert [s["operation"] for s in io.snapshots("t")] == ["append", "delete", "append"]
    with pytest.raises(IOManagerError, match="has no snapshot 42"):
        io.read_snapshot("t", snapshot_id=42)
    with pytest.raises(IOManagerError, match="no snapshot at or before"):
        io.read_snapshot("t", as_of=dt.datetime(2000, 1, 1))


def test_time_travel_reads_a_partition_with_the_schema_of_then(io):
    first = write(io, "raw/events", day_rows("2024-01-01", 2), "2024-01-01", DAILY)
    write(io, "raw/events", day_rows("2024-01-01", 3, extra=["x"] * 3), "2024-01-01", DAILY)

    old = io.read_snapshot("raw/events", snapshot_id=first["snapshot_id"], partition="2024-01-01")
    assert old.num_rows == 2 and "extra" not in old.column_names


def _batches(n, rows=1000, start=0):
    for i in range(n):
        base = start + i * rows
        yield pa.record_batch({"id": pa.array(range(base, base + rows), pa.int64()),
                               "day": pa.array([dt.date(2024, 1, 1)] * rows, pa.date32())})


def test_a_record_batch_iterator_is_written_in_chunks_as_one_snapshot(make_io):
    io = make_io(chunk_bytes=20_000)  # ~1 batch per chunk: many data files, one commit
    meta = write(io, "raw/events", _batches(10), "2024-01-01", DAILY)

    table = io.table("raw/events")
    assert meta["rows"] == 10_000 and read(io, "raw/events").num_rows == 10_000
    assert len(table.snapshots()) == 1
    assert len(list(table.scan().plan_files())) >= 5


def test_a_record_batch_reader_works_too(io):
    schema = pa.schema([("id", pa.int64()), ("day", pa.date32())])
    reader = pa.RecordBatchReader.from_batches(schema, _batches(3))
    assert write(io, "t", reader)["rows"] == 3000


def test_a_stream_that_fails_midway_commits_nothing(make_io):
    io = make_io(chunk_bytes=20_000)
    write(io, "t", _batches(2))
    before = io.table("t").current_snapshot().snapshot_id

    def broken():
        yield from _batches(3, start=100_000)
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError, match="source went away"):
        write(io, "t", broken())
    assert io.table("t").current_snapshot().snapshot_id == before
    assert read(io, "t").num_rows == 2000


def test_a_batch_with_another_schema_or_rows_outside_the_partition_commits_nothing(make_io):
    io = make_io(chunk_bytes=20_000)
    write(io, "raw/events", _batches(1), "2024-01-01", DAILY)
    before = io.table("raw/events").current_snapshot().snapshot_id

    def mixed():
        yield from _batches(2)
        yield pa.record_batch({"id": [1]})

    def wrong_day():
        yield from _batches(2)
        yield pa.record_batch({"id": pa.array([1], pa.int64()), "day": pa.array([dt.date(2024, 1, 5)])})

    with pytest.raises(IOManagerError, match="a record batch has schema"):
        write(io, "raw/events", mixed(), "2024-01-01", DAILY)
    with pytest.raises(IOManagerError, match="1 row.*do not belong"):
        write(io, "raw/events", wrong_day(), "2024-01-01", DAILY)
    assert io.table("raw/events").current_snapshot().snapshot_id == before


def test_an_iterator_without_batches_is_refused(io):
    with pytest.raises(IOManagerError, match="yielded no record batches"):
        write(io, "t", iter([]))
    with pytest.raises(IOManagerError, match="yielded a int"):
        write(io, "t", iter([1, 2]))
