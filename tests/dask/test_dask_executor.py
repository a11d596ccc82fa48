"""Steps on a real Dask cluster: each step is a task in a worker process, values go through IO
managers, events reach the store (published back for SQLite, written by the workers for PostgreSQL),
and compute hints become Dask resources."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator import AssetKey, EventType, asset, materialize
from orchestrator.automation.staleness import data_version_of
from orchestrator.errors import ExecutionError
from orchestrator.execution.executors import executor_from_env, executor_named
from orchestrator.execution.executors.dask import DaskExecutor
from orchestrator.storage import open_store
from orchestrator.storage.sql import SqlEventStore
from tests.dask.conftest import worker_pids

K = AssetKey.parse
COMPASS = "+compass broken+"


def test_steps_run_in_worker_processes_and_their_events_reach_sqlite(tmp_path, cluster, steps):
    store = open_store(None, tmp_path / "home")
    result = materialize(steps, COMPASS, home=tmp_path / "home", store=store,
                         executor=DaskExecutor(address=cluster))
    assert result.assets[K("compass")] == "succeeded"
    assert result.assets[K("broken")] == "failed" and result.assets[K("after_broken")] == "skipped"
    assert "broken on purpose" in result.causes[K("after_broken")]
    pids = {result.value(k)["pid"] for k in ("north", "south", "east", "west")}
    assert os.getpid() not in pids and pids <= worker_pids(cluster) and len(pids) == 2

    clean = materialize(steps, COMPASS, home=tmp_path / "clean")  # threads, same values
    assert result.value("compass") == clean.value("compass")

    events = store.events(result.run_id)
    materialized = {str(e.asset_key) for e in events if e.type == EventType.MATERIALIZATION}
    assert materialized == {"north", "south", "east", "west", "compass"}
    assert [e.type for e in events][0] == EventType.RUN_STARTED
    assert events[-1].type == EventType.RUN_FAILED
    for key in ("north", "compass"):  # each step's events arrive in order, none twice
        mine = [e.type for e in events if str(e.asset_key) == key]
        assert mine == [EventType.STEP_STARTED, EventType.MATERIALIZATION, EventType.STEP_SUCCEEDED]
    store.close()


class _RunProcessStore(SqlEventStore):
    """The store the run's process uses: it remembers which events went through it."""

    appended: list

    def append(self, events):
        self.__dict__.setdefault("appended", []).extend(events)
        super().append(events)


def test_workers_append_events_to_postgresql_themselves(tmp_path, cluster, steps, postgres_url):
    store = _RunProcessStore(postgres_url)
    seen = []
    result = materialize(steps, "+compass", home=tmp_path, store=store, executor=DaskExecutor(address=cluster),
                         listener=seen.append)
    assert result.success
    stored = store.events(result.run_id)
    through_run = {(e.type, e.asset_key) for e in store.appended}
    from_workers = [e for e in stored if (e.type, e.asset_key) not in through_run]
    assert {str(e.asset_key) for e in from_workers if e.type == EventType.MATERIALIZATION} == {
        "north", "south", "east", "west", "compass"}
    assert stored[0].type == EventType.RUN_STARTED and stored[-1].type == EventType.RUN_SUCCEEDED
    assert sum(e.type == EventType.MATERIALIZATION for e in seen) == 5  # the progress display sees them too
    store.close()


def test_compute_hints_become_dask_resources(tmp_path, cluster, steps, dask_dirs):
    executor = DaskExecutor(address=cluster)
    refused = materialize(steps, "on_gpu anywhere", home=tmp_path, executor=executor)
    assert refused.assets[K("anywhere")] == "succeeded"  # no hints: any worker
    cause = refused.causes[K("on_gpu")]
    assert "needs gpu=1, MEMORY=64.00 MiB" in cause and "no worker" in cause and "--resources" in cause

    gpu = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", cluster, "--name", "gpu-worker", "--nthreads", "1",
         "--resources", "gpu=1,MEMORY=1e9", "--local-directory", str(dask_dirs / "gpu"), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(worker_pids(cluster)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        placed = [materialize(steps, "on_gpu", home=tmp_path, executor=executor) for _ in range(2)]
        assert [r.value("on_gpu") for r in placed] == ["gpu-worker", "gpu-worker"]
    finally:
        gpu.terminate()
        gpu.wait(30)


def test_in_memory_values_cannot_go_to_dask_workers(steps, monkeypatch):
    monkeypatch.delenv("ORCH_HOME", raising=False)  # no home anywhere: values and events in memory
    with pytest.raises(ExecutionError, match="in-memory IO managers"):
        materialize(steps, "north", executor=DaskExecutor(address="tcp://127.0.0.1:1"))


def test_an_unreachable_scheduler_fails_the_run_with_a_clear_error(tmp_path, steps, dask_dirs):
    result = materialize(steps, "north", home=tmp_path,
                         executor=DaskExecutor(address="tcp://127.0.0.1:9", connect_timeout=1))
    assert not result.success
    assert "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.causes[K("north")]


def test_executors_by_name_and_from_the_environment():
    with pytest.raises(ExecutionError, match="Did you mean 'dask'"):
        executor_named("dusk")
    chosen = executor_from_env({"ORCH_EXECUTOR": "dask", "ORCH_DASK_ADDRESS": "tcp://scheduler:8786"})
    assert chosen == DaskExecutor(address="tcp://scheduler:8786")
    assert executor_from_env({}).name == "thread"


def test_materializations_written_by_workers_carry_their_input_versions(tmp_path, cluster, steps, postgres_url):
    with SqlEventStore(postgres_url) as store:
        result = materialize(steps, "+compass", home=tmp_path, store=store, executor=DaskExecutor(address=cluster))
        latest = store.latest_materializations([K("north"), K("compass")])
    north, compass = latest[(K("north"), None)], latest[(K("compass"), None)]
    assert result.success and north.run_id == compass.run_id == result.run_id
    assert compass.data["input_versions"]["north"] == data_version_of(north.data, north.run_id, north.timestamp)
    assert compass.data["code_version"] == steps.graph.assets[K("compass")].code_version


def _ladder(steps: int) -> list:
    """A root and `steps` steps, each reading the step before it and the root: no step is fused
    into a chain (two parents each), so each is its own task, sent once the one before it ended.
    Defined under a name no worker can import, so cloudpickle sends the functions by value."""
    namespace: dict = {"__name__": "ladder_of_release_test"}
    sources = ["def root():\n    return 0\n", "def s_000(root):\n    return root\n"]
    sources += [f"def s_{i:03d}(root, s_{i - 1:03d}):\n    return s_{i - 1:03d} + 1\n" for i in range(1, steps)]
    found = []
    for source in sources:
        exec(source, namespace)  # noqa: S102 - the test's own assets
        found.append(asset(namespace[source[4:source.index("(")]]))
    return found


def test_finished_tasks_are_released_in_batches_while_the_run_goes_on(tmp_path, cluster, monkeypatch):
    from distributed import Client

    import orchestrator.execution.executors.dask as dask_executor

    monkeypatch.setattr(dask_executor, "RELEASE_EVERY", 5)

    def held(dask_scheduler) -> int:  # this run's step tasks the scheduler still keeps
        return sum(1 for key in dask_scheduler.tasks if str(key).startswith("orch-s_"))

    counts: list[int] = []
    done = threading.Event()
    with Client(cluster, set_as_default=False) as client:
        def sample() -> None:
            while not done.is_set():
                counts.append(client.run_on_scheduler(held))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result = materialize(_ladder(40), home=tmp_path, executor=DaskExecutor(address=cluster))
        finally:
            done.set()
            sampler.join()
        after = client.run_on_scheduler(held)
    assert result.success and result.value("s_039") == 39
    assert len(counts) > 10  # sampled while the run went on
    # at most RELEASE_EVERY kept, as many whose release the scheduler has not handled yet, the
    # one running and the one just sent (all 40 when nothing is released before the end)
    assert max(counts) <= 2 * 5 + 2
    assert after == 0  # nothing of the run left on the cluster once it ended


LOGGING_FIRST = '''
import json, logging, sys
logging.basicConfig()  # what dbt's import of snowplow_tracker does, before distributed is imported
from orchestrator import asset, materialize
from orchestrator.execution.executors.dask import DaskExecutor

@asset
def one():
    return 1

distributed = logging.getLogger("distributed")
before = distributed.getEffectiveLevel()
result = materialize([one], home=sys.argv[1], executor=DaskExecutor(n_workers=1, local_directory=sys.argv[2]))
print(json.dumps([before, distributed.getEffectiveLevel(), result.status.value]))
'''


def test_a_run_on_its_own_cluster_keeps_dasks_info_logs_out_of_stderr(tmp_path, dask_dirs):
    proc = subprocess.run([sys.executable, "-c", LOGGING_FIRST, str(tmp_path / "home"), str(dask_dirs / "own")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    before, after, status = json.loads(proc.stdout)
    assert status == "succeeded"
    assert before == after == logging.INFO  # distributed's own default, back once the cluster closed
    assert "distributed" not in proc.stderr, proc.stderr


def test_definitions_the_workers_cannot_import_fail_with_a_clear_error(tmp_path, cluster, monkeypatch):
    # a module on this process's path only: the cluster's workers started before it was added
    (tmp_path / "only_here_helpers.py").write_text("def forty_two():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_here_helpers

    try:
        result = materialize([asset(only_here_helpers.forty_two)], home=tmp_path / "home",
                             executor=DaskExecutor(address=cluster))
    finally:
        sys.modules.pop("only_here_helpers", None)
    cause = result.causes[K("forty_two")]
    assert result.assets[K("forty_two")] == "failed"
    assert "cannot load this run's definitions" in cause and "No module named 'only_here_helpers'" in cause
    assert "importable on every worker" in cause and cause.startswith("The worker tcp://")
