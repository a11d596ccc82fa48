"""The run queue: runs stored `queued`, claimed by daemons with the store's own locking, then watched.

All of a run's state is a row, so daemons and run processes can die at any moment: a claim is one
transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED` under an advisory lock for the global limits; SQLite:
one writer transaction), so two daemons never launch one run, and a run whose process died is found by
its stale heartbeat.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.errors import StorageError
from orchestrator.storage.events import ACTIVE_STATUSES, RunRecord, RunStatus

if TYPE_CHECKING:
    from orchestrator.storage.base import MemoryEventStore

DEFAULT_POOL_SLOTS = 1
"""Slots of a pool that no limit names: a pool is exclusive unless configured otherwise."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How many runs may be active (starting or running) at once, in all and per pool."""

    max_concurrent_runs: int | None = None
    pools: Mapping[str, int] = field(default_factory=dict)

    def slots(self, pool: str) -> int:
        return self.pools.get(pool, DEFAULT_POOL_SLOTS)


@dataclass(frozen=True, slots=True)
class DaemonRecord:
    daemon_id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    info: Mapping[str, Any] = field(default_factory=dict)


def pick_claimable(queued: Sequence[RunRecord], active: Iterable[RunRecord], limits: Limits,
                   limit: int) -> list[RunRecord]:
    """The queued runs (oldest first) that fit the limits, given the active ones. A run waiting for a
    pool does not hold back the runs behind it that need other pools."""
    active = list(active)
    room = limit if limits.max_concurrent_runs is None else min(limit, limits.max_concurrent_runs - len(active))
    used: dict[str, int] = {}
    for run in active:
        for pool in run.pools:
            used[pool] = used.get(pool, 0) + 1
    picked: list[RunRecord] = []
    for run in queued:
        if len(picked) >= room:
            break
        if all(used.get(p, 0) < limits.slots(p) for p in run.pools):
            picked.append(run)
            for pool in run.pools:
                used[pool] = used.get(pool, 0) + 1
    return picked


class RunQueue(ABC):
    """Queued runs and the lifecycle of launched ones; `store.queue`."""

    @abstractmethod
    def enqueue(self, run: RunRecord, run_key: tuple[str, str] | None = None) -> RunRecord | None:
        """Store `run` as queued (its id must be new). With `run_key` (owner, key) used before: nothing
        is stored and None is returned, so a retry or request is queued once however often asked."""

    @abstractmethod
    def requeue_unlaunched(self, run_id: str) -> bool:
        """A run claimed by a daemon that stopped before launching it (starting, no process) goes back
        to the queue."""

    @abstractmethod
    def claim(self, daemon_id: str, limits: Limits, limit: int = 16) -> list[RunRecord]:
        """Move up to `limit` queued runs that fit `limits` to STARTING, claimed by `daemon_id`, in
        one transaction; returns them."""

    @abstractmethod
    def set_process(self, run_id: str, pid: int, host: str) -> None:
        """Record the process the daemon launched for a starting run (and a first heartbeat)."""

    @abstractmethod
    def mark_running(self, run_id: str, pid: int, host: str) -> RunRecord | None:
        """The run's process took it: STARTING (or QUEUED, for a run executed directly) -> RUNNING.
        None when the run is no longer startable (canceled meanwhile, or failed by a monitor)."""

    @abstractmethod
    def heartbeat(self, run_id: str) -> bool:
        """The run's process is alive; returns True when a cancel was requested."""

    @abstractmethod
    def request_cancel(self, run_id: str) -> RunRecord:
        """A queued run is canceled at once; an active one gets a cancel request its process obeys."""

    @abstractmethod
    def fail_active(self, run_id: str, error: str, status: RunStatus = RunStatus.FAILED) -> bool:
        """End a run that is still queued, starting or running (the daemon found its process dead):
        status, `error` and end time. False when the run had ended already."""

    @abstractmethod
    def active(self) -> list[RunRecord]:
        """Queued, starting and running runs, oldest first."""

    @abstractmethod
    def ended_since(self, after: float, statuses: Iterable[RunStatus], limit: int = 100) -> list[RunRecord]:
        """Runs that ended after `after` with one of `statuses`, in the order they ended."""

    @abstractmethod
    def daemon_heartbeat(self, daemon: DaemonRecord) -> None: ...

    @abstractmethod
    def daemons(self) -> list[DaemonRecord]: ...


def cancel_transition(run: RunRecord, now: float) -> dict[str, Any]:
    """The changes a cancel request makes to a run."""
    if run.status == RunStatus.QUEUED:
        return {"status": RunStatus.CANCELED, "ended_at": now, "cancel_requested_at": now}
    if run.status in ACTIVE_STATUSES:
        return {"cancel_requested_at": run.cancel_requested_at or now}
    raise StorageError(f"Run '{run.run_id}' has already {run.status.value}; there is nothing to cancel.")


class MemoryRunQueue(RunQueue):
    """The in-memory twin, on the runs of a MemoryEventStore."""

    def __init__(self, store: MemoryEventStore) -> None:
        self._store = store
        self._daemons: dict[str, DaemonRecord] = {}
        self._run_keys: dict[tuple[str, str], str] = store._run_keys

    def _update(self, run_id: str, **changes: Any) -> RunRecord:
        runs = self._store._runs
        runs[run_id] = dataclasses.replace(runs[run_id], **changes)
        return runs[run_id]

    def enqueue(self, run: RunRecord, run_key: tuple[str, str] | None = None) -> RunRecord | None:
        queued = dataclasses.replace(run, status=RunStatus.QUEUED, enqueued_at=run.enqueued_at or time.time())
        with self._store._lock:
            if run_key is not None:
                if run_key in self._run_keys:
                    return None
                self._run_keys[run_key] = run.run_id
            self._store.create_run(queued)
        return queued

    def requeue_unlaunched(self, run_id: str) -> bool:
        with self._store._lock:
            run = self._store._runs.get(run_id)
            if run is None or run.status != RunStatus.STARTING or run.pid is not None:
                return False
            self._update(run_id, status=RunStatus.QUEUED, claimed_by=None)
            return True

    def claim(self, daemon_id: str, limits: Limits, limit: int = 16) -> list[RunRecord]:
        with self._store._lock:
            runs = sorted(self._store._runs.values(), key=lambda r: (r.enqueued_at or r.started_at, r.run_id))
            queued = [r for r in runs if r.status == RunStatus.QUEUED]
            active = [r for r in runs if r.status in (RunStatus.STARTING, RunStatus.RUNNING)]
            return [self._update(r.run_id, status=RunStatus.STARTING, claimed_by=daemon_id)
                    for r in pick_claimable(queued, active, limits, limit)]

    def set_process(self, run_id: str, pid: int, host: str) -> None:
        with self._store._lock:
            self._update(run_id, pid=pid, host=host, heartbeat_at=time.time())

    def mark_running(self, run_id: str, pid: int, host: str) -> RunRecord | None:
        with self._store._lock:
            run = self._store._runs.get(run_id)
            if run is None or run.status not in (RunStatus.QUEUED, RunStatus.STARTING):
                return None
            now = time.time()
            return self._update(run_id, status=RunStatus.RUNNING, pid=pid, host=host, started_at=now,
                                heartbeat_at=now)

    def heartbeat(self, run_id: str) -> bool:
        with self._store._lock:
            return self._update(run_id, heartbeat_at=time.time()).cancel_requested_at is not None

    def request_cancel(self, run_id: str) -> RunRecord:
        with self._store._lock:
            run = self._store.get_run(run_id)
            return self._update(run.run_id, **cancel_transition(run, time.time()))

    def fail_active(self, run_id: str, error: str, status: RunStatus = RunStatus.FAILED) -> bool:
        with self._store._lock:
            run = self._store._runs.get(run_id)
            if run is None or run.status not in ACTIVE_STATUSES:
                return False
            self._update(run_id, status=status, error=error, ended_at=time.time())
            return True

    def active(self) -> list[RunRecord]:
        with self._store._lock:
            runs = [r for r in self._store._runs.values() if r.status in ACTIVE_STATUSES]
        return sorted(runs, key=lambda r: (r.enqueued_at or r.started_at, r.run_id))

    def ended_since(self, after: float, statuses: Iterable[RunStatus], limit: int = 100) -> list[RunRecord]:
        wanted = {RunStatus(s) for s in statuses}
        with self._store._lock:
            runs = [r for r in self._store._runs.values()
                    if r.status in wanted and r.ended_at is not None and r.ended_at > after]
        return sorted(runs, key=lambda r: (r.ended_at, r.run_id))[:limit]

    def daemon_heartbeat(self, daemon: DaemonRecord) -> None:
        with self._store._lock:
            self._daemons[daemon.daemon_id] = daemon

    def daemons(self) -> list[DaemonRecord]:
        with self._store._lock:
            return sorted(self._daemons.values(), key=lambda d: d.started_at)
