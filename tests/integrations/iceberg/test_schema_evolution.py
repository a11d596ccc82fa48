"""Schema evolution: new columns are added, safe widenings applied, anything else refused uncommitted."""

from __future__ import annotations

import decimal

import pyarrow as pa
import pytest
from pyiceberg.types import DecimalType, DoubleType, LongType

from orchestrator.errors import IOManagerError
from tests.integrations.iceberg.conftest import DAILY, day_rows, read, write


def _snapshot_id(io, key="t"):
    return io.table(key).current_snapshot().snapshot_id


def test_a_new_column_is_added_and_older_rows_read_null(io):
    write(io, "raw/events", day_rows("2024-01-01", 2), "2024-01-01", DAILY)
    meta = write(io, "raw/events", day_rows("2024-01-02", 1, start=9, country=["fr"]), "2024-01-02", DAILY)

    rows = read(io, "raw/events").sort_by("id").to_pydict()
    assert rows["country"] == [None, None, "fr"]
    assert meta["schema_changes"] == ["added country (string)"]
    assert ["country", "string"] in meta["schema"]


def test_safe_widenings_are_applied(io):
    write(io, "t", pa.table({"n": pa.array([1], pa.int32()), "f": pa.array([1.5], pa.float32()),
                            "d": pa.array([decimal.Decimal("1.25")], pa.decimal128(6, 2))}))
    meta = write(io, "t", pa.table({"n": pa.array([2**40], pa.int64()), "f": pa.array([0.1], pa.float64()),
                                   "d": pa.array([decimal.Decimal("123456.78")], pa.decimal128(10, 2))}),
                 metadata={"write_mode": "append"})

    schema = io.table("t").schema()
    assert schema.find_field("n").field_type == LongType()
    assert schema.find_field("f").field_type == DoubleType()
    assert schema.find_field("d").field_type == DecimalType(10, 2)
    assert sorted(read(io, "t")["n"].to_pylist()) == [1, 2**40]
    assert len(meta["schema_changes"]) == 3


def test_data_narrower_than_the_table_is_cast_without_a_schema_change(io):
    write(io, "t", pa.table({"n": pa.array([1], pa.int64())}))
    meta = write(io, "t", pa.table({"n": pa.array([2], pa.int32())}), metadata={"write_mode": "append"})

    assert "schema_changes" not in meta
    assert read(io, "t")["n"].type == pa.int64()


@pytest.mark.parametrize(("old", "new", "message"), [
    (pa.array(["a"]), pa.array([1], pa.int64()), "column 'v' is string in the table but long in the data"),
    (pa.array([1], pa.int64()), pa.array([1.0]), "column 'v' is long in the table but double in the data"),
    (pa.array([decimal.Decimal("1.25")], pa.decimal128(6, 2)),
     pa.array([decimal.Decimal("1.250")], pa.decimal128(10, 3)),
     r"column 'v' is decimal\(6, 2\) in the table but decimal\(10, 3\) in the data"),
])
def test_an_incompatible_type_change_is_refused_naming_column_and_types_and_nothing_is_committed(io, old, new, message):
    write(io, "t", pa.table({"id": [1], "v": old}))
    before = _snapshot_id(io)
    files_before = len(list(io.table("t").scan().plan_files()))

    with pytest.raises(IOManagerError, match=f"Asset 't'.*{message}.*nothing was written"):
        write(io, "t", pa.table({"id": [2], "v": new, "extra": [1]}))
    table = io.table("t")
    assert table.current_snapshot().snapshot_id == before
    assert [f.name for f in table.schema().fields] == ["id", "v"]  # not even the new column
    assert len(list(table.scan().plan_files())) == files_before


def test_data_missing_a_required_column_is_refused(io):
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("v", pa.string())])
    write(io, "t", pa.table({"id": [1], "v": ["a"]}, schema=schema))
    before = _snapshot_id(io)

    with pytest.raises(IOManagerError, match=r"required column 'id' \(long\) is missing from the data"):
        write(io, "t", pa.table({"v": ["b"]}))
    assert _snapshot_id(io) == before


def test_an_optional_column_may_be_missing_and_a_nullable_one_relaxes_a_required_one(io):
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("v", pa.string())])
    write(io, "t", pa.table({"id": [1], "v": ["a"]}, schema=schema))

    write(io, "t", pa.table({"id": [2]}, schema=pa.schema([pa.field("id", pa.int64(), nullable=False)])),
          metadata={"write_mode": "append"})
    meta = write(io, "t", pa.table({"id": pa.array([3], pa.int64())}), metadata={"write_mode": "append"})

    assert meta["schema_changes"] == ["made id optional"]
    assert sorted(read(io, "t")["id"].to_pylist()) == [1, 2, 3]


def test_nanosecond_and_zoned_timestamps_and_dictionaries_are_stored(io):
    import pandas as pd

    frame = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01 10:00:00.123456789"]).as_unit("ns"),
                          "zoned": pd.to_datetime(["2024-01-01 10:00"]).tz_localize("Europe/Paris").as_unit("ns"),
                          "cat": pd.Categorical(["x"])})
    write(io, "t", frame)

    table = read(io, "t")
    assert table.schema.field("ts").type == pa.timestamp("us")
    assert table.schema.field("zoned").type == pa.timestamp("us", "UTC")
    assert table["zoned"][0].as_py().hour == 9
    assert table["cat"].to_pylist() == ["x"]


def test_a_type_iceberg_cannot_store_is_refused_clearly(io):
    with pytest.raises(IOManagerError, match="cannot be stored in Iceberg"):
        write(io, "t", pa.table({"u": pa.array([1], pa.duration("s"))}))
