"""IcebergIOManager: round trips, write metadata, table naming, write modes, bad input."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from integrations.iceberg import IcebergIOManager
from orchestrator.errors import IOManagerError
from orchestrator.keys import AssetKey
from tests.integrations.iceberg.conftest import day_rows, read, write


def test_a_table_round_trips_with_the_metadata_of_its_snapshot(io):
    table = day_rows("2024-01-01", 5, text=["a", "b", "c", "d", "e"])
    meta = write(io, "raw/events", table)

    assert read(io, "raw/events").equals(table)
    iceberg = io.table("raw/events")
    snapshot = iceberg.current_snapshot()
    assert meta["rows"] == 5
    assert meta["bytes"] == int(snapshot.summary["added-files-size"]) > 0
    assert meta["schema"] == [["id", "int64"], ["day", "date32[day]"], ["amount", "double"], ["text", "string"]]
    assert meta["location"] == iceberg.location()
    assert meta["data_version"] == str(snapshot.snapshot_id)
    assert meta["table"] == "raw.events"


def test_reads_project_columns_and_convert_to_the_annotated_type(io):
    write(io, "raw/events", day_rows("2024-01-01", 3))

    assert read(io, "raw/events", columns=["id"]).column_names == ["id"]
    frame = read(io, "raw/events", expected_type=pd.DataFrame)
    assert isinstance(frame, pd.DataFrame) and list(frame["id"]) == [0, 1, 2]
    with pytest.raises(IOManagerError, match="no column.*nope"):
        read(io, "raw/events", columns=["nope"])


def test_pandas_frames_and_record_batches_are_tables_too(io):
    write(io, "frame", pd.DataFrame({"x": [1, 2], "s": ["a", "b"]}))
    write(io, "batch", pa.record_batch({"x": [1, 2, 3]}))

    assert read(io, "frame").to_pydict() == {"x": [1, 2], "s": ["a", "b"]}
    assert read(io, "batch").num_rows == 3


def test_the_key_prefix_is_the_namespace_else_the_argument_else_default(make_io):
    assert make_io().identifier("raw/events") == ("raw", "events")
    assert make_io().identifier("a/b/c") == ("a", "b", "c")
    assert make_io(namespace="lake").identifier("events") == ("lake", "events")
    assert make_io().identifier(AssetKey.parse("events")) == ("default", "events")


def test_an_unpartitioned_write_replaces_the_table_by_default(io):
    write(io, "t", day_rows("2024-01-01", 5))
    write(io, "t", day_rows("2024-01-02", 2, start=100))

    assert read(io, "t")["id"].to_pylist() == [100, 101]


def test_write_mode_append_appends(io):
    append = {"write_mode": "append"}
    write(io, "t", day_rows("2024-01-01", 2), metadata=append)
    meta = write(io, "t", day_rows("2024-01-01", 3, start=10), metadata=append)

    assert sorted(read(io, "t")["id"].to_pylist()) == [0, 1, 10, 11, 12]
    assert meta["rows"] == 3


def test_a_value_that_is_not_a_table_is_refused_naming_asset_and_type(io):
    with pytest.raises(IOManagerError, match="Asset 'raw/events' returned a dict.*tables only"):
        write(io, "raw/events", {"not": "a table"})
    with pytest.raises(IOManagerError, match="returned a list"):
        write(io, "raw/events", [1, 2, 3])
    assert not io.has(AssetKey.parse("raw/events"))


def test_an_unknown_write_mode_is_refused(io):
    with pytest.raises(IOManagerError, match="unknown write_mode 'upsert'"):
        write(io, "t", day_rows("2024-01-01", 1), metadata={"write_mode": "upsert"})


def test_reading_what_was_never_written_says_materialize_it_first(io):
    with pytest.raises(IOManagerError, match="'raw/nothing' has not been materialized"):
        read(io, "raw/nothing")
    assert not io.has(AssetKey.parse("raw/nothing"))


def test_defaults_live_under_orch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_HOME", str(tmp_path / "home"))
    io = IcebergIOManager()
    write(io, "raw/events", day_rows("2024-01-01", 2))

    assert (tmp_path / "home" / "iceberg_catalog.db").exists()
    assert io.table("raw/events").location() == (tmp_path / "home" / "iceberg" / "raw" / "events").as_uri()


def test_the_io_manager_pickles_for_process_pools(io):
    import pickle

    write(io, "t", day_rows("2024-01-01", 2))
    clone = pickle.loads(pickle.dumps(io))
    assert read(clone, "t").num_rows == 2
