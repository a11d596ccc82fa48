"""Schedules and sensors in the store: started/stopped state, cursors, leases, ticks and run keys.

A tick is committed in ONE transaction with the runs it requests, its run keys and the trigger's
new cursor or watermark: a daemon killed mid-tick leaves either all of it or none of it, and a tick
already stored for an instant (two daemons, or a restart) is not stored again.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from orchestrator.storage.events import RunRecord, RunStatus

if TYPE_CHECKING:
    from orchestrator.storage.base import MemoryEventStore

RUNNING, STOPPED = "running", "stopped"


class TickStatus(str, Enum):
    SUCCEEDED = "succeeded"  # requested at least one run
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TriggerState:
    name: str
    type: str
    status: str | None = None
    """running | stopped; None: never set, the definition's default applies."""
    cursor: str | None = None
    last_tick_at: float | None = None
    lease_owner: str | None = None
    lease_until: float | None = None
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Tick:
    name: str
    type: str
    tick_at: float
    status: TickStatus
    started_at: float
    ended_at: float | None = None
    run_ids: tuple[str, ...] = ()
    skip_reason: str | None = None
    error: str | None = None
    cursor: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RequestedRun:
    """A run a tick asks for; with a `run_key` used before by the same trigger it is not enqueued."""

    run: RunRecord
    run_key: str | None = None


KEEP = object()
"""`cursor=KEEP`: the tick leaves the trigger's cursor as it is."""


def settle(tick: Tick, enqueued: list[str], duplicates: list[str]) -> Tick:
    """The tick as stored: its runs, and skipped when every run it asked for had run before."""
    if tick.status is TickStatus.SUCCEEDED and not enqueued:
        reason = f"run key{'s' if len(duplicates) > 1 else ''} {', '.join(duplicates)} already used"
        return dataclasses.replace(tick, status=TickStatus.SKIPPED, skip_reason=reason, run_ids=())
    return dataclasses.replace(tick, run_ids=tuple(enqueued))


class TriggerStore(ABC):
    """`store.triggers`."""

    @abstractmethod
    def states(self) -> dict[str, TriggerState]: ...

    @abstractmethod
    def set_status(self, name: str, type_: str, status: str) -> TriggerState: ...

    @abstractmethod
    def acquire(self, name: str, type_: str, owner: str, seconds: float) -> TriggerState | None:
        """Lease the trigger to `owner` for `seconds` (renewing its own lease); None when another
        owner holds an unexpired lease. Only the holder evaluates the trigger."""

    @abstractmethod
    def release(self, name: str, owner: str) -> None: ...

    @abstractmethod
    def set_watermark(self, name: str, type_: str, last_tick_at: float) -> None:
        """Move the instant up to which a trigger's ticks are handled (never backwards)."""

    @abstractmethod
    def commit_tick(self, tick: Tick, requested: Sequence[RequestedRun] = (), cursor: object = KEEP,
                    last_tick_at: float | None = None) -> Tick | None:
        """Store the tick, enqueue its runs (skipping run keys used before), and move the cursor and
        the watermark, in one transaction. None when a tick for (name, tick_at) exists already."""

    @abstractmethod
    def ticks(self, name: str | None = None, limit: int = 50) -> list[Tick]:
        """Newest first."""

    @abstractmethod
    def run_key(self, name: str, run_key: str) -> str | None:
        """The run a trigger's run key requested, if any."""


class MemoryTriggerStore(TriggerStore):
    def __init__(self, store: MemoryEventStore) -> None:
        self._store = store
        self._states: dict[str, TriggerState] = {}
        self._ticks: list[Tick] = []
        self._run_keys: dict[tuple[str, str], str] = store._run_keys

    def _state(self, name: str, type_: str) -> TriggerState:
        return self._states.setdefault(name, TriggerState(name, type_, updated_at=time.time()))

    def states(self) -> dict[str, TriggerState]:
        with self._store._lock:
            return dict(self._states)

    def set_status(self, name: str, type_: str, status: str) -> TriggerState:
        with self._store._lock:
            state = dataclasses.replace(self._state(name, type_), status=status, updated_at=time.time())
            self._states[name] = state
            return state

    def acquire(self, name: str, type_: str, owner: str, seconds: float) -> TriggerState | None:
        now = time.time()
        with self._store._lock:
            state = self._state(name, type_)
            if state.lease_owner not in (None, owner) and (state.lease_until or 0) > now:
                return None
            self._states[name] = dataclasses.replace(state, lease_owner=owner, lease_until=now + seconds)
            return self._states[name]

    def release(self, name: str, owner: str) -> None:
        with self._store._lock:
            state = self._states.get(name)
            if state is not None and state.lease_owner == owner:
                self._states[name] = dataclasses.replace(state, lease_owner=None, lease_until=None)

    def set_watermark(self, name: str, type_: str, last_tick_at: float) -> None:
        with self._store._lock:
            state = self._state(name, type_)
            if state.last_tick_at is None or state.last_tick_at < last_tick_at:
                self._states[name] = dataclasses.replace(state, last_tick_at=last_tick_at, updated_at=time.time())

    def commit_tick(self, tick: Tick, requested: Sequence[RequestedRun] = (), cursor: object = KEEP,
                    last_tick_at: float | None = None) -> Tick | None:
        with self._store._lock:
            if any(t.name == tick.name and t.tick_at == tick.tick_at for t in self._ticks):
                return None
            enqueued, duplicates = [], []
            for request in requested:
                if request.run_key is not None and (tick.name, request.run_key) in self._run_keys:
                    duplicates.append(request.run_key)
                    continue
                self._store.create_run(dataclasses.replace(
                    request.run, status=RunStatus.QUEUED, enqueued_at=request.run.enqueued_at or time.time()))
                if request.run_key is not None:
                    self._run_keys[(tick.name, request.run_key)] = request.run.run_id
                enqueued.append(request.run.run_id)
            stored = dataclasses.replace(settle(tick, enqueued, duplicates), id=len(self._ticks) + 1)
            self._ticks.append(stored)
            state = self._state(tick.name, tick.type)
            changes: dict = {"updated_at": time.time()}
            if cursor is not KEEP:
                changes["cursor"] = cursor
            if last_tick_at is not None:
                changes["last_tick_at"] = last_tick_at
            self._states[tick.name] = dataclasses.replace(state, **changes)
            return stored

    def ticks(self, name: str | None = None, limit: int = 50) -> list[Tick]:
        with self._store._lock:
            found = [t for t in self._ticks if name is None or t.name == name]
        return found[::-1][:limit]

    def run_key(self, name: str, run_key: str) -> str | None:
        with self._store._lock:
            return self._run_keys.get((name, run_key))
