"""Several daemons and one Dask cluster on one PostgreSQL store: `orch daemon --executor dask
--dask-address ...` x 2 share the queue; every run is launched once, none is lost when a daemon is
SIGKILLed, and the runs' steps spread over the cluster's workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from orchestrator.definitions import load_definitions
from orchestrator.launch.queue import enqueue_run
from orchestrator.storage import open_store
from orchestrator.storage.events import EventType, RunStatus
from tests.dask.conftest import STEPS, worker_addresses

RUNS = 8


def _daemon(url: str, env: dict[str, str], cluster: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "--defs", str(STEPS), "--storage", url, "daemon",
         "--executor", "dask", "--dask-address", cluster, "--max-concurrent-runs", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[1]


def test_two_daemons_on_one_postgres_queue_run_steps_on_the_cluster(empty_postgres_url, cluster, tmp_path):
    control = tmp_path / "control"
    control.mkdir()
    env = {**os.environ, "ORCH_HOME": str(tmp_path / "home"), "DASK_TEST_CONTROL": str(control),
           "ORCH_RUN_HEARTBEAT_SECONDS": "0.5"}
    defs = load_definitions(str(STEPS))
    with open_store(empty_postgres_url, tmp_path) as store:
        runs = [enqueue_run(store, defs, selection="+compass", launched_by="api") for _ in range(RUNS)]
        daemons = [_daemon(empty_postgres_url, env, cluster) for _ in range(2)]
        errs = []
        try:
            deadline = time.monotonic() + 300
            while len({store.get_run(r.run_id).claimed_by for r in runs} - {None}) < 2:
                assert time.monotonic() < deadline, "the daemons did not both claim runs"
                time.sleep(0.1)
            daemons[0].send_signal(signal.SIGKILL)  # a daemon dies while its runs are running or queued
            while not all(store.get_run(r.run_id).status.terminal for r in runs):
                assert time.monotonic() < deadline, [store.get_run(r.run_id).status for r in runs]
                time.sleep(0.2)
        finally:
            errs = [_stop(d) for d in daemons]
        records = [store.get_run(r.run_id) for r in runs]
        assert [r.status for r in records] == [RunStatus.SUCCEEDED] * RUNS, errs
        started = sorted(e.run_id for r in runs for e in store.events(r.run_id, types=[EventType.RUN_STARTED]))
        assert started == sorted(r.run_id for r in runs)  # each launched exactly once
        steps = [e for r in runs for e in store.events(r.run_id, types=[EventType.STEP_STARTED])]
        workers = {e.data["worker"] for e in steps}
        assert len(steps) == RUNS * 5 and workers == worker_addresses(cluster)  # every step on the cluster, both workers
