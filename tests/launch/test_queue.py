"""The run queue in the store: enqueue, claims within limits and pools, cancel, retries, migration."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator import AssetKey, AssetSpec, Definitions, RunStatus, asset, define_job, materialize
from orchestrator.errors import ExecutionError, SelectionError, StorageError
from orchestrator.launch.queue import cancel_run, enqueue_run, reexecute_run
from orchestrator.storage import EventStore, open_store
from orchestrator.storage.events import EventType
from orchestrator.storage.queue import Limits

K = AssetKey.parse


@asset(pool="warehouse")
def loads():
    return 1


@asset(pool="warehouse")
def other_loads():
    return 2


@asset
def free():
    return 3


@asset
def shaky(free):
    raise RuntimeError("flaky")


DEFS = Definitions(assets=[loads, other_loads, free, shaky], jobs=[define_job("frees", "free", retries=2)])


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    url = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path / 'orch.db'}"}.get(request.param) \
        or request.getfixturevalue("empty_postgres_url")
    with open_store(url, tmp_path) as opened:
        yield opened


def test_a_queued_run_has_its_assets_resolved_now_and_its_pools(store: EventStore) -> None:
    run = enqueue_run(store, DEFS, selection="loads free", launched_by="cli")
    stored = store.get_run(run.run_id)
    assert stored.status is RunStatus.QUEUED and stored.launched_by == "cli"
    assert stored.asset_keys == (K("free"), K("loads")) and stored.pools == ("warehouse",)
    assert stored.enqueued_at is not None
    job_run = enqueue_run(store, DEFS, job="frees")
    assert store.get_run(job_run.run_id).config == {"retries": {"max_retries": 2, "from_failure": True}}
    assert store.get_run(job_run.run_id).tags == {"job": "frees"}


def test_a_selection_that_matches_nothing_queues_nothing(store: EventStore) -> None:
    with pytest.raises(SelectionError, match="Selection 'tag:nope' matches no asset: 'tag:nope' matched nothing"):
        enqueue_run(store, DEFS, selection="tag:nope")
    with pytest.raises(SelectionError, match="matches only assets that another system materializes"):
        enqueue_run(store, Definitions(assets=[loads, AssetSpec("vendor/feed")]), selection="vendor/feed")
    assert store.list_runs() == []


def test_claims_respect_the_run_limit_and_pool_slots_without_head_of_line_blocking(store: EventStore) -> None:
    first = enqueue_run(store, DEFS, selection="loads")
    second = enqueue_run(store, DEFS, selection="other_loads")  # same pool: waits for the first
    third = enqueue_run(store, DEFS, selection="free")  # no pool: goes ahead of the second
    fourth = enqueue_run(store, DEFS, selection="free")
    claimed = store.queue.claim("d1", Limits(max_concurrent_runs=3))
    assert [r.run_id for r in claimed] == [first.run_id, third.run_id, fourth.run_id]
    assert store.queue.claim("d2", Limits(max_concurrent_runs=5)) == []  # the pool is still held
    store.queue.mark_running(first.run_id, 1, "h")
    store.finish_run(first.run_id, RunStatus.SUCCEEDED, time.time())
    assert [r.run_id for r in store.queue.claim("d2", Limits(max_concurrent_runs=5))] == [second.run_id]
    assert store.get_run(second.run_id).claimed_by == "d2"


def test_a_pool_may_be_given_more_slots(store: EventStore) -> None:
    runs = [enqueue_run(store, DEFS, selection=s) for s in ("loads", "other_loads")]
    claimed = store.queue.claim("d1", Limits(pools={"warehouse": 2}))
    assert {r.run_id for r in claimed} == {r.run_id for r in runs}


def test_cancel_ends_a_queued_run_at_once_and_asks_a_running_one_to_stop(store: EventStore) -> None:
    queued = enqueue_run(store, DEFS, selection="free")
    assert cancel_run(store, queued.run_id[:10]).status is RunStatus.CANCELED
    assert [e.type for e in store.events(queued.run_id)] == [EventType.RUN_CANCELED]
    running = enqueue_run(store, DEFS, selection="free")
    store.queue.claim("d1", Limits())
    assert store.queue.mark_running(running.run_id, 42, "host") is not None
    assert store.queue.heartbeat(running.run_id) is False
    asked = cancel_run(store, running.run_id)
    assert asked.status is RunStatus.RUNNING and asked.cancel_requested_at is not None
    assert store.queue.heartbeat(running.run_id) is True
    store.finish_run(running.run_id, RunStatus.CANCELED, time.time())
    with pytest.raises(StorageError, match="has already canceled"):
        cancel_run(store, running.run_id)


def test_a_canceled_run_is_not_started_and_an_ended_run_is_not_failed_again(store: EventStore) -> None:
    run = enqueue_run(store, DEFS, selection="free")
    cancel_run(store, run.run_id)
    assert store.queue.mark_running(run.run_id, 1, "h") is None
    assert store.queue.fail_active(run.run_id, "gone") is False
    assert store.get_run(run.run_id).status is RunStatus.CANCELED


def test_a_run_claimed_by_a_daemon_that_died_before_launching_goes_back_to_the_queue(store: EventStore) -> None:
    run = enqueue_run(store, DEFS, selection="free")
    store.queue.claim("dead-daemon", Limits())
    assert store.queue.requeue_unlaunched(run.run_id) is True
    assert store.get_run(run.run_id).status is RunStatus.QUEUED
    store.queue.claim("d2", Limits())
    store.queue.set_process(run.run_id, 7, "h")
    assert store.queue.requeue_unlaunched(run.run_id) is False  # it has a process: the monitor decides


def test_reexecute_from_failure_queues_only_what_did_not_succeed(store: EventStore) -> None:
    failed = materialize(DEFS, "free shaky", store=store)
    assert failed.status is RunStatus.FAILED
    again = reexecute_run(store, DEFS, failed.run_id, from_failure=True)
    assert again.asset_keys == (K("shaky"),) and again.parent_run_id == failed.run_id
    whole = reexecute_run(store, DEFS, failed.run_id)
    assert whole.asset_keys == (K("free"), K("shaky"))
    ok = materialize(DEFS, "free", store=store)
    with pytest.raises(ExecutionError, match="materialized all its assets"):
        reexecute_run(store, DEFS, ok.run_id, from_failure=True)
    key = ("__run_retries__", failed.run_id)
    assert reexecute_run(store, DEFS, failed.run_id, run_key=key, retry=True).attempt == 2
    assert reexecute_run(store, DEFS, failed.run_id, run_key=key, retry=True) is None  # once


def test_a_store_from_the_previous_schema_migrates_and_keeps_its_runs(tmp_path: Path, fresh_sql_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from orchestrator.storage.sql import MIGRATIONS, normalise_url

    engine = sa.create_engine(normalise_url(fresh_sql_url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        conn.exec_driver_sql(
            "INSERT INTO runs (run_id, status, selection, asset_keys, partition, started_at, ended_at, tags) "
            "VALUES ('old-running', 'started', '+x', '[\"x\"]', NULL, 1.0, NULL, NULL), "
            "('old-done', 'succeeded', NULL, '[]', '2024-01-01', 2.0, 3.0, '{\"a\": \"b\"}')")
    engine.dispose()
    with open_store(fresh_sql_url, tmp_path) as store:
        runs = {r.run_id: r for r in store.list_runs()}
        assert runs["old-running"].status is RunStatus.RUNNING and runs["old-running"].selection == "+x"
        assert runs["old-done"].tags == {"a": "b"} and runs["old-done"].partition == "2024-01-01"
        assert runs["old-done"].attempt == 1 and runs["old-done"].launched_by is None
