"""Linear chains of Python steps on a real Dask cluster: one task per chain, yet each step reports its
own events and outcome, as on the thread executor; a failure or a retry in the middle, a worker
SIGKILLed in the middle, and a cancel in the middle of a chain."""

from __future__ import annotations

from orchestrator import AssetKey, EventType, RunStatus, materialize
from orchestrator.automation.staleness import data_version_of
from orchestrator.execution.executors.dask import DaskExecutor
from orchestrator.storage import open_store
from orchestrator.storage.sql import SqlEventStore
from tests.dask.conftest import worker_pids
from tests.dask.test_dask_faults import _wait_for, kill_worker_mid_step, start_run

K = AssetKey.parse
LINKS = ("link_a", "link_b", "link_c", "link_d")


def _run(steps, selection, home, executor, control):
    store = open_store(None, home)
    result = materialize(steps, selection, home=home, store=store, executor=executor,
                         resources={"control": str(control)})
    events = store.events(result.run_id)
    store.close()
    return result, events


def _per_asset(events) -> dict[str, list[tuple[EventType, str | None]]]:
    """Each asset's events in order: type and message (what differs by executor, e.g. worker
    addresses, is in the data)."""
    found: dict[str, list] = {}
    for e in events:
        if e.asset_key is not None:
            found.setdefault(str(e.asset_key), []).append((e.type, e.message))
    return found


def test_a_chain_runs_as_one_task_with_the_events_and_data_of_the_thread_executor(tmp_path, cluster, steps):
    control = tmp_path / "control"
    control.mkdir()
    selection = "+link_d"
    dask, dask_events = _run(steps, selection, tmp_path / "dask", DaskExecutor(address=cluster), control)
    threads, thread_events = _run(steps, selection, tmp_path / "threads", "thread", control)
    assert dask.success and threads.success
    assert dask.value("link_d") == threads.value("link_d")
    for key in LINKS[:-1]:
        assert dask.value(key)["rows"] == threads.value(key)["rows"]
    pids = {dask.value(k)["pid"] for k in LINKS[:-1]}
    assert len(pids) == 1 and pids <= worker_pids(cluster)  # one worker ran the whole chain

    assert _per_asset(dask_events) == _per_asset(thread_events)
    for key in LINKS:
        assert [t for t, _ in _per_asset(dask_events)[key]] == [
            EventType.STEP_STARTED, EventType.MATERIALIZATION, EventType.STEP_SUCCEEDED]
    _assert_each_link_read_the_one_before(dask_events)


def _assert_each_link_read_the_one_before(events) -> None:
    materialized = [e for e in events if e.type == EventType.MATERIALIZATION]
    assert [str(e.asset_key) for e in materialized] == list(LINKS)  # in chain order
    stamped = {str(e.asset_key): e for e in materialized}
    for before, after in zip(LINKS, LINKS[1:]):  # each records the version of the step before it
        version = data_version_of(stamped[before].data, stamped[before].run_id, stamped[before].timestamp)
        assert stamped[after].data["input_versions"][before] == version


def test_a_chain_on_postgresql_is_stamped_on_the_worker_with_each_link_s_fresh_version(tmp_path, cluster, steps,
                                                                                      postgres_url):
    with SqlEventStore(postgres_url) as store:  # workers append (and stamp) the events themselves
        result = materialize(steps, "+link_d", home=tmp_path, store=store, executor=DaskExecutor(address=cluster))
        assert result.success
        _assert_each_link_read_the_one_before(store.events(result.run_id))


def test_a_failure_in_the_middle_of_a_chain_skips_the_rest_as_on_threads(tmp_path, cluster, steps):
    control = tmp_path / "control"
    control.mkdir()
    dask, dask_events = _run(steps, "+mid_d", tmp_path / "dask", DaskExecutor(address=cluster), control)
    threads, thread_events = _run(steps, "+mid_d", tmp_path / "threads", "thread", control)
    assert dask.status == threads.status == RunStatus.FAILED
    assert dask.assets == threads.assets == {
        K("mid_a"): "succeeded", K("mid_b"): "failed", K("mid_c"): "skipped", K("mid_d"): "skipped"}
    assert dask.causes == threads.causes
    assert "mid-chain on purpose" in dask.causes[K("mid_d")]
    assert _per_asset(dask_events) == _per_asset(thread_events)
    assert [t for t, _ in _per_asset(dask_events)["mid_c"]] == [EventType.STEP_SKIPPED]


def test_a_step_in_the_middle_of_a_chain_retries_by_its_policy(tmp_path, cluster, steps):
    control = tmp_path / "control"
    control.mkdir()
    dask, dask_events = _run(steps, "+retry_c", tmp_path / "dask", DaskExecutor(address=cluster), control)
    threads, thread_events = _run(steps, "+retry_c", tmp_path / "threads", "thread", control)
    assert dask.success and threads.success
    assert dask.value("retry_c") == threads.value("retry_c") == 11
    assert _per_asset(dask_events) == _per_asset(thread_events)
    retried = [m for t, m in _per_asset(dask_events)["retry_b"] if t == EventType.STEP_RETRY]
    assert len(retried) == 1 and "attempt 1/2 failed: RuntimeError: flaky on purpose" in retried[0]


def test_a_worker_killed_in_the_middle_of_a_chain_retries_that_step_and_the_chain_goes_on(tmp_path, cluster, steps):
    run, done, store, _, control, _ = start_run(steps, "+kill_c", tmp_path, cluster)
    result = kill_worker_mid_step(run, done, control / "kill_b.pid", cluster)
    events = store.events(result.run_id)
    store.close()
    per_asset = _per_asset(events)
    assert [t for t, _ in per_asset["kill_a"]] == [  # done before the kill: not run again
        EventType.STEP_STARTED, EventType.MATERIALIZATION, EventType.STEP_SUCCEEDED]
    retries = [m for t, m in per_asset["kill_b"] if t == EventType.STEP_RETRY]
    assert len(retries) == 1 and "died (attempt 1/2)" in retries[0]
    assert [t for t, _ in per_asset["kill_c"]] == [
        EventType.STEP_STARTED, EventType.MATERIALIZATION, EventType.STEP_SUCCEEDED]
    clean = materialize(steps, "+kill_c", home=tmp_path / "clean", resources={"control": str(control)})
    for key in ("kill_a", "kill_b", "kill_c"):
        assert result.value(key) == clean.value(key)


def test_a_cancel_in_the_middle_of_a_chain_interrupts_it_and_the_rest_never_starts(tmp_path, cluster, steps):
    run, done, store, _, control, cancel = start_run(steps, "+spin_c", tmp_path, cluster)
    _wait_for(control / "spin_b.started")
    cancel.set()
    run.join(60)
    result = done["result"]
    assert result.status == RunStatus.CANCELED
    assert result.assets == {K("spin_a"): "succeeded", K("spin_b"): "canceled", K("spin_c"): "canceled"}
    per_asset = _per_asset(store.events(result.run_id))
    store.close()
    assert (EventType.STEP_CANCELED, "canceled while running") in per_asset["spin_b"]
    assert per_asset["spin_c"] == [(EventType.STEP_CANCELED, "canceled before it started")]
