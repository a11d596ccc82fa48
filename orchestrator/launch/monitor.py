"""Run monitoring: find runs whose process died, end them with the cause, and retry failed runs
whose retry policy asks for it. Any daemon may do it: every change is a guarded row update, and a
retry is queued under a run key, so two daemons never retry one run twice."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from orchestrator.launch.queue import reexecute_run
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus

RETRIES_KEY = "__run_retries__"
RETRY_HORIZON = 24 * 3600.0  # failed runs older than this are not retried any more


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_runs(active: Iterable[RunRecord], now: float, timeout: float, host: str,
              alive: Callable[[int], bool] = pid_alive, live_daemons: set[str] | None = None,
              start_timeout: float = 120.0) -> list[tuple[RunRecord, str | None]]:
    """(run, cause) for each launched run whose process is gone. On this host the pid tells (a busy
    process is not a dead one); on another host, a heartbeat older than `timeout` seconds does, or
    for a run still starting, `start_timeout`. A cause of None: the run was claimed but never got a
    process (its daemon stopped first), so it goes back to the queue."""
    found: list[tuple[RunRecord, str | None]] = []
    for run in active:
        if run.status not in (RunStatus.STARTING, RunStatus.RUNNING):
            continue
        if run.pid is None:
            if run.status == RunStatus.STARTING and live_daemons is not None and run.claimed_by not in live_daemons:
                found.append((run, None))
            continue
        if run.host == host:
            if not alive(run.pid):
                found.append((run, f"its process {run.pid} on {host} is gone (killed or crashed)"))
            continue
        limit = timeout if run.status == RunStatus.RUNNING else start_timeout
        if run.heartbeat_at is not None and now - run.heartbeat_at > limit:
            found.append((run, f"no heartbeat from its process {run.pid} on {run.host} for "
                               f"{now - run.heartbeat_at:.0f} s (the process or its host is gone)"))
    return found


def end_dead_run(store: EventStore, run: RunRecord, cause: str) -> bool:
    """Mark the run failed with the cause; its events stay as they were."""
    if not store.queue.fail_active(run.run_id, f"run failed: {cause}"):
        return False
    store.append([Event(run.run_id, EventType.RUN_FAILED, time.time(), message=f"run failed: {cause}",
                        data={"cause": cause, "counts": {}})])
    return True


def retry_failed(store: EventStore, defs: Any, now: float, unretryable: set[str], limit: int = 200) -> list[RunRecord]:
    """Queue a retry of every recently failed run whose policy has retries left (once per run).
    Runs that cannot be retried (their assets are gone) get a log event once and join `unretryable`."""
    retried = []
    for run in store.list_runs(limit=limit, status=RunStatus.FAILED):
        policy = run.config.get("retries") or {}
        if (run.run_id in unretryable or run.attempt > int(policy.get("max_retries", 0))
                or now - (run.ended_at or now) > RETRY_HORIZON
                or store.triggers.run_key(RETRIES_KEY, run.run_id) is not None):
            continue
        try:
            record = reexecute_run(store, defs, run.run_id, from_failure=bool(policy.get("from_failure", True)),
                                   launched_by="retry", retry=True, run_key=(RETRIES_KEY, run.run_id))
        except Exception as exc:
            unretryable.add(run.run_id)
            store.append([Event(run.run_id, EventType.LOG, time.time(),
                                message=f"not retried: {exc}", data={"level": "warning"})])
            continue
        if record is not None:
            retried.append(record)
    return retried
