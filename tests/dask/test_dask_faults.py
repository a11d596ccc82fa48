"""Faults on a real Dask cluster: a worker SIGKILLed mid-step, a cancel while steps run, and the
scheduler lost mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator import AssetKey, EventType, RunStatus, materialize
from orchestrator.execution.materialize import build_plan
from orchestrator.execution.plan import plan
from orchestrator.launch.queue import reexecute_run
from orchestrator.execution.run import execute_plan
from orchestrator.home import default_io_managers
from orchestrator.execution.executors.dask import DaskExecutor
from orchestrator.storage import open_store
from tests.dask.conftest import worker_pids

K = AssetKey.parse


def _wait_for(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
    return path.read_text()


def kill_worker_mid_step(run: threading.Thread, done: dict, marker: Path, cluster: str):
    """SIGKILL the worker whose pid a step wrote to `marker`, once that step is surely running; the
    run's result once it ended, successful."""
    victim_pid = int(_wait_for(marker))
    assert victim_pid in worker_pids(cluster)
    time.sleep(0.6)  # its first events reached the run: it is mid-step, not merely queued there
    os.kill(victim_pid, signal.SIGKILL)
    run.join(120)
    assert done["result"].success, done["result"].causes
    return done["result"]


def test_a_worker_killed_mid_step_is_retried_on_another_worker(tmp_path, cluster, steps):
    run, done, store, _, control, _ = start_run(steps, "+after_victim +compass", tmp_path, cluster)
    result = kill_worker_mid_step(run, done, control / "victim.pid", cluster)
    retries = [e for e in store.events(result.run_id, types=[EventType.STEP_RETRY]) if e.asset_key == K("victim")]
    assert len(retries) == 1 and "died (attempt 1/2)" in retries[0].message

    clean = materialize(steps, "+after_victim +compass", home=tmp_path / "clean", resources={"control": str(control)})
    for key in ("victim", "after_victim", "compass"):
        assert result.value(key) == clean.value(key)
    store.close()


def start_run(steps, selection: str, tmp_path: Path, cluster: str):
    """A run of `selection` on the cluster, in a thread: (thread, its result once done, store, home,
    control folder, cancel event)."""
    control = tmp_path / "control"
    control.mkdir()
    home = tmp_path / "home"
    store = open_store(None, home)
    cancel = threading.Event()
    done: dict = {}
    run = threading.Thread(target=lambda: done.update(result=execute_plan(
        build_plan(steps, selection, None), store=store, io_managers=default_io_managers(home),
        resources={"control": str(control)}, executor=DaskExecutor(address=cluster), cancel=cancel)))
    run.start()
    return run, done, store, home, control, cancel


def test_cancel_interrupts_steps_running_on_workers(tmp_path, cluster, steps):
    run, done, store, home, control, cancel = start_run(steps, "spinner", tmp_path, cluster)
    _wait_for(control / "spinner.started")
    canceled_at = time.monotonic()
    cancel.set()
    run.join(60)
    assert time.monotonic() - canceled_at < 10  # not the spinner's minute
    result = done["result"]
    assert result.status == RunStatus.CANCELED
    spins = [(e.type, e.message) for e in store.events(result.run_id) if e.asset_key == K("spinner")]
    assert (EventType.STEP_CANCELED, "canceled while running") in spins
    assert EventType.MATERIALIZATION not in [t for t, _ in spins]
    # the worker is free again at once: a quick run after it does not wait for the spinner
    started = time.monotonic()
    assert materialize(steps, "anywhere", home=home, executor=DaskExecutor(address=cluster)).success
    assert time.monotonic() - started < 20
    store.close()


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], stdout=log.open("w"), stderr=subprocess.STDOUT)


@contextmanager
def one_worker_cluster(tmp_path: Path, local_directory: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A scheduler and one worker (whose nanny starts it again when it dies), as processes of their
    own: (the scheduler's address, its process)."""
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = _start(["distributed.cli.dask_scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                        "--no-dashboard"], tmp_path / "scheduler.log")
    worker = None
    try:
        address = json.loads(_wait_for(scheduler_file))["address"]
        worker = _start(["distributed.cli.dask_worker", address, "--nthreads", "1", "--no-dashboard",
                         "--local-directory", str(local_directory)], tmp_path / "worker.log")
        deadline = time.monotonic() + 60
        while not worker_pids(address):
            assert time.monotonic() < deadline, "the worker never joined"
            time.sleep(0.1)
        yield address, scheduler
    finally:
        for proc in (scheduler, worker):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(30)


def test_a_run_whose_only_worker_died_goes_on_on_the_worker_started_in_its_place(tmp_path, steps, dask_dirs):
    with one_worker_cluster(tmp_path, dask_dirs / "replaced") as (address, _):
        run, done, store, _, control, _ = start_run(steps, "+after_victim", tmp_path, address)
        result = kill_worker_mid_step(run, done, control / "victim.pid", address)  # the payload dies too
        retries = [e for e in store.events(result.run_id, types=[EventType.STEP_RETRY])]
        assert [e.asset_key for e in retries] == [K("victim")]
        store.close()


def test_losing_the_scheduler_fails_the_run_clearly_and_it_can_run_again(tmp_path, steps, dask_dirs):
    control = tmp_path / "control"
    control.mkdir()
    with one_worker_cluster(tmp_path, dask_dirs / "lost") as (address, scheduler):
        home = tmp_path / "home"
        store = open_store(None, home)
        done: dict = {}
        run = threading.Thread(target=lambda: done.update(result=materialize(
            steps, "spinner anywhere", home=home, store=store, resources={"control": str(control)},
            executor=DaskExecutor(address=address))))
        run.start()
        _wait_for(control / "spinner.started")
        scheduler.send_signal(signal.SIGKILL)
        run.join(60)
        result = done["result"]
        assert result.status == RunStatus.FAILED
        cause = result.causes[K("spinner")]
        assert f"Lost the Dask scheduler at {address}" in cause and "re-execute it from failure" in cause
        assert store.get_run(result.run_id).status == RunStatus.FAILED
        failed = {k for k, s in result.assets.items() if s != "succeeded"}
        assert K("spinner") in failed
        (control / "release").touch()
        rerun = reexecute_run(store, steps, result.run_id, from_failure=True, launched_by="cli")
        assert set(rerun.asset_keys) == failed and rerun.parent_run_id == result.run_id
        again = execute_plan(plan(steps.graph, rerun.asset_keys), store=store, io_managers=default_io_managers(home),
                             resources={"control": str(control)},  # threads: the scheduler is gone
                             queued=store.queue.mark_running(rerun.run_id, os.getpid(), "test"))
        assert again.success and store.get_run(rerun.run_id).status == RunStatus.SUCCEEDED
        store.close()
