"""Backfills: chunks by policy, stored before anything runs, resumed, retried and canceled."""

from __future__ import annotations

import pytest

from orchestrator import (
    AssetKey, BackfillPolicy, DailyPartitions, Definitions, MemoryEventStore, ParquetIOManager,
    PartitionRange, asset, open_store,
)
from orchestrator.execution.backfill import create_backfill, request_cancel, run_backfill
from orchestrator.storage.backfills import BackfillStatus, ChunkStatus

K = AssetKey.parse
DAYS = DailyPartitions(start="2024-01-01", end="2024-02-01")
CALLS: list[str] = []
BROKEN: set[str] = set()


@asset
def settings():
    CALLS.append("settings")
    return {"factor": 2}


@asset(partitions=DAYS)
def daily(context, settings):
    CALLS.append(f"daily {context.partition_key}")
    if context.partition_key in BROKEN:
        raise RuntimeError(f"no data for {context.partition_key}")
    return [context.partition_key] * settings["factor"]


@asset(partitions=DAYS)
def daily_copy(daily):
    CALLS.append("daily_copy")
    return daily + ["copy"]


@asset(partitions=DAYS)
def ranged(days: PartitionRange):
    CALLS.append(f"ranged {days}")
    return str(days)


@asset(partitions=DAYS, backfill_policy=BackfillPolicy.chunks(2))
def paired(context):
    CALLS.append(f"paired {context.partition_key}")
    return 1


@asset
def summary(daily_copy=None):
    CALLS.append("summary")
    return "done"


DEFS = Definitions(assets=[settings, daily, daily_copy, ranged, paired, summary])


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request, tmp_path):
    CALLS.clear()
    BROKEN.clear()
    if request.param == "memory":
        yield MemoryEventStore()
        return
    url = f"sqlite:///{tmp_path / 'orch.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with open_store(url, tmp_path) as opened:
        yield opened


@pytest.fixture
def io(tmp_path):
    return {"io_manager": ParquetIOManager(tmp_path / "lake")}


def test_a_backfill_is_stored_before_anything_runs(store):
    record = create_backfill(DEFS, store, "daily", None, "2024-01-01", "2024-01-03")
    assert record.status == BackfillStatus.REQUESTED and not CALLS
    chunks = store.backfills.chunks(record.backfill_id)
    assert [(c.start, c.end, c.status) for c in chunks] == [
        (d, d, ChunkStatus.PENDING) for d in ("2024-01-01", "2024-01-02", "2024-01-03")]


def test_per_partition_chunks_with_unpartitioned_assets_before_and_after(store, io):
    record = create_backfill(DEFS, store, "+daily_copy+", None, "2024-01-01", "2024-01-03")
    chunks = store.backfills.chunks(record.backfill_id)
    assert [(c.assets, c.start) for c in chunks] == [
        ((K("settings"),), None),
        *[((K("daily"),), d) for d in ("2024-01-01", "2024-01-02", "2024-01-03")],
        *[((K("daily_copy"),), d) for d in ("2024-01-01", "2024-01-02", "2024-01-03")],
        ((K("summary"),), None),
    ]
    done = run_backfill(DEFS, store, record.backfill_id, io_managers=io)
    assert done.status == BackfillStatus.SUCCEEDED
    assert CALLS.count("settings") == 1 and CALLS.count("summary") == 1
    assert io["io_manager"].partitions(K("daily_copy")) == ["2024-01-01", "2024-01-02", "2024-01-03"]


def test_a_function_taking_a_partition_range_runs_the_range_once(store, io):
    record = create_backfill(DEFS, store, "ranged", None, "2024-01-01", "2024-01-31")
    assert len(store.backfills.chunks(record.backfill_id)) == 1
    run_backfill(DEFS, store, record.backfill_id, io_managers={"io_manager": _MemoryRanges()})
    assert CALLS == ["ranged 2024-01-01...2024-01-31"]


def test_chunks_of_n_partitions(store):
    record = create_backfill(DEFS, store, "paired", None, "2024-01-01", "2024-01-05")
    assert [(c.start, c.end, c.partitions) for c in store.backfills.chunks(record.backfill_id)] == [
        ("2024-01-01", "2024-01-02", 2), ("2024-01-03", "2024-01-04", 2), ("2024-01-05", "2024-01-05", 1)]


def test_a_failed_partition_skips_its_downstream_and_retry_redoes_only_those(store, io):
    BROKEN.add("2024-01-02")
    record = create_backfill(DEFS, store, "+daily_copy", None, "2024-01-01", "2024-01-03")
    done = run_backfill(DEFS, store, record.backfill_id, io_managers=io)
    statuses = {(c.assets[-1].name, c.start): c.status for c in store.backfills.chunks(record.backfill_id)}
    assert done.status == BackfillStatus.FAILED
    assert statuses[("daily", "2024-01-02")] == ChunkStatus.FAILED
    assert statuses[("daily_copy", "2024-01-02")] == ChunkStatus.SKIPPED
    assert statuses[("daily_copy", "2024-01-03")] == ChunkStatus.SUCCEEDED
    BROKEN.clear()
    CALLS.clear()
    retried = run_backfill(DEFS, store, record.backfill_id, io_managers=io, retry_failed=True)
    assert retried.status == BackfillStatus.SUCCEEDED
    assert CALLS == ["daily 2024-01-02", "daily_copy"]


class Killed(BaseException):
    """Stands in for SIGKILL: the process stops in the middle of a chunk."""


def test_resume_redoes_only_the_chunks_that_did_not_commit(store, io):
    record = create_backfill(DEFS, store, "+daily", None, "2024-01-01", "2024-01-04")

    def die_in_chunk_2(chunk, status):
        if chunk.seq == 2 and status == ChunkStatus.RUNNING:
            raise Killed

    with pytest.raises(Killed):
        run_backfill(DEFS, store, record.backfill_id, io_managers=io, progress=die_in_chunk_2)
    assert [c.status for c in store.backfills.chunks(record.backfill_id)][:3] == [
        ChunkStatus.SUCCEEDED, ChunkStatus.SUCCEEDED, ChunkStatus.RUNNING]
    CALLS.clear()
    done = run_backfill(DEFS, store, record.backfill_id, io_managers=io)
    assert done.status == BackfillStatus.SUCCEEDED
    assert CALLS == ["daily 2024-01-02", "daily 2024-01-03", "daily 2024-01-04"]


def test_cancel_stops_after_the_current_chunk_and_resume_finishes(store, io):
    record = create_backfill(DEFS, store, "paired", None, "2024-01-01", "2024-01-10")

    def cancel_after_first(chunk, status):
        if status == ChunkStatus.SUCCEEDED and chunk.seq == 0:
            request_cancel(store, record.backfill_id)

    stopped = run_backfill(DEFS, store, record.backfill_id, io_managers=io, progress=cancel_after_first)
    assert stopped.status == BackfillStatus.CANCELED
    assert [c.status for c in store.backfills.chunks(record.backfill_id)] == [
        ChunkStatus.SUCCEEDED] + [ChunkStatus.CANCELED] * 4
    CALLS.clear()
    assert run_backfill(DEFS, store, record.backfill_id, io_managers=io).status == BackfillStatus.SUCCEEDED
    assert CALLS == [f"paired 2024-01-{d:02d}...2024-01-{d + 1:02d}" for d in (3, 5, 7, 9)]


def test_an_unknown_backfill_id_suggests(store):
    record = create_backfill(DEFS, store, "daily", None, "2024-01-01", "2024-01-01")
    with pytest.raises(Exception, match="No backfill"):
        store.backfills.get("zzz")
    assert store.backfills.get(record.backfill_id[:6]).backfill_id == record.backfill_id


class _MemoryRanges(ParquetIOManager):
    """Stores range values in memory (ranges are not hive partitions)."""

    def __init__(self):
        self.values = {}

    def write(self, context, value):
        self.values[(context.asset_key, context.partition)] = value
        return {}
