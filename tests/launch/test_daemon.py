"""Real daemon processes: queued runs execute, killed runs are found and retried, cancel reaches a
running run, a daemon killed mid-tick loses and doubles nothing, two daemons launch each run once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.definitions import load_definitions
from orchestrator.launch.queue import cancel_run, enqueue_run
from orchestrator.storage import EventStore, open_store
from orchestrator.storage.events import EventType, RunStatus
from tests.conftest import FIXTURES

QUEUE = str(FIXTURES / "defs" / "daemon_jobs.py")
ORCH = [sys.executable, "-m", "orchestrator.cli"]
HEARTBEAT = 0.5


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    marks = tmp_path / "marks"
    marks.mkdir()
    return {**os.environ, "ORCH_HOME": str(tmp_path / "home"), "QUEUE_MARKS": str(marks),
            "ORCH_RUN_HEARTBEAT_SECONDS": str(HEARTBEAT)}


@pytest.fixture
def store(storage_url: str, tmp_path: Path) -> Iterator[EventStore]:
    with open_store(storage_url, tmp_path) as opened:
        yield opened


def daemon(storage_url: str, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([*ORCH, "--defs", QUEUE, "--storage", storage_url, "daemon", *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], object], timeout: float = 60.0, what: str = "it",
             every: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


def ended(store: EventStore, run_id: str) -> bool:
    return store.get_run(run_id).status.terminal


def test_the_daemon_executes_queued_runs_in_their_own_processes(storage_url, env, store) -> None:
    defs = load_definitions(QUEUE)
    runs = [enqueue_run(store, defs, selection="quick", launched_by="cli") for _ in range(3)]
    process = daemon(storage_url, env)
    try:
        for run in runs:
            wait_for(lambda r=run: ended(store, r.run_id), what=f"run {run.run_id}")
    finally:
        err = stop(process)
    records = [store.get_run(r.run_id) for r in runs]
    assert [r.status for r in records] == [RunStatus.SUCCEEDED] * 3, err
    assert all(r.pid and r.host and r.claimed_by for r in records)
    assert len({r.pid for r in records}) == 3  # one process per run
    assert process.returncode == 0 and "stopped" in err


def test_a_killed_run_process_is_marked_failed_with_the_cause_and_retried_from_failure(storage_url, env, store) -> None:
    defs = load_definitions(QUEUE)
    run = enqueue_run(store, defs, job="retrying")
    marks = Path(env["QUEUE_MARKS"])
    process = daemon(storage_url, env)
    try:
        wait_for(lambda: (marks / "slow-started").exists(), what="the slow step")
        wait_for(lambda: store.events(run.run_id, types=[EventType.STEP_STARTED]), what="its events")
        victim = store.get_run(run.run_id).pid
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: ended(store, run.run_id), timeout=2 * HEARTBEAT + 5, what="the kill to be noticed")
        noticed = time.monotonic() - killed_at
        retry = wait_for(lambda: [r for r in store.list_runs() if r.parent_run_id == run.run_id], what="a retry")[0]
        wait_for(lambda: ended(store, retry.run_id), what="the retry")
    finally:
        err = stop(process)
    dead = store.get_run(run.run_id)
    assert dead.status is RunStatus.FAILED, err
    assert "killed by SIGKILL" in dead.error or "is gone" in dead.error
    assert noticed < 2 * HEARTBEAT + 1.0
    events = [e.type for e in store.events(run.run_id)]
    assert events[:2] == [EventType.RUN_STARTED, EventType.STEP_STARTED]  # its events stay
    assert events[-1] is EventType.RUN_FAILED
    retried = store.get_run(retry.run_id)
    assert retried.status is RunStatus.SUCCEEDED and retried.attempt == 2 and retried.launched_by == "retry"
    assert [str(k) for k in retried.asset_keys] == ["slow", "after_slow"]  # nothing had succeeded


def test_a_run_whose_heartbeat_stopped_on_another_host_is_failed(storage_url, env, store) -> None:
    defs = load_definitions(QUEUE)
    run = enqueue_run(store, defs, selection="quick")
    store.queue.claim("far-away-daemon", __import__("orchestrator.storage.queue", fromlist=["Limits"]).Limits())
    store.queue.mark_running(run.run_id, 4242, "host-that-burned-down")
    process = daemon(storage_url, env)
    try:
        wait_for(lambda: ended(store, run.run_id), timeout=2 * HEARTBEAT + 10, what="the stale heartbeat")
    finally:
        stop(process)
    assert "no heartbeat from its process 4242 on host-that-burned-down" in store.get_run(run.run_id).error


def test_cancel_reaches_a_running_run(storage_url, env, store) -> None:
    defs = load_definitions(QUEUE)
    run = enqueue_run(store, defs, selection="slow+")
    marks = Path(env["QUEUE_MARKS"])
    process = daemon(storage_url, env)
    try:
        wait_for(lambda: (marks / "slow-started").exists(), what="the slow step")
        cancel_run(store, run.run_id)
        wait_for(lambda: ended(store, run.run_id), timeout=HEARTBEAT + 10, what="the cancel")
    finally:
        stop(process)
    record = store.get_run(run.run_id)
    assert record.status is RunStatus.CANCELED
    assert EventType.RUN_CANCELED in [e.type for e in store.events(run.run_id)]


def test_a_daemon_killed_mid_tick_neither_loses_nor_doubles_a_tick(storage_url, env, store) -> None:
    due = 55  # within the default catch-up window of an hour
    store.triggers.set_watermark("quick_job_schedule", "schedule", time.time() - due * 60)
    landed = 0  # kills that hit the daemon while it was catching up: some ticks stored, not all

    def caught_up() -> bool:  # a daemon finished a pass: its watermark follows the clock
        return store.triggers.states()["quick_job_schedule"].last_tick_at > time.time() - 5

    for _ in range(3):  # launching is off (0 runs at once): only ticking is measured
        if caught_up():  # no catch-up left to kill a daemon in (else the next tick is a minute away)
            break
        before = len(store.triggers.ticks("quick_job_schedule", limit=200))
        process = daemon(storage_url, env, "--max-concurrent-runs", "0")
        # polled every 5 ms: on a quiet machine a daemon stores the 55 ticks in a fraction of a second
        wait_for(lambda: len(store.triggers.ticks("quick_job_schedule", limit=200)) > before or caught_up()
                 or process.poll(), what="the daemon to tick", every=0.005)
        process.kill()
        process.wait()
        landed += len(store.triggers.ticks("quick_job_schedule", limit=200)) < due
    process = daemon(storage_url, env, "--max-concurrent-runs", "0")
    started = time.time()
    try:
        wait_for(lambda: store.triggers.states()["quick_job_schedule"].last_tick_at >= started,
                 timeout=60, what="the schedule to catch up")
    finally:
        stop(process)
    assert landed >= 1, "no kill landed inside the catch-up: the test proved nothing"
    ticks = store.triggers.ticks("quick_job_schedule", limit=200)
    instants = sorted(t.tick_at for t in ticks)
    assert len(instants) == len(set(instants)) >= due
    assert all(b - a == 60 for a, b in zip(instants, instants[1:]))  # none missing in between
    runs = [r for r in store.list_runs(limit=200) if r.tags.get("schedule") == "quick_job_schedule"]
    assert sorted(r.run_id for r in runs) == sorted(t.run_ids[0] for t in ticks)  # one run per tick


@pytest.mark.parametrize("backend, count", [("postgresql", 200), ("sqlite", 20)])
def test_two_daemons_launch_each_of_many_runs_exactly_once(backend, count, request, env, tmp_path) -> None:
    url = request.getfixturevalue("empty_postgres_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'o.db'}"
    defs = load_definitions(QUEUE)
    with open_store(url, tmp_path) as store:
        store.triggers.set_status("quick_job_schedule", "schedule", "stopped")  # only the queued runs
        daemons = [daemon(url, env, "--max-concurrent-runs", "6") for _ in range(2)]
        try:
            # both up before the runs arrive: on a loaded machine one daemon could otherwise finish
            # all of them before the other one started
            wait_for(lambda: len(store.queue.daemons()) == 2 or any(d.poll() is not None for d in daemons),
                     what="both daemons to start")
            runs = [enqueue_run(store, defs, selection="quick") for _ in range(count)]
            wait_for(lambda: all(r.status.terminal for r in store.list_runs(limit=count + 10)), timeout=600,
                     what=f"{count} runs")
        finally:
            errs = [stop(d) for d in daemons]
        records = [store.get_run(r.run_id) for r in runs]
        assert [r.status for r in records] == [RunStatus.SUCCEEDED] * count, errs
        started = [e.run_id for r in runs for e in store.events(r.run_id, types=[EventType.RUN_STARTED])]
        assert sorted(started) == sorted(r.run_id for r in runs)  # each started exactly once
        assert len({r.claimed_by for r in records}) == 2  # both daemons took a share
        assert len(store.list_runs(limit=count + 10)) == count
