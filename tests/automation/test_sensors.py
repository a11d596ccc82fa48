"""Sensors ticked with an injected clock: cursors, run keys, skips, errors, timeouts, asset and run
status sensors."""

from __future__ import annotations

import threading

import pytest

from orchestrator import (
    Definitions, RunRequest, RunStatus, SkipReason, asset, asset_sensor, define_job, materialize,
    run_status_sensor, sensor,
)
from orchestrator.automation.ticking import tick_sensor
from orchestrator.errors import DefinitionError
from orchestrator.storage import EventStore
from orchestrator.storage.triggers import TickStatus

NOW = 1_733_050_000.0


@asset
def orders():
    return [1, 2]


@asset
def broken():
    raise RuntimeError("no data today")


job = define_job("orders_job", "orders")
files = ["a.csv", "b.csv"]


@sensor(job=job, interval_seconds=30, default_status="running")
def new_files(context):
    seen = set((context.cursor or "").split(",")) - {""}
    fresh = [f for f in files if f not in seen]
    if not fresh:
        return SkipReason("no new file")
    context.cursor = ",".join(sorted(seen | set(fresh)))
    return [RunRequest(run_key=f, tags={"file": f}) for f in fresh]


@sensor(job=job, default_status="running")
def same_key_always(context):
    return RunRequest(run_key="only-once")


@sensor(job=job, default_status="running")
def raising(context):
    raise ValueError("the API said 503")


release = threading.Event()


@sensor(job=job, default_status="running", timeout_seconds=0.2)
def hanging(context):
    release.wait(5)


@asset_sensor(assets=["orders"], job=define_job("after_orders", "broken"), default_status="running")
def orders_changed(context):
    return RunRequest(run_key=f"orders-{context.events[-1].id}", tags={"events": str(len(context.events))})


alerts: list[str] = []


@run_status_sensor(status=RunStatus.FAILED, default_status="running")
def on_failure(context):
    alerts.append(context.run.run_id)


DEFS = Definitions(assets=[orders, broken], sensors=[new_files, same_key_always, raising, hanging, orders_changed,
                                                     on_failure])


def test_the_cursor_persists_between_ticks_and_the_interval_is_kept(store: EventStore) -> None:
    first = tick_sensor(DEFS, store, new_files, NOW, "d1")
    assert first.status is TickStatus.SUCCEEDED and len(first.run_ids) == 2
    assert store.triggers.states()["new_files"].cursor == "a.csv,b.csv"
    assert tick_sensor(DEFS, store, new_files, NOW + 10, "d1") is None  # 30 s interval
    files.append("c.csv")
    try:
        second = tick_sensor(DEFS, store, new_files, NOW + 31, "d1")
        third = tick_sensor(DEFS, store, new_files, NOW + 62, "d1")
    finally:
        files.remove("c.csv")
    assert len(second.run_ids) == 1 and store.get_run(second.run_ids[0]).tags["file"] == "c.csv"
    assert (third.status, third.skip_reason) == (TickStatus.SKIPPED, "no new file")
    assert {r.launched_by for r in store.list_runs()} == {"sensor"}


def test_a_run_key_requested_before_is_not_requested_again(store: EventStore) -> None:
    first = tick_sensor(DEFS, store, same_key_always, NOW, "d1")
    second = tick_sensor(DEFS, store, same_key_always, NOW + 60, "d1")
    assert len(first.run_ids) == 1
    assert (second.status, second.skip_reason) == (TickStatus.SKIPPED, "run key only-once already used")
    assert store.triggers.run_key("same_key_always", "only-once") == first.run_ids[0]
    assert len(store.list_runs()) == 1


def test_a_sensor_that_raises_is_recorded_and_keeps_its_cursor(store: EventStore) -> None:
    tick = tick_sensor(DEFS, store, raising, NOW, "d1")
    assert tick.status is TickStatus.FAILED
    assert tick.error.startswith("ValueError: the API said 503")
    assert "raise ValueError" in tick.error  # the user's frame, for the UI
    assert store.triggers.ticks("raising")[0].error == tick.error
    assert tick_sensor(DEFS, store, raising, NOW + 60, "d1").status is TickStatus.FAILED  # it carries on


def test_a_sensor_that_hangs_times_out(store: EventStore) -> None:
    release.clear()
    try:
        tick = tick_sensor(DEFS, store, hanging, NOW, "d1")
        again = tick_sensor(DEFS, store, hanging, NOW + 60, "d1")
    finally:
        release.set()
    assert tick.status is TickStatus.FAILED
    assert "did not return within 0.2 s" in tick.error
    assert "is still running its evaluation that timed out" in again.error  # no second hung thread


def test_an_asset_sensor_sees_new_materializations_once(store: EventStore) -> None:
    assert tick_sensor(DEFS, store, orders_changed, NOW, "d1").skip_reason == "nothing new since the last tick"
    materialize(DEFS, "orders", store=store)
    materialize(DEFS, "orders", store=store)
    tick = tick_sensor(DEFS, store, orders_changed, NOW + 60, "d1")
    assert tick.status is TickStatus.SUCCEEDED
    assert store.get_run(tick.run_ids[0]).tags["events"] == "2"
    assert store.get_run(tick.run_ids[0]).asset_keys == (DEFS.graph.get("broken").key,)
    assert tick_sensor(DEFS, store, orders_changed, NOW + 120, "d1").status is TickStatus.SKIPPED


def test_a_run_status_sensor_is_called_once_per_run_that_ended_so(store: EventStore) -> None:
    import time

    alerts.clear()
    start = time.time()
    tick_sensor(DEFS, store, on_failure, start, "d1")  # starts watching from now
    failed = materialize(DEFS, "broken", store=store)
    materialize(DEFS, "orders", store=store)
    tick_sensor(DEFS, store, on_failure, time.time() + 60, "d1")
    tick_sensor(DEFS, store, on_failure, time.time() + 120, "d1")
    assert alerts == [failed.run_id]


def test_a_sensor_without_a_job_must_say_what_to_run(store: EventStore) -> None:
    loose = sensor(lambda context: RunRequest(), name="loose", default_status="running")
    defs = Definitions(assets=[orders], sensors=[loose])
    tick = tick_sensor(defs, store, loose, NOW, "d1")
    assert tick.status is TickStatus.FAILED and "its RunRequest must give a selection" in tick.error
    with pytest.raises(DefinitionError, match="watches ended runs"):
        run_status_sensor(lambda c: None, status=RunStatus.QUEUED)
