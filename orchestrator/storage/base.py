"""The EventStore interface, its in-memory twin, and a buffer that batches appends."""

from __future__ import annotations

import dataclasses
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Sequence
from types import TracebackType
from typing import Any, Self

from orchestrator.errors import StorageError, UnknownRunError, did_you_mean
from orchestrator.keys import AssetKey
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, dump_json, load_json

LatestKey = tuple[AssetKey, str | None]


class EventStore(ABC):
    """Where runs and their events are kept; every read the UI and CLI make goes through it.

    Sub-stores in the same database: `backfills` (BackfillStore), `dynamic_partitions`
    (DynamicPartitionStore), `queue` (RunQueue: queued runs, heartbeats, daemons), `triggers`
    (TriggerStore: schedules, sensors, ticks, run keys) and `automation` (AutomationStore:
    declarative-automation evaluations, freshness transitions).
    """

    backfills: Any
    dynamic_partitions: Any
    queue: Any
    triggers: Any
    automation: Any

    @abstractmethod
    def create_run(self, run: RunRecord) -> None:
        """Record a new run; a run id already stored raises StorageError."""

    @abstractmethod
    def finish_run(self, run_id: str, status: RunStatus, ended_at: float) -> None:
        """Set a run's final status and end time (the exact id, not a prefix)."""

    @abstractmethod
    def append(self, events: Sequence[Event]) -> None:
        """Store events in one transaction, in order, updating the latest materialization per
        (asset, partition) in the same transaction. Ids given on the events are ignored."""

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id or unique id prefix; otherwise UnknownRunError."""

    @abstractmethod
    def list_runs(self, limit: int = 50, status: RunStatus | None = None,
                  statuses: Collection[RunStatus] | None = None) -> list[RunRecord]:
        """Runs newest first, of one `status` or any of `statuses` when given."""

    @abstractmethod
    def events(
        self,
        run_id: str,
        types: Collection[EventType] | None = None,
        after_id: int | None = None,
    ) -> list[Event]:
        """A run's events in id order, optionally of some types and after an id (for tailing)."""

    @abstractmethod
    def latest_materializations(
        self, asset_keys: Collection[AssetKey] | None = None
    ) -> dict[LatestKey, Event]:
        """The newest materialization per (asset, partition), for all assets or the given ones."""

    @abstractmethod
    def asset_events(self, asset_keys: Collection[AssetKey], types: Collection[EventType] = (EventType.MATERIALIZATION,),
                     after_id: int | None = None, limit: int = 1000) -> list[Event]:
        """Events of these assets (and types) after an event id, oldest first: what asset sensors read."""

    @abstractmethod
    def max_event_id(self) -> int:
        """The newest event's id (0 for an empty store)."""

    @abstractmethod
    def latest_failures(self, asset_keys: Collection[AssetKey] | None = None) -> dict[LatestKey, Event]:
        """The newest failed step (STEP_FAILED naming the asset) per (asset, partition)."""

    @abstractmethod
    def latest_check_results(
        self, asset_keys: Collection[AssetKey] | None = None
    ) -> dict[tuple[AssetKey, str], Event]:
        """The newest CHECK_RESULT per (asset, check name)."""

    @abstractmethod
    def event_count(self) -> int: ...

    # -- reads for the web UI: each one indexed, so pages stay fast with millions of events -----

    @abstractmethod
    def events_after(
        self,
        after_id: int = 0,
        *,
        limit: int = 1000,
        run_id: str | None = None,
        types: Collection[EventType] | None = None,
        step_key: str | None = None,
        asset_key: AssetKey | None = None,
    ) -> list[Event]:
        """At most `limit` events with id > `after_id`, in id order: of every run (the tail a live
        page follows) or of one run, optionally of some types, one step or one asset."""

    @abstractmethod
    def asset_history(
        self,
        asset_key: AssetKey,
        types: Collection[EventType],
        *,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Event]:
        """One asset's events of `types`, newest first, with id < `before_id` (paging back)."""

    @abstractmethod
    def latest_materialization_per_asset(self) -> dict[AssetKey, Event]:
        """Per asset, its newest materialization of any partition (one row per asset, however
        many partitions it has)."""

    @abstractmethod
    def runs_page(
        self,
        *,
        limit: int = 50,
        statuses: Collection[RunStatus] | None = None,
        asset_key: AssetKey | None = None,
        launched_by: str | None = None,
        started_after: float | None = None,
        started_before: float | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunRecord]:
        """Runs newest first, filtered; `before` = (started_at, run_id) of the last run of the
        previous page."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def pick_run_id(run_id: str, matches: Sequence[str], candidates: Callable[[], Iterable[str]]) -> str:
    """The run that a user's id or unique id prefix names, resolved like git resolves a short hash.

    `matches` are the stored ids starting with `run_id`; `candidates` gives ids for a suggestion.
    """
    if run_id in matches:
        return run_id
    if run_id and len(matches) == 1:
        return matches[0]
    if run_id and matches:
        shown = ", ".join(f"'{m}'" for m in sorted(matches)[:5])
        raise UnknownRunError(
            f"Run id prefix '{run_id}' is ambiguous: it matches {shown}. Give more characters."
        )
    raise UnknownRunError(f"No run '{run_id}'." + did_you_mean(run_id, candidates()))


def duplicate_run(run_id: str) -> StorageError:
    return StorageError(f"Run '{run_id}' already exists; start a run with a new id (new_run_id()).")


def unknown_run(run_id: str) -> UnknownRunError:
    return UnknownRunError(f"No run '{run_id}' to finish; create_run() it first.")


class MemoryEventStore(EventStore):
    """The in-memory twin: same behaviour as the SQL store, including JSON-normalised data."""

    def __init__(self) -> None:
        from orchestrator.storage.automation import MemoryAutomationStore
        from orchestrator.storage.backfills import MemoryBackfillStore
        from orchestrator.storage.dynamic_partitions import MemoryDynamicPartitionStore
        from orchestrator.storage.queue import MemoryRunQueue
        from orchestrator.storage.triggers import MemoryTriggerStore

        self._lock = threading.RLock()  # sub-stores hold it across several steps (one "transaction")
        self._runs: dict[str, RunRecord] = {}
        self._events: dict[str, list[Event]] = {}
        self._latest: dict[LatestKey, Event] = {}
        self._failures: dict[LatestKey, Event] = {}
        self._checks: dict[tuple[AssetKey, str], Event] = {}
        self._next_id = 1
        self._run_keys: dict[tuple[str, str], str] = {}  # shared by the queue and the triggers
        self.backfills = MemoryBackfillStore()
        self.dynamic_partitions = MemoryDynamicPartitionStore()
        self.queue = MemoryRunQueue(self)
        self.triggers = MemoryTriggerStore(self)
        self.automation = MemoryAutomationStore(self)

    def create_run(self, run: RunRecord) -> None:
        run = dataclasses.replace(
            run, asset_keys=tuple(run.asset_keys), tags=load_json(dump_json(run.tags)),
            config=load_json(dump_json(run.config)), pools=tuple(run.pools),
        )
        with self._lock:
            if run.run_id in self._runs:
                raise duplicate_run(run.run_id)
            self._runs[run.run_id] = run

    def finish_run(self, run_id: str, status: RunStatus, ended_at: float) -> None:
        with self._lock:
            if run_id not in self._runs:
                raise unknown_run(run_id)
            self._runs[run_id] = dataclasses.replace(
                self._runs[run_id], status=RunStatus(status), ended_at=ended_at
            )

    def append(self, events: Sequence[Event]) -> None:
        with self._lock:
            for event in events:
                data = load_json(dump_json(event.data))
                stored = dataclasses.replace(event, type=EventType(event.type), data=data, id=self._next_id)
                self._next_id += 1
                self._events.setdefault(stored.run_id, []).append(stored)
                if stored.asset_key is None:
                    continue
                if stored.type is EventType.MATERIALIZATION:
                    self._latest[(stored.asset_key, stored.partition or None)] = stored
                elif stored.type is EventType.STEP_FAILED:
                    self._failures[(stored.asset_key, stored.partition or None)] = stored
                elif stored.type is EventType.CHECK_RESULT and "check" in stored.data:
                    self._checks[(stored.asset_key, str(stored.data["check"]))] = stored

    def get_run(self, run_id: str) -> RunRecord:
        run_id = run_id.strip()
        with self._lock:
            ids = list(self._runs)
        matches = [i for i in ids if i.startswith(run_id)]
        return self._runs[pick_run_id(run_id, matches, lambda: ids)]

    def list_runs(self, limit: int = 50, status: RunStatus | None = None,
                  statuses: Collection[RunStatus] | None = None) -> list[RunRecord]:
        wanted = {RunStatus(s) for s in ([status] if status is not None else statuses or ())}
        with self._lock:
            runs = [r for r in self._runs.values() if not wanted or r.status in wanted]
        runs.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return runs[:limit]

    def events(
        self,
        run_id: str,
        types: Collection[EventType] | None = None,
        after_id: int | None = None,
    ) -> list[Event]:
        wanted = None if types is None else {EventType(t) for t in types}
        with self._lock:
            events = list(self._events.get(run_id, ()))
        if after_id is not None:
            events = [e for e in events if e.id is not None and e.id > after_id]
        return [e for e in events if wanted is None or e.type in wanted]

    def latest_materializations(
        self, asset_keys: Collection[AssetKey] | None = None
    ) -> dict[LatestKey, Event]:
        keys = None if asset_keys is None else set(asset_keys)
        with self._lock:
            return {k: e for k, e in self._latest.items() if keys is None or k[0] in keys}

    def asset_events(self, asset_keys: Collection[AssetKey], types: Collection[EventType] = (EventType.MATERIALIZATION,),
                     after_id: int | None = None, limit: int = 1000) -> list[Event]:
        keys, wanted = set(asset_keys), {EventType(t) for t in types}
        with self._lock:
            found = [e for events in self._events.values() for e in events
                     if e.asset_key in keys and e.type in wanted and (after_id is None or (e.id or 0) > after_id)]
        return sorted(found, key=lambda e: e.id or 0)[:limit]

    def max_event_id(self) -> int:
        with self._lock:
            return self._next_id - 1

    def latest_failures(self, asset_keys: Collection[AssetKey] | None = None) -> dict[LatestKey, Event]:
        keys = None if asset_keys is None else set(asset_keys)
        with self._lock:
            return {k: e for k, e in self._failures.items() if keys is None or k[0] in keys}

    def latest_check_results(
        self, asset_keys: Collection[AssetKey] | None = None
    ) -> dict[tuple[AssetKey, str], Event]:
        keys = None if asset_keys is None else set(asset_keys)
        with self._lock:
            return {k: e for k, e in self._checks.items() if keys is None or k[0] in keys}

    def event_count(self) -> int:
        with self._lock:
            return sum(len(events) for events in self._events.values())

    # -- reads for the web UI ---------------------------------------------------------------------

    def _all_events(self) -> list[Event]:
        with self._lock:
            found = [e for events in self._events.values() for e in events]
        return sorted(found, key=lambda e: e.id or 0)

    def events_after(
        self,
        after_id: int = 0,
        *,
        limit: int = 1000,
        run_id: str | None = None,
        types: Collection[EventType] | None = None,
        step_key: str | None = None,
        asset_key: AssetKey | None = None,
    ) -> list[Event]:
        if run_id is not None:
            with self._lock:
                found = list(self._events.get(run_id, ()))
        else:
            found = self._all_events()
        wanted = None if types is None else {EventType(t) for t in types}
        return [
            e for e in found
            if (e.id or 0) > after_id and (wanted is None or e.type in wanted)
            and (step_key is None or e.step_key == step_key)
            and (asset_key is None or e.asset_key == asset_key)
        ][:limit]

    def asset_history(
        self,
        asset_key: AssetKey,
        types: Collection[EventType],
        *,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Event]:
        wanted = {EventType(t) for t in types}
        found = [
            e for e in reversed(self._all_events())
            if e.asset_key == asset_key and e.type in wanted and (before_id is None or (e.id or 0) < before_id)
        ]
        return found[:limit]

    def latest_materialization_per_asset(self) -> dict[AssetKey, Event]:
        newest: dict[AssetKey, Event] = {}
        with self._lock:
            for (key, _), event in self._latest.items():
                if key not in newest or (event.id or 0) > (newest[key].id or 0):
                    newest[key] = event
        return newest

    def runs_page(
        self,
        *,
        limit: int = 50,
        statuses: Collection[RunStatus] | None = None,
        asset_key: AssetKey | None = None,
        launched_by: str | None = None,
        started_after: float | None = None,
        started_before: float | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunRecord]:
        wanted = None if statuses is None else {RunStatus(s) for s in statuses}
        with self._lock:
            found = [
                r for r in self._runs.values()
                if (wanted is None or r.status in wanted)
                and (asset_key is None or asset_key in r.asset_keys)
                and (launched_by is None or r.launched_by == launched_by)
                and (started_after is None or r.started_at >= started_after)
                and (started_before is None or r.started_at < started_before)
                and (before is None or (r.started_at, r.run_id) < before)
            ]
        found.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return found[:limit]
