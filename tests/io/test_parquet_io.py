"""ParquetIOManager: local folders and fsspec URLs, atomic files, streamed record batches."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator import AssetKey, InputContext, OutputContext, ParquetIOManager
from orchestrator.errors import IOManagerError
from orchestrator.io.parquet import IN_MEMORY_BYTES

K = AssetKey.parse


def table(n: int = 3) -> pa.Table:
    return pa.table({"id": list(range(n)), "name": [f"n{i}" for i in range(n)]})


@pytest.fixture(params=["local", "memory-url"])
def io(request, tmp_path):
    if request.param == "local":
        return ParquetIOManager(tmp_path / "lake", pickle_fallback=False)
    return ParquetIOManager(f"memory://lake-{os.getpid()}-{id(tmp_path)}", pickle_fallback=False)


def test_round_trip_with_metadata_and_a_content_hash(io):
    meta = io.write(OutputContext(K("marts/orders")), table())
    assert meta["rows"] == 3 and meta["schema"] == [["id", "int64"], ["name", "string"]]
    assert meta["location"].endswith("marts/orders/data.parquet")
    written = io.files.read_bytes(meta["location"])
    assert meta["bytes"] == len(written)
    assert meta["data_version"] == hashlib.sha256(written).hexdigest()  # what `sha256sum` prints
    assert io.read(InputContext(K("marts/orders"))).equals(table())


def test_a_table_too_big_to_encode_in_memory_is_hashed_while_written(tmp_path):
    io = ParquetIOManager(tmp_path / "lake")
    big = pa.table({"id": pa.array(range(1_200_000), pa.int64())})
    assert big.nbytes > IN_MEMORY_BYTES  # the file-follower path, not the in-memory one
    meta = io.write(OutputContext(K("big")), big)
    written = Path(meta["location"]).read_bytes()
    assert meta["bytes"] == len(written) and meta["data_version"] == hashlib.sha256(written).hexdigest()


def test_partitions_are_hive_style_folders(io):
    for day in ("2024-01-01", "2024-01-02"):
        io.write(OutputContext(K("events"), partition=day), table(2))
    assert io.partitions(K("events")) == ["2024-01-01", "2024-01-02"]
    assert io.has(K("events"), "2024-01-02") and not io.has(K("events"), "2024-01-03")
    assert io.read(InputContext(K("events"), partition="2024-01-01")).num_rows == 2


def test_projection_and_the_annotated_type(io):
    io.write(OutputContext(K("t")), pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert io.read(InputContext(K("t"), columns=["b"])).column_names == ["b"]
    assert isinstance(io.read(InputContext(K("t"), expected_type=pd.DataFrame)), pd.DataFrame)


def test_record_batches_stream_into_one_file(io):
    def batches():
        for i in range(5):
            yield pa.record_batch({"id": list(range(i * 10, i * 10 + 10))})

    meta = io.write(OutputContext(K("stream")), batches())
    assert meta["rows"] == 50
    assert io.read(InputContext(K("stream")))["id"].to_pylist() == list(range(50))
    reader = pa.RecordBatchReader.from_batches(pa.schema([("id", pa.int64())]), [])
    assert io.write(OutputContext(K("empty")), reader)["rows"] == 0


def test_a_failure_mid_stream_leaves_the_previous_file(io):
    io.write(OutputContext(K("s")), table(3))

    def broken():
        yield pa.record_batch({"id": [1], "name": ["a"]})
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError, match="source went away"):
        io.write(OutputContext(K("s")), broken())
    assert io.read(InputContext(K("s"))).equals(table(3))


def test_values_that_are_not_tables_are_refused_naming_the_asset_and_type(io):
    with pytest.raises(IOManagerError, match="Asset 'counts' returned a dict"):
        io.write(OutputContext(K("counts")), {"a": 1})
    with pytest.raises(IOManagerError, match="yielded a int"):
        io.write(OutputContext(K("nums")), iter([1, 2]))


def test_reading_what_was_never_written_says_so(io):
    with pytest.raises(IOManagerError, match="'ghost' has not been materialized yet"):
        io.read(InputContext(K("ghost")))


def test_a_process_killed_mid_write_leaves_no_partial_file(tmp_path):
    script = textwrap.dedent(f"""
        import pyarrow as pa, sys
        from orchestrator import ParquetIOManager, OutputContext, AssetKey
        io = ParquetIOManager({str(tmp_path / "lake")!r})
        def batches():
            i = 0
            while True:
                yield pa.record_batch({{"x": list(range(i, i + 100_000))}})
                i += 100_000
                if i == 1_000_000:
                    print("writing", flush=True)
        io.write(OutputContext(AssetKey.parse("big")), batches())
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = tmp_path / "lake" / "big"
    assert not (folder / "data.parquet").exists()
    assert [p.name for p in folder.glob(".data.parquet.*.tmp")]  # what the killed writer left
    io = ParquetIOManager(tmp_path / "lake")
    io.write(OutputContext(K("big")), table(4))  # the next run succeeds and sweeps the leftover
    assert pq.read_table(folder / "data.parquet").num_rows == 4
    assert sorted(p.name for p in folder.iterdir()) == ["data.parquet"]
