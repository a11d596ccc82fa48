"""DuckDBIOManager against real DuckDB files: tables per asset, partitions as row sets, atomic writes."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from collections.abc import Iterator

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from orchestrator.assets import asset
from orchestrator.errors import IOManagerError
from orchestrator.execution.materialize import materialize
from orchestrator.io.base import InputContext, OutputContext
from orchestrator.io.duckdb import DuckDBIOManager, connect, read_table
from orchestrator.keys import AssetKey
from orchestrator.partitions import DailyPartitions

ORDERS = AssetKey(("raw", "orders"))
DAILY = {"partition_column": "day", "partition_grain": "day"}


def orders(n: int = 3, day: dt.date = dt.date(2024, 1, 1), offset: int = 0) -> pa.Table:
    return pa.table({
        "id": pa.array(range(offset, offset + n), pa.int64()),
        "amount": pa.array([1.5 * i for i in range(n)], pa.float64()),
        "day": pa.array([day] * n, pa.date32()),
    })


def write(io: DuckDBIOManager, value, key: AssetKey = ORDERS, partition: str | None = None,
          metadata: dict | None = None):
    return io.write(OutputContext(key, partition, "run-1", metadata or {}), value)


def read(io: DuckDBIOManager, key: AssetKey = ORDERS, partition: str | None = None,
         metadata: dict | None = None, **kw):
    return io.read(InputContext(key, partition, metadata=metadata or {}, **kw))


def table_of(path, relation: str) -> list[tuple]:
    return sorted(read_table(path, relation).to_pylist(), key=lambda row: tuple(row.values()))


@pytest.fixture
def path(tmp_path):
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def io(path) -> DuckDBIOManager:
    return DuckDBIOManager(path)


# -- round trips -------------------------------------------------------------------------------------


def test_arrow_round_trip_into_schema_named_by_the_key_prefix(io, path):
    meta = write(io, orders())
    assert read(io).equals(orders())
    assert table_of(path, "raw.orders") == orders().to_pylist()
    assert meta["rows"] == 3
    assert meta["schema"] == [["id", "int64"], ["amount", "double"], ["day", "date32[day]"]]
    assert meta["location"] == f"duckdb://{path}/raw.orders"
    assert len(meta["data_version"]) == 32


def test_data_version_follows_content(io):
    first = write(io, orders())["data_version"]
    assert write(io, orders())["data_version"] == first
    assert write(io, orders().slice(0, 2))["data_version"] != first
    reordered = orders().take([2, 0, 1])
    assert write(io, reordered)["data_version"] == first  # a table is a set of rows


def test_schema_argument_overrides_the_prefix_and_bare_keys_go_to_main(path):
    io = DuckDBIOManager(path, schema="staging")
    write(io, orders())
    write(DuckDBIOManager(path), orders(), key=AssetKey(("a", "b", "events")))
    write(DuckDBIOManager(path), orders(), key=AssetKey(("plain",)))
    assert len(read_table(path, "staging.orders")) == 3
    assert len(read_table(path, "a_b.events")) == 3
    assert len(read_table(path, "main.plain")) == 3


def test_pandas_round_trip_and_pandas_annotation(io):
    frame = pd.DataFrame({"id": [1, 2], "name": ["a", "b"], "ok": [True, False]})
    assert write(io, frame)["rows"] == 2
    back = read(io, expected_type=pd.DataFrame)
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert isinstance(read(io, expected_type="pd.DataFrame"), pd.DataFrame)
    assert isinstance(read(io), pa.Table)


def test_record_batch_iterator_is_streamed_into_one_table(io):
    def batches() -> Iterator[pa.RecordBatch]:
        yield from orders(5000).to_batches(max_chunksize=1000)

    meta = write(io, batches())
    assert meta["rows"] == 5000
    assert read(io).sort_by("id").equals(orders(5000))
    # the same rows, whole or in other batches, have the same data version
    assert meta["data_version"] == write(io, orders(5000))["data_version"]
    assert meta["data_version"] == write(io, iter(orders(5000).to_batches(max_chunksize=700)))["data_version"]


def test_record_batch_reader_with_no_rows_creates_an_empty_table(io):
    write(io, pa.RecordBatchReader.from_batches(orders().schema, []))
    assert read(io).num_rows == 0 and read(io).schema == orders().schema


def test_projection_reads_only_the_given_columns(io):
    write(io, orders())
    assert read(io, columns=["day", "id"]).column_names == ["day", "id"]
    with pytest.raises(IOManagerError, match="cannot read columns.*'nope'"):
        read(io, columns=["nope"])


def test_mixed_types_round_trip(io):
    table = pa.table({
        "i": pa.array([1, None], pa.int64()),
        "s": pa.array(["x", None]),
        "b": pa.array([True, None]),
        "ts": pa.array([dt.datetime(2024, 1, 1, 12), None], pa.timestamp("us")),
        "tz": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None], pa.timestamp("us", "UTC")),
        "l": pa.array([[1, 2], None], pa.list_(pa.int64())),
    })
    write(io, table)
    back = read(io)
    assert back.drop_columns(["tz"]).equals(table.drop_columns(["tz"]))
    assert back["tz"].cast(pa.timestamp("us", "UTC")).equals(table["tz"])


# -- dbt relations -----------------------------------------------------------------------------------


def test_reads_a_dbt_relation_verbatim_and_refuses_to_write_it(path):
    con = duckdb.connect(str(path))  # as dbt-duckdb would build a model
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.fct_orders AS SELECT 7 AS id, 'x' AS name")
    con.close()
    io = DuckDBIOManager(path)
    meta = {"relation_name": '"warehouse"."marts"."fct_orders"'}
    key = AssetKey(("jaffle", "fct_orders"))
    assert read(io, key, metadata=meta).to_pylist() == [{"id": 7, "name": "x"}]
    assert io.has(key)  # remembers the relation the read context named
    with pytest.raises(IOManagerError, match="dbt relation .*only reads it"):
        write(io, orders(), key=key, metadata=meta)


def test_a_relation_in_another_database_says_which_file_to_use(path):
    duckdb.connect(str(path)).close()
    meta = {"relation_name": '"dev"."marts"."fct_orders"'}
    with pytest.raises(IOManagerError, match="names a database that the DuckDB file is not"):
        read(DuckDBIOManager(path), AssetKey.parse("fct_orders"), metadata=meta)


# -- partitions --------------------------------------------------------------------------------------


def test_daily_partitions_overwrite_only_their_own_day(io, path):
    write(io, orders(3, dt.date(2024, 1, 1)), partition="2024-01-01", metadata=DAILY)
    write(io, orders(2, dt.date(2024, 1, 2), offset=100), partition="2024-01-02", metadata=DAILY)
    meta = write(io, orders(4, dt.date(2024, 1, 1), offset=50), partition="2024-01-01", metadata=DAILY)

    assert meta["rows"] == 4
    assert sorted(read(io, partition="2024-01-01", metadata=DAILY)["id"].to_pylist()) == [50, 51, 52, 53]
    assert sorted(read(io, partition="2024-01-02", metadata=DAILY)["id"].to_pylist()) == [100, 101]
    assert len(read_table(path, "raw.orders")) == 6
    assert io.has(ORDERS, "2024-01-02") and not io.has(ORDERS, "2024-01-03")


def test_hourly_windows_on_a_timestamp_column(io):
    meta = {"partition_column": "at", "partition_grain": "hour"}
    times = [dt.datetime(2024, 1, 1, 5, m) for m in (0, 30, 59)]
    data = pa.table({"at": pa.array(times, pa.timestamp("us")), "v": [1, 2, 3]})
    write(io, data, partition="2024-01-01-05:00", metadata=meta)  # TimeWindowPartitions' hourly key
    assert read(io, partition="2024-01-01-05:00", metadata=meta).num_rows == 3
    assert read(io, partition="2024-01-01-06:00", metadata=meta).num_rows == 0


def test_monthly_windows_on_a_timestamptz_column(io):
    meta = {"partition_column": "at", "partition_grain": "month", "partition_timezone": "Europe/Paris"}
    paris = dt.timezone(dt.timedelta(hours=1))
    inside = [dt.datetime(2024, 2, 1, 0, 0, tzinfo=paris), dt.datetime(2024, 2, 29, 23, 59, tzinfo=paris)]
    data = pa.table({"at": pa.array(inside, pa.timestamp("us", "UTC"))})
    write(io, data, partition="2024-02-01", metadata=meta)
    assert read(io, partition="2024-02-01", metadata=meta).num_rows == 2
    late = pa.table({"at": pa.array([dt.datetime(2024, 3, 1, 0, 0, tzinfo=paris)], pa.timestamp("us", "UTC"))})
    with pytest.raises(IOManagerError, match="1 row"):
        write(io, late, partition="2024-02-01", metadata=meta)


def test_static_partitions_compare_by_equality(io):
    meta = {"partition_column": "region"}
    write(io, pa.table({"region": ["eu", "eu"], "v": [1, 2]}), partition="eu", metadata=meta)
    write(io, pa.table({"region": ["us"], "v": [3]}), partition="us", metadata=meta)
    write(io, pa.table({"region": ["eu"], "v": [9]}), partition="eu", metadata=meta)
    assert read(io, partition="eu", metadata=meta)["v"].to_pylist() == [9]
    assert read(io, partition="us", metadata=meta)["v"].to_pylist() == [3]


def test_partitioned_asset_without_partition_column_is_an_error(io, path):
    with pytest.raises(IOManagerError, match="raw/orders.*no `partition_column`"):
        write(io, orders(), partition="2024-01-01")
    assert not path.exists()


def test_rows_outside_the_partition_are_refused(io):
    with pytest.raises(IOManagerError, match="partition '2024-01-02': 3 row.*day = 2024-01-01"):
        write(io, orders(3, dt.date(2024, 1, 1)), partition="2024-01-02", metadata=DAILY)


def test_partition_with_other_columns_than_the_table_is_refused(io):
    write(io, orders(), partition="2024-01-01", metadata=DAILY)
    other = orders(1, dt.date(2024, 1, 2)).append_column("extra", pa.array([1]))
    with pytest.raises(IOManagerError, match="columns .* differ"):
        write(io, other, partition="2024-01-02", metadata=DAILY)


# -- errors and atomicity ----------------------------------------------------------------------------


def test_unsupported_value_names_the_asset_and_the_type(io):
    with pytest.raises(IOManagerError, match="Asset 'raw/orders' returned a dict"):
        write(io, {"id": [1]})
    with pytest.raises(IOManagerError, match="Asset 'raw/orders' yielded a int"):
        write(io, iter([1, 2]))


def test_empty_iterator_has_no_schema(io):
    with pytest.raises(IOManagerError, match="yielded no record batches"):
        write(io, iter([]))


def test_reading_a_missing_table_says_it_has_not_been_materialized(io, path):
    with pytest.raises(IOManagerError, match="has not been materialized"):
        read(io)
    assert not path.exists()  # reading does not create the file
    write(io, orders(), key=AssetKey(("raw", "other")))
    with pytest.raises(IOManagerError, match="'raw/orders' has not been materialized"):
        read(io)
    with pytest.raises(IOManagerError, match="Asset 'x' has not been materialized yet .nothing at duckdb:.*main.x"):
        read(io, AssetKey.parse("x"))
    assert not io.has(ORDERS) and io.has(AssetKey(("raw", "other")))


def test_failing_partition_write_leaves_the_table_as_it_was(io):
    write(io, orders(3), partition="2024-01-01", metadata=DAILY)
    with pytest.raises(IOManagerError, match="no partition column 'day'"):
        write(io, orders(5).drop_columns(["day"]), partition="2024-01-01", metadata=DAILY)
    assert read(io, partition="2024-01-01", metadata=DAILY).equals(orders(3))


def test_exception_mid_stream_rolls_back_to_the_previous_table(io):
    write(io, orders(3))

    def batches() -> Iterator[pa.RecordBatch]:
        yield orders(1000, offset=10).to_batches()[0]
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError, match="source went away"):
        write(io, batches())
    assert read(io).equals(orders(3))

    def partition_batches() -> Iterator[pa.RecordBatch]:
        yield orders(7, offset=20).to_batches()[0]
        raise RuntimeError("again")

    write(io, orders(3), key=AssetKey.parse("daily"), partition="2024-01-01", metadata=DAILY)
    with pytest.raises(RuntimeError, match="again"):
        write(io, partition_batches(), key=AssetKey.parse("daily"), partition="2024-01-01", metadata=DAILY)
    assert read(io, AssetKey.parse("daily"), partition="2024-01-01", metadata=DAILY).equals(orders(3))


def test_batches_with_different_schemas_are_refused(io):
    batches = iter([orders().to_batches()[0], orders().drop_columns(["day"]).to_batches()[0]])
    with pytest.raises(IOManagerError, match="unlike the first batch"):
        write(io, batches)
    assert not io.has(ORDERS)


# -- connections -------------------------------------------------------------------------------------


def test_the_file_is_not_left_locked_between_operations(io, path):
    write(io, orders())
    read(io)
    code = f"import duckdb; print(duckdb.connect({str(path)!r}).execute('select count(*) from raw.orders').fetchone()[0])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"


def _hold_lock(path, seconds: float) -> subprocess.Popen:
    code = f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); time.sleep({seconds})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_waits_for_another_process_to_release_the_file(io, path):
    write(io, orders())
    proc = _hold_lock(path, 1.0)
    try:
        assert write(io, orders(5))["rows"] == 5
    finally:
        proc.wait()
        proc.stdout.close()
    assert read(io).num_rows == 5


def test_a_file_locked_for_too_long_is_an_error_naming_it(path):
    duckdb.connect(str(path)).close()
    proc = _hold_lock(path, 60)
    try:
        with pytest.raises(IOManagerError, match=f"{path.name} is locked by another process"):
            write(DuckDBIOManager(path, lock_timeout=0.3), orders())
    finally:
        proc.terminate()
        proc.wait()
        proc.stdout.close()


def test_an_open_connection_in_this_process_does_not_block(io, path):
    with connect(path) as con:  # as dbt-duckdb in the same process would
        write(io, orders())
        assert con.execute("select count(*) from raw.orders").fetchone() == (3,)


def test_threads_writing_different_tables_both_land(path):
    io = DuckDBIOManager(path)
    errors: list[BaseException] = []

    def work(name: str, n: int) -> None:
        try:
            for _ in range(3):
                write(io, orders(n), key=AssetKey((f"s_{name}", name)))
                write(io, orders(n), key=AssetKey(("shared", name)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{i}", 1000 + i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(4):
        assert read(io, AssetKey(("shared", f"t{i}"))).num_rows == 1000 + i
        assert read(io, AssetKey((f"s_t{i}", f"t{i}"))).num_rows == 1000 + i


def test_threads_writing_partitions_of_one_table_both_land(io):
    days = [dt.date(2024, 1, d) for d in range(1, 7)]
    errors: list[BaseException] = []

    def work(day: dt.date) -> None:
        try:
            write(io, orders(100, day), partition=day.isoformat(), metadata=DAILY)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d,)) for d in days]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [read(io, partition=d.isoformat(), metadata=DAILY).num_rows for d in days] == [100] * 6


# -- end to end --------------------------------------------------------------------------------------


def test_materialize_two_python_assets_through_duckdb(path):
    @asset(key_prefix="raw")
    def customers() -> pa.Table:
        return pa.table({"id": [1, 2, 3], "country": ["fr", "de", "fr"]})

    @asset(key_prefix="raw")
    def customers_per_country(customers: pd.DataFrame) -> pd.DataFrame:
        return customers.groupby("country", as_index=False).size()

    result = materialize([customers, customers_per_country], io_managers={"io_manager": DuckDBIOManager(path)})
    assert result.success
    assert table_of(path, "raw.customers_per_country") == [{"country": "de", "size": 1}, {"country": "fr", "size": 2}]
    assert result.value("raw/customers").num_rows == 3


def test_materialize_a_daily_partition(path):
    @asset(partitions=DailyPartitions("2024-01-01", "2024-01-05"), metadata=DAILY)
    def events(context) -> pa.Table:
        day = dt.date.fromisoformat(context.partition_key)
        return orders(2, day)

    io = DuckDBIOManager(path)
    for day in ("2024-01-01", "2024-01-02", "2024-01-01"):
        assert materialize([events], io_managers={"io_manager": io}, partition=day).success
    assert len(read_table(path, "main.events")) == 4
    assert io.has(AssetKey.parse("events"), "2024-01-02")


def _hold_alone(path, opened: threading.Event, release: threading.Event, errors: list) -> None:
    """What dbt-duckdb does in this process: the file alone, opened with another configuration."""
    from orchestrator.io.duckdb import using_files

    try:
        with using_files([path]):
            con = duckdb.connect(str(path), config={"threads": 1})
            opened.set()
            release.wait(10)
            con.close()
    except Exception as exc:  # pragma: no cover - reported by the test
        errors.append(exc)
        opened.set()


def test_a_write_waits_for_this_process_s_exclusive_user_of_the_file_instead_of_failing(io, path):
    with duckdb.connect(str(path), config={"threads": 1}) as other, pytest.raises(IOManagerError):
        write(io, orders())  # what a write met before: another configuration of the file, open here
    opened, release, errors, written = threading.Event(), threading.Event(), [], threading.Event()
    holder = threading.Thread(target=_hold_alone, args=(path, opened, release, errors))
    holder.start()
    assert opened.wait(10) and not errors
    writer = threading.Thread(target=lambda: (write(io, orders()), written.set()))
    writer.start()
    assert not written.wait(0.5)  # waiting for the file, not failed
    release.set()
    holder.join(10)
    writer.join(10)
    assert written.is_set() and [r["id"] for r in table_of(path, "raw.orders")] == [0, 1, 2]


def test_exclusive_users_wait_for_plain_connections_and_nest_in_their_own_thread(path):
    from orchestrator.io.duckdb import using_files

    entered = threading.Event()

    def alone() -> None:
        with using_files([path]):
            entered.set()

    with connect(path) as con:
        con.execute("create table t as select 1 as x")
        other = threading.Thread(target=alone, daemon=True)
        other.start()
        assert not entered.wait(0.3)  # an exclusive user waits while a plain connection is open
        with connect(path):  # a thread already using the file may nest connections meanwhile
            pass
    assert entered.wait(5)
