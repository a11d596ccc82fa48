"""Executing one queued run in its own process.

    python -m orchestrator.launch.worker RUN_ID

The daemon starts run processes through its fork server (forkserver.py), which calls
`execute_queued` in a forked child; this entry point is the same without the fork server. The
workspace comes from ORCH_DEFS, ORCH_HOME and ORCH_STORAGE_URL (the daemon sets them), the executor
from ORCH_EXECUTOR (thread | process | dask) and ORCH_DASK_ADDRESS. While the run goes on, a thread
heartbeats the run's row and turns a cancel request into a clean cancel.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

from orchestrator.execution.materialize import load_dynamic_partitions
from orchestrator.execution.plan import plan
from orchestrator.execution.run import execute_plan
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import Event, EventType, RunStatus
from orchestrator.workspace import Workspace

HEARTBEAT_ENV = "ORCH_RUN_HEARTBEAT_SECONDS"
DEFAULT_HEARTBEAT_SECONDS = 2.0


def heartbeat_seconds() -> float:
    return float(os.environ.get(HEARTBEAT_ENV) or DEFAULT_HEARTBEAT_SECONDS)


class Heartbeat:
    """Beats the run's row every `interval` seconds; a cancel request sets `cancel` and interrupts the
    main thread, exactly as Ctrl-C would."""

    def __init__(self, store: EventStore, run_id: str, cancel: threading.Event, interval: float) -> None:
        self._store, self._run_id, self._cancel, self._interval = store, run_id, cancel, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="orch-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if self._store.queue.heartbeat(self._run_id) and not self._cancel.is_set():
                    self._cancel.set()
                    os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: a step in the main thread stops too
            except Exception as exc:  # a store hiccup: the next beat tries again
                print(f"orch worker: heartbeat of run {self._run_id} failed: {exc}", file=sys.stderr)


def fail_run(store: EventStore, run_id: str, message: str, error: dict | None = None) -> None:
    """End a run that could not execute, with the reason in its events and its record."""
    store.append([Event(run_id, EventType.RUN_FAILED, time.time(), message=message,
                        data={"error": error or {"message": message}, "counts": {}})])
    store.queue.fail_active(run_id, message)


def execute_queued(ws: Workspace, run_id: str, load_error: BaseException | None = None) -> RunStatus | None:
    """Take the queued run and execute it; None when it was no longer startable (canceled)."""
    store = ws.store
    run = store.queue.mark_running(run_id, os.getpid(), socket.gethostname())
    if run is None:
        return None
    try:
        if load_error is not None:
            raise load_error
        defs = ws.defs
        load_dynamic_partitions(defs.graph, store)
        missing = [str(k) for k in run.asset_keys if k not in defs.graph]
        if missing:
            raise LookupError(f"assets {missing} are no longer defined in {ws.environment()['ORCH_DEFS']}")
        run_plan = plan(defs.graph, run.asset_keys)
        io_managers = ws.io_managers()
    except BaseException as exc:
        message = f"run {run_id} could not start: {type(exc).__name__}: {exc}"
        fail_run(store, run_id, message, {"type": type(exc).__name__, "message": str(exc),
                                           "traceback": traceback.format_exc()})
        return RunStatus.FAILED
    cancel = threading.Event()
    with Heartbeat(store, run_id, cancel, heartbeat_seconds()):
        result = execute_plan(run_plan, store=store, io_managers=io_managers, resources=defs.resources,
                              partition=run.partition, selection=run.selection,
                              executor=os.environ.get("ORCH_EXECUTOR") or "thread", cancel=cancel, queued=run)
    return result.status


def project_files(root: Path | None) -> dict[str, float]:
    """Modification times of the loaded modules that live in the project."""
    if root is None:
        return {}
    found = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.startswith(str(root)) and "site-packages" not in path:
            try:
                found[path] = os.stat(path).st_mtime
            except OSError:
                found[path] = -1.0
    return found


def changed_files(files: dict[str, float]) -> bool:
    for path, mtime in files.items():
        try:
            if os.stat(path).st_mtime != mtime:
                return True
        except OSError:
            return True
    return False


def terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # execute_plan turns it into a clean cancel


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m orchestrator.launch.worker RUN_ID", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, terminate_as_interrupt)
    ws = Workspace(None, None, None)
    try:
        execute_queued(ws, args[0])
    except KeyboardInterrupt:
        return 130
    finally:
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
