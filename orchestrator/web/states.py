"""What every asset looks like now, kept up to date cheaply for the catalog, the graph and asset pages.

The first read takes a snapshot from the store (newest materialization per asset, newest failures,
newest check results, the active runs); later reads fold in only the events appended since
(`events_after` on the primary key), so a refresh costs the new events, not the history; many new
events at once (a big backfill) fall back to a fresh snapshot. The state shown is the one `orch assets
status` prints (`asset_statuses`: fresh, stale, missing, failed, running, external, and late), computed
again only when an event that can change it arrived, or every STATUS_SECONDS for freshness.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from orchestrator.automation.status import EXTERNAL, FAILED, FRESH, MISSING, RUNNING, STALE, AssetStatus, asset_statuses
from orchestrator.definitions import Definitions
from orchestrator.errors import UnknownRunError
from orchestrator.keys import AssetKey
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import ACTIVE_STATUSES, Event, EventType

STATES = (FRESH, STALE, FAILED, RUNNING, MISSING, EXTERNAL)
FOLD_LIMIT = 20_000  # more new events than this: take a fresh snapshot instead
STATUS_SECONDS = 30.0  # freshness (late or not) depends on the clock: recomputed this often at least
_ENDED = {EventType.MATERIALIZATION, EventType.STEP_FAILED, EventType.STEP_SKIPPED, EventType.STEP_CANCELED}
_RUN_ENDED = {EventType.RUN_SUCCEEDED, EventType.RUN_FAILED, EventType.RUN_CANCELED}
_CHANGES = _ENDED | _RUN_ENDED | {EventType.RUN_STARTED, EventType.CHECK_RESULT, EventType.STEP_STARTED}


@dataclass
class AssetState:
    materialization: Event | None = None
    failure: Event | None = None
    checks: dict[str, Event] = field(default_factory=dict)


class AssetStates:
    """The per-asset states of one definitions' graph over one store; thread-safe."""

    def __init__(self, defs: Definitions, store: EventStore) -> None:
        self.defs = defs
        self.graph = defs.graph
        self.store = store
        self._lock = threading.Lock()
        self._cursor: int | None = None
        self._version = 0  # the id of the newest event that can change a status
        self._assets: dict[AssetKey, AssetState] = {}
        self._running: dict[str, set[AssetKey]] = {}  # run id -> its assets still to finish
        self._statuses: tuple[tuple[int, int], dict[AssetKey, AssetStatus]] | None = None

    @property
    def cursor(self) -> int:
        """The id of the newest event folded in."""
        return self._cursor or 0

    @property
    def materialization_cursor(self) -> int:
        """The id of the newest materialization folded in: what column lineage depends on."""
        return max((s.materialization.id or 0 for s in self._assets.values() if s.materialization), default=0)

    def refresh(self) -> int:
        with self._lock:
            if self._cursor is None:
                self._snapshot()
            else:
                self._fold_new()
            return self._cursor or 0

    def get(self, key: AssetKey) -> AssetState:
        return self._assets.get(key) or AssetState()

    def statuses(self, now: float | None = None) -> dict[AssetKey, AssetStatus]:
        """`asset_statuses` of every asset, cached until an event that matters arrives."""
        now = time.time() if now is None else now
        stamp = (self._version, int(now // STATUS_SECONDS))
        cached = self._statuses
        if cached is None or cached[0] != stamp:
            cached = self._statuses = (stamp, asset_statuses(self.defs, self.store, now))
        return cached[1]

    def status_of(self, key: AssetKey) -> AssetStatus:
        return self.statuses()[key]

    def state_of(self, key: AssetKey) -> str:
        return self.status_of(key).state

    def running_assets(self) -> dict[AssetKey, str]:
        """Asset -> the active run it has not finished in yet."""
        return {key: run_id for run_id, pending in self._running.items() for key in pending}

    def _state(self, key: AssetKey) -> AssetState:
        found = self._assets.get(key)
        if found is None:
            found = self._assets[key] = AssetState()
        return found

    def _snapshot(self) -> None:
        cursor = self.store.max_event_id()  # read first: later events get folded in again, harmlessly
        self._assets = {}
        for key, event in self.store.latest_materialization_per_asset().items():
            self._state(key).materialization = event
        for (key, _partition), event in self.store.latest_failures().items():
            state = self._state(key)
            if state.failure is None or (event.id or 0) > (state.failure.id or 0):
                state.failure = event
        for (key, name), event in self.store.latest_check_results().items():
            self._state(key).checks[name] = event
        self._running = {}
        for run in self.store.list_runs(limit=1000, statuses=ACTIVE_STATUSES):
            pending = set(run.asset_keys)
            for event in self.store.events_after(0, run_id=run.run_id, types=_ENDED, limit=1_000_000):
                pending.discard(event.asset_key)
            self._running[run.run_id] = pending
        self._cursor = self._version = cursor

    def _fold_new(self) -> None:
        new = self.store.events_after(self._cursor or 0, limit=FOLD_LIMIT + 1)
        if len(new) > FOLD_LIMIT:
            self._snapshot()
            return
        for event in new:
            self._fold(event)
            if event.type in _CHANGES:
                self._version = event.id or self._version
        if new:
            self._cursor = new[-1].id

    def _fold(self, event: Event) -> None:
        key = event.asset_key
        if event.type is EventType.RUN_STARTED:
            self._running[event.run_id] = set(self._run_assets(event.run_id))
            return
        if event.type in _RUN_ENDED:
            self._running.pop(event.run_id, None)
            return
        if key is None:
            return
        if event.type in _ENDED and event.run_id in self._running:
            self._running[event.run_id].discard(key)
        if event.type is EventType.MATERIALIZATION:
            self._state(key).materialization = event
        elif event.type is EventType.STEP_FAILED:
            self._state(key).failure = event
        elif event.type is EventType.CHECK_RESULT and event.data.get("check"):
            self._state(key).checks[str(event.data["check"])] = event

    def _run_assets(self, run_id: str) -> tuple[AssetKey, ...]:
        try:
            return self.store.get_run(run_id).asset_keys
        except UnknownRunError:  # a run record that is gone: nothing to show as running
            return ()


def status_json(status: AssetStatus) -> dict[str, Any]:
    return {"state": status.state, "causes": list(status.causes), "late": status.late,
            "freshness": status.freshness, "freshness_message": status.freshness_message}
