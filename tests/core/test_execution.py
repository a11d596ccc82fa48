"""Running assets: values flow by parameter name, failures skip only what depends on them."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pyarrow as pa
import pytest

from orchestrator import (
    AssetResult, CheckResult, DailyPartitions, EventType, MemoryEventStore,
    RetryPolicy, RunStatus, asset, asset_check, materialize,
)
from orchestrator.errors import ExecutionError, PartitionError

K = lambda s: __import__("orchestrator").AssetKey.parse(s)  # noqa: E731


@asset
def numbers():
    return [1, 2, 3]


@asset
def total(numbers):
    return sum(numbers)


@asset
def broken(numbers):
    raise ValueError("bad numbers")


@asset
def after_broken(broken):
    return broken


@asset
def unrelated():
    return "fine"


def test_values_flow_by_parameter_name():
    result = materialize([numbers, total])
    assert result.status == RunStatus.SUCCEEDED
    assert result.value("total") == 6 and result.assets == {K("numbers"): "succeeded", K("total"): "succeeded"}


def test_a_failure_skips_its_downstream_with_the_cause_and_the_rest_carries_on():
    store = MemoryEventStore()
    result = materialize([numbers, broken, after_broken, unrelated], store=store)
    assert result.status == RunStatus.FAILED
    assert result.assets[K("broken")] == "failed"
    assert result.assets[K("after_broken")] == "skipped"
    assert "bad numbers" in result.causes[K("after_broken")]
    assert result.assets[K("unrelated")] == "succeeded"
    failed = store.events(result.run_id, types=[EventType.STEP_FAILED])
    assert "ValueError: bad numbers" in failed[0].data["error"]["traceback"]
    assert "in broken" in failed[0].data["error"]["traceback"]


def test_retries_per_asset():
    calls = []

    @asset(retry=RetryPolicy(attempts=3, backoff=0.0))
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("transient")
        return "ok"

    store = MemoryEventStore()
    result = materialize([flaky], store=store)
    assert result.success and len(calls) == 3
    assert len(store.events(result.run_id, types=[EventType.STEP_RETRY])) == 2


def test_a_result_object_carries_metadata_and_the_context_adds_more():
    @asset
    def with_meta(context):
        context.add_metadata(source="api")
        context.log.info("fetched %d rows", 2)
        return AssetResult(value=[1, 2], metadata={"rows": 2})

    store = MemoryEventStore()
    result = materialize([with_meta], store=store)
    event = store.events(result.run_id, types=[EventType.MATERIALIZATION])[0]
    assert event.data["metadata"]["rows"] == 2 and event.data["metadata"]["source"] == "api"
    assert event.data["code_version"] == with_meta.code_version
    logs = store.events(result.run_id, types=[EventType.LOG])
    assert logs[0].message == "fetched 2 rows"
    assert result.value("with_meta") == [1, 2]


def test_checks_receive_the_value_and_a_failed_blocking_check_stops_downstream():
    @asset_check(asset="numbers", blocking=True)
    def small(numbers):
        return CheckResult(passed=max(numbers) < 3, metadata={"max": max(numbers)})

    @asset_check(asset="numbers")
    def nonempty(numbers):
        return len(numbers) > 0

    store = MemoryEventStore()
    result = materialize([numbers, total, unrelated, small, nonempty], store=store)
    assert result.assets[K("numbers")] == "succeeded"
    assert result.assets[K("total")] == "skipped"
    assert "blocking check 'small'" in result.causes[K("total")]
    assert result.assets[K("unrelated")] == "succeeded"
    assert result.status == RunStatus.FAILED
    checks = {e.data["check"]: e.data for e in store.events(result.run_id, types=[EventType.CHECK_RESULT])}
    assert checks["small"]["passed"] is False and checks["small"]["metadata"] == {"max": 3}
    assert checks["nonempty"]["passed"] is True


def test_a_failing_non_blocking_check_does_not_fail_the_run():
    @asset_check(asset="numbers")
    def impossible(numbers):
        return False

    result = materialize([numbers, total, impossible])
    assert result.success and result.assets[K("total")] == "succeeded"


def test_independent_steps_run_concurrently_and_max_concurrency_limits_them():
    barrier = threading.Barrier(2, timeout=5)

    @asset
    def left():
        barrier.wait()
        return 1

    @asset
    def right():
        barrier.wait()
        return 2

    assert materialize([left, right]).success  # would time out if run one after the other

    active, peak = [0], [0]
    lock = threading.Lock()

    def tracked(name):
        def body():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1
            return name
        body.__name__ = name
        return asset(body)

    assert materialize([tracked(f"t{i}") for i in range(6)], max_concurrency=1).success
    assert peak[0] == 1


def test_default_io_manager_writes_tables_as_parquet_and_pickles_the_rest(tmp_path):
    @asset
    def arrow_table():
        return pa.table({"x": [1, 2, 3]})

    @asset
    def frame():
        return pd.DataFrame({"y": ["a", "b"]})

    @asset
    def plain():
        return {"k": 1}

    @asset
    def as_pandas(arrow_table: pd.DataFrame):
        return len(arrow_table)

    store = MemoryEventStore()
    result = materialize([arrow_table, frame, plain, as_pandas], home=tmp_path, store=store)
    assert result.success
    assert (tmp_path / "storage/arrow_table/data.parquet").exists()
    assert (tmp_path / "storage/frame/data.parquet").exists()
    assert (tmp_path / "storage/plain/data.pickle").exists()
    assert result.value("as_pandas") == 3
    meta = {str(e.asset_key): e.data["metadata"] for e in store.events(result.run_id, types=[EventType.MATERIALIZATION])}
    assert meta["arrow_table"]["rows"] == 3 and meta["arrow_table"]["schema"] == [["x", "int64"]]
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_value_the_io_manager_cannot_store_fails_its_step(tmp_path):
    @asset
    def unpicklable():
        return threading.Lock()

    result = materialize([unpicklable], home=tmp_path)
    assert result.assets[K("unpicklable")] == "failed"
    assert "cannot be stored" in result.causes[K("unpicklable")]
    assert "unpicklable" in result.causes[K("unpicklable")]


def test_an_unknown_io_manager_name_is_a_clear_failure():
    @asset(io_manager="warehouse")
    def stored():
        return 1

    result = materialize([stored])
    assert "io_manager='warehouse'" in result.causes[K("stored")]


def test_process_executor_runs_steps_in_worker_processes(tmp_path):
    result = materialize([numbers, total, broken, after_broken], home=tmp_path, executor="process",
                         max_concurrency=2)
    assert result.value("total") == 6
    assert result.assets[K("after_broken")] == "skipped"


def test_process_executor_refuses_in_memory_io():
    with pytest.raises(ExecutionError, match="in-memory"):
        materialize([numbers], executor="process")


def test_partitioned_assets_run_one_partition():
    @asset(partitions=DailyPartitions(start="2024-01-01", end="2024-02-01"))
    def daily(context):
        return context.partition_key

    @asset(partitions=DailyPartitions(start="2024-01-01", end="2024-02-01"))
    def daily_copy(daily):
        return daily + "!"

    result = materialize([daily, daily_copy], partition="2024-01-05")
    assert result.value("daily_copy") == "2024-01-05!"
    with pytest.raises(PartitionError, match="2024-03-01"):
        materialize([daily], partition="2024-03-01")
    with pytest.raises(PartitionError, match="pass a partition"):
        materialize([daily])


def test_selection_and_exclusion():
    result = materialize([numbers, total, unrelated], "+total", exclude="numbers")
    assert set(result.assets) == {K("total")}


def test_an_unselected_upstream_is_read_from_its_io_manager(tmp_path):
    first = materialize([numbers, total], "total", home=tmp_path)
    assert first.assets[K("total")] == "failed"
    assert "'numbers' has not been materialized yet" in first.causes[K("total")]
    materialize([numbers, total], "numbers", home=tmp_path)
    assert materialize([numbers, total], "total", home=tmp_path).value("total") == 6


def _table_asset(columns, policy):
    @asset(name="shaped", schema_change=policy)
    def shaped():
        return pa.table(columns)

    return shaped


@pytest.mark.parametrize("policy", ["warn", "block"])
def test_a_schema_change_warns_or_blocks_before_anything_is_written(tmp_path, policy):
    store = MemoryEventStore()
    materialize([_table_asset({"a": [1]}, policy)], home=tmp_path, store=store)
    result = materialize([_table_asset({"a": ["x"], "b": [True]}, policy)], home=tmp_path, store=store)
    if policy == "warn":
        assert result.success
        logs = store.events(result.run_id, types=[EventType.LOG])
        assert logs[0].data["schema_change"] == "column a: int64 -> string; added b (bool)"
    else:
        assert result.assets[K("shaped")] == "failed"
        assert "column a: int64 -> string" in result.causes[K("shaped")]
        assert result.value("shaped")["a"].to_pylist() == [1]  # the old table is still there
