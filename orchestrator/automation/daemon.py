"""The daemon: launches queued runs, watches them, ticks schedules and sensors, evaluates declarative
automation and freshness. Stateless: everything it knows is in the store, so it can die at any
moment and several may run against one PostgreSQL store (claims and leases are rows).

Two loops in two threads: the run loop (claim, launch, reap, find dead runs, retry) every
`poll_interval` seconds, and the automation loop (schedules, sensors, declarative automation,
freshness) every second, so a slow sensor never delays a launch.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.automation.automation_tick import run_automation
from orchestrator.automation.schedules import DEFAULT_CATCHUP
from orchestrator.automation.status import check_freshness
from orchestrator.automation.ticking import tick_schedule, tick_sensor
from orchestrator.errors import OrchestratorError
from orchestrator.launch.forkserver import preload
from orchestrator.launch.launcher import ForkServer, Launcher, fork_server_from_here
from orchestrator.launch.monitor import dead_runs, end_dead_run, retry_failed
from orchestrator.launch.worker import heartbeat_seconds
from orchestrator.storage.queue import DaemonRecord, Limits
from orchestrator.workspace import Workspace


@dataclass
class DaemonOptions:
    poll_interval: float = 0.1
    max_concurrent_runs: int | None = None
    pools: dict[str, int] = field(default_factory=dict)
    fork: bool = True
    """Start run processes from a fork server that loaded the definitions once (else spawn each)."""
    catchup: dt.timedelta = DEFAULT_CATCHUP
    automation_interval: float = 30.0
    freshness_interval: float = 30.0
    heartbeat_timeout: float | None = None
    """Seconds without a heartbeat before a run counts as dead (default: two beats and a second)."""
    executor: str | None = None
    dask_address: str | None = None
    run_queue: bool = True
    triggers: bool = True
    cancel_runs_on_exit: bool = False


def _log(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"{stamp} orch daemon: {message}", file=sys.stderr, flush=True)


class Daemon:
    def __init__(self, ws: Workspace, options: DaemonOptions | None = None,
                 clock: Callable[[], float] = time.time, log: Callable[[str], None] = _log) -> None:
        self.ws, self.options, self.clock, self.log = ws, options or DaemonOptions(), clock, log
        if (ws.storage_url or "").split(":", 1)[0] == "memory":
            raise OrchestratorError("The daemon needs a store its run processes can open too: use SQLite "
                                    "(the default under ORCH_HOME) or PostgreSQL, not memory://.")
        self.host = socket.gethostname()
        self.id = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.started_at = time.time()
        defs = ws.defs
        defs.graph  # noqa: B018 - built once, now
        gc.freeze()  # the definitions live as long as the daemon: the collector need not walk them
        env = ws.environment()
        if self.options.executor:
            env["ORCH_EXECUTOR"] = self.options.executor
        if self.options.dask_address:
            env["ORCH_DASK_ADDRESS"] = self.options.dask_address
        server = None
        if self.options.fork and hasattr(os, "fork") and threading.active_count() == 1 and ws._store is None:
            # still one thread and no store connection: fork the fork server from here, sharing
            # the loaded definitions' memory (and the modules runs import) with it
            preload(ws)
            gc.freeze()
            server = ForkServer(env, fork_server_from_here(ws, env))
        limits = Limits(self.options.max_concurrent_runs, {**defs.pools, **self.options.pools})
        self.launcher = Launcher(ws.store, self.id, env, limits, ws.home, fork=self.options.fork, server=server)
        self.timeout = self.options.heartbeat_timeout or 2 * heartbeat_seconds() + 1.0
        self._unretryable: set[str] = set()
        self._next: dict[str, float] = {}
        self._stop = threading.Event()

    # -- the run loop ------------------------------------------------------------------------------

    def run_step(self) -> None:
        store, now = self.ws.store, self.clock()
        if self._due("heartbeat", 5.0):
            store.queue.daemon_heartbeat(DaemonRecord(self.id, self.host, os.getpid(), self.started_at, now,
                                                      {"defs": self.ws.environment().get("ORCH_DEFS")}))
        for run_id, cause in self.launcher.reap():
            run = store.get_run(run_id)
            if end_dead_run(store, run, cause):
                self.log(f"run {run_id[:8]} failed: {cause}")
        if self._due("monitor", 1.0):
            self.monitor(now)
        for run in self.launcher.launch():
            self.log(f"launched run {run.run_id[:8]} ({len(run.asset_keys)} assets"
                     f"{', partition ' + run.partition if run.partition else ''}, by {run.launched_by})")

    def monitor(self, now: float) -> None:
        store = self.ws.store
        live = {d.daemon_id for d in store.queue.daemons() if now - d.heartbeat_at < 30.0} | {self.id}
        for run, cause in dead_runs(store.queue.active(), now, self.timeout, self.host, live_daemons=live):
            if cause is None:
                if store.queue.requeue_unlaunched(run.run_id):
                    self.log(f"run {run.run_id[:8]} was claimed by a daemon that stopped: back in the queue")
            elif run.pid not in self.launcher.running_pids() and end_dead_run(store, run, cause):
                self.log(f"run {run.run_id[:8]} failed: {cause}")
        for record in retry_failed(store, self.ws.defs, now, self._unretryable):
            self.log(f"queued retry {record.run_id[:8]} (attempt {record.attempt}) of run {record.parent_run_id[:8]}")

    # -- the automation loop -------------------------------------------------------------------------

    def automation_step(self) -> None:
        defs, store, now = self.ws.defs, self.ws.store, self.clock()
        for schedule in defs.schedules.values():
            for tick in tick_schedule(defs, store, schedule, now, self.options.catchup):
                self.log(f"schedule {schedule.name}: tick {dt.datetime.fromtimestamp(tick.tick_at).isoformat()} "
                         f"{tick.status.value}{': ' + (tick.error or tick.skip_reason or '') if tick.error or tick.skip_reason else ''}"
                         f"{' -> ' + ', '.join(r[:8] for r in tick.run_ids) if tick.run_ids else ''}")
        for sensor in defs.sensors.values():
            tick = tick_sensor(defs, store, sensor, now, self.id)
            if tick is not None and (tick.run_ids or tick.error):
                self.log(f"sensor {sensor.name}: {tick.status.value}"
                         f"{': ' + tick.error.splitlines()[0] if tick.error else ''}"
                         f"{' -> ' + ', '.join(r[:8] for r in tick.run_ids) if tick.run_ids else ''}")
        if self._due("automation", self.options.automation_interval):
            record = run_automation(defs, store, now, self.id)
            if record is not None and record.requested.get("runs"):
                for run in record.requested["runs"]:
                    self.log(f"automation requested run {run['run_id'][:8]}: {', '.join(run['assets'][:5])}"
                             f"{' ...' if len(run['assets']) > 5 else ''}")
        if self._due("freshness", self.options.freshness_interval):
            for change in check_freshness(defs, store, now):
                self.log(f"freshness of {change.asset_key}: {change.previous or 'unknown'} -> {change.state} "
                         f"({change.message})")

    # -- running -----------------------------------------------------------------------------------

    def _due(self, what: str, every: float) -> bool:
        now = time.monotonic()
        if now >= self._next.get(what, 0.0):
            self._next[what] = now + every
            return True
        return False

    def _loop(self, step: Callable[[], None], interval: float, name: str) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                step()
                failures = 0
            except Exception as exc:  # the daemon carries on; the store or a definition may recover
                failures += 1
                self.log(f"{name} loop error ({failures} in a row): {type(exc).__name__}: {exc}")
                if failures == 1:
                    traceback.print_exc(file=sys.stderr)
            self._stop.wait(min(30.0, interval * (2 ** min(failures, 8))) if failures else interval)

    def run(self, stop: threading.Event | None = None) -> None:
        """Run until `stop` is set, or Ctrl-C / SIGTERM (a clean stop: the store is left consistent)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        if stop is not None:
            threading.Thread(target=lambda: (stop.wait(), self._stop.set()), daemon=True).start()
        self.log(f"{self.id} started: store {self.ws.store!r}, definitions {self.ws.environment()['ORCH_DEFS']}")
        threads = []
        if self.options.triggers:
            threads.append(threading.Thread(target=self._loop, args=(self.automation_step, 1.0, "automation"),
                                            name="orch-daemon-automation", daemon=True))
        for thread in threads:
            thread.start()
        try:
            if self.options.run_queue:
                self._loop(self.run_step, self.options.poll_interval, "run")
            else:
                self._stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=10)
            self.launcher.stop(cancel_runs=self.options.cancel_runs_on_exit)
            self.log("stopped")

    def stop(self) -> None:
        self._stop.set()
