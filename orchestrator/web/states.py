"""What every asset looks like now (materialized, failed, running, missing), kept up to date cheaply.

The first read takes a snapshot from the store (newest materialization and failure per asset, the
running runs, the newest result of each check); later reads only fold in the events appended since
(`events_after` on the primary key), so a catalog or graph refresh costs the new events, not the
history. Many new events at once (a big backfill) fall back to a fresh snapshot.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import Event, EventType, RunStatus

MATERIALIZED, FAILED, RUNNING, MISSING, EXTERNAL = "materialized", "failed", "running", "missing", "external"
FOLD_LIMIT = 20_000  # more new events than this: take a fresh snapshot instead
_ENDED = {EventType.MATERIALIZATION, EventType.STEP_FAILED, EventType.STEP_SKIPPED, EventType.STEP_CANCELED}
_RUN_ENDED = {EventType.RUN_SUCCEEDED, EventType.RUN_FAILED, EventType.RUN_CANCELED}
ACTIVE_RUN_STATUSES = tuple(s for s in RunStatus if s.value in ("queued", "starting", "started", "running"))


@dataclass
class AssetState:
    materialization: Event | None = None
    failure: Event | None = None
    checks: dict[str, Event] = field(default_factory=dict)

    def state(self, running: bool, executable: bool) -> str:
        if running:
            return RUNNING
        done = self.materialization.id if self.materialization else 0
        if self.failure is not None and (self.failure.id or 0) > (done or 0):
            return FAILED
        if self.materialization is not None:
            return MATERIALIZED
        return MISSING if executable else EXTERNAL


class AssetStates:
    """The per-asset states of one graph over one store; thread-safe."""

    def __init__(self, graph: AssetGraph, store: EventStore) -> None:
        self.graph = graph
        self.store = store
        self._lock = threading.Lock()
        self._cursor: int | None = None
        self._assets: dict[AssetKey, AssetState] = {}
        self._running: dict[str, set[AssetKey]] = {}  # run id -> its assets still to finish

    @property
    def materialization_cursor(self) -> int:
        """The id of the newest materialization folded in: what column lineage depends on."""
        return max((s.materialization.id or 0 for s in self._assets.values() if s.materialization), default=0)

    @property
    def cursor(self) -> int:
        """The id of the newest event folded in: the version of these states."""
        return self._cursor or 0

    def refresh(self) -> int:
        with self._lock:
            if self._cursor is None:
                self._snapshot()
            else:
                self._fold_new()
            return self._cursor or 0

    def get(self, key: AssetKey) -> AssetState:
        return self._assets.get(key) or AssetState()

    def state_of(self, key: AssetKey) -> str:
        definition = self.graph.assets[key]
        running = any(key in pending for pending in self._running.values())
        return self.get(key).state(running, definition.executable)

    def running_assets(self) -> dict[AssetKey, str]:
        """Asset -> the run it is running in."""
        return {key: run_id for run_id, pending in self._running.items() for key in pending}

    def _state(self, key: AssetKey) -> AssetState:
        found = self._assets.get(key)
        if found is None:
            found = self._assets[key] = AssetState()
        return found

    def _snapshot(self) -> None:
        cursor = self.store.max_event_id()  # read first: later events get folded in again, harmlessly
        self._assets = {}
        for key, event in self.store.latest_asset_events(EventType.MATERIALIZATION).items():
            self._state(key).materialization = event
        for key, event in self.store.latest_asset_events(EventType.STEP_FAILED).items():
            self._state(key).failure = event
        for key in self.graph.assets:
            checks = self.graph.checks_for(key)
            if not checks:
                continue
            names = {c.name for c in checks}
            state = self._state(key)
            for event in self.store.asset_events(key, [EventType.CHECK_RESULT], limit=4 * len(names)):
                name = event.data.get("check")
                if name in names and name not in state.checks:
                    state.checks[name] = event
        self._running = {}
        for status in ACTIVE_RUN_STATUSES:
            for run in self.store.list_runs(limit=1000, status=status):
                pending = set(run.asset_keys)
                for event in self.store.events_after(0, run_id=run.run_id, types=_ENDED, limit=100_000):
                    pending.discard(event.asset_key)
                self._running[run.run_id] = pending
        self._cursor = cursor

    def _fold_new(self) -> None:
        new = self.store.events_after(self._cursor or 0, limit=FOLD_LIMIT + 1)
        if len(new) > FOLD_LIMIT:
            self._snapshot()
            return
        for event in new:
            self._fold(event)
        if new:
            self._cursor = new[-1].id

    def _fold(self, event: Event) -> None:
        key = event.asset_key
        if event.type is EventType.RUN_STARTED:
            try:
                self._running[event.run_id] = set(self.store.get_run(event.run_id).asset_keys)
            except Exception:  # a run record that is gone: nothing to show as running
                pass
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
