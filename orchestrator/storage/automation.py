"""Declarative automation and freshness in the store: what each evaluation decided and requested,
per-asset automation state, and freshness transitions (pass / warn / fail)."""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.keys import AssetKey
from orchestrator.storage.events import RunRecord, RunStatus

if TYPE_CHECKING:
    from orchestrator.storage.base import MemoryEventStore


@dataclass(frozen=True, slots=True)
class AssetAutomationState:
    """What the last evaluation decided for one asset, and what it last requested."""

    asset_key: AssetKey
    evaluated_at: float
    result: bool
    reasons: tuple[str, ...] = ()
    requested_at: float | None = None
    requested_run_id: str | None = None
    requested_fingerprint: str | None = None
    """The code and input versions the asset was last requested for: not requested twice for them."""
    cron_handled_at: float | None = None
    """The newest cron tick a request of this asset covered (first seen: when it was first evaluated)."""
    data_version: str | None = None
    """Its data version at this evaluation: `data_version_changed` compares with it."""

    def same_decision(self, other: AssetAutomationState | None) -> bool:
        """Equal but for the time: nothing worth writing."""
        return other is not None and (self.result, self.reasons, self.requested_at, self.requested_run_id,
                                      self.requested_fingerprint, self.cron_handled_at, self.data_version) == (
            other.result, other.reasons, other.requested_at, other.requested_run_id,
            other.requested_fingerprint, other.cron_handled_at, other.data_version)


@dataclass(frozen=True, slots=True)
class EvaluationRecord:
    evaluated_at: float
    seconds: float
    assets: int
    requested: Mapping[str, Any] = field(default_factory=dict)
    """{"runs": [{"run_id", "assets", "partition"}], "reasons": {asset: [why, ...]}}"""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class FreshnessEvent:
    asset_key: AssetKey
    state: str  # pass | warn | fail
    previous: str | None
    timestamp: float
    lag_seconds: float | None = None
    message: str | None = None
    id: int | None = None


class AutomationStore(ABC):
    """`store.automation`."""

    @abstractmethod
    def asset_states(self, keys: Collection[AssetKey] | None = None) -> dict[AssetKey, AssetAutomationState]: ...

    @abstractmethod
    def commit_evaluation(self, record: EvaluationRecord, states: Sequence[AssetAutomationState],
                          runs: Sequence[RunRecord] = ()) -> EvaluationRecord:
        """In one transaction: enqueue the runs, store the changed per-asset states and the record."""

    @abstractmethod
    def evaluations(self, limit: int = 20) -> list[EvaluationRecord]:
        """Newest first."""

    @abstractmethod
    def record_freshness(self, events: Sequence[FreshnessEvent]) -> None: ...

    @abstractmethod
    def freshness(self, keys: Collection[AssetKey] | None = None) -> dict[AssetKey, FreshnessEvent]:
        """The newest freshness transition per asset."""

    @abstractmethod
    def freshness_history(self, asset_key: AssetKey | None = None, limit: int = 100) -> list[FreshnessEvent]:
        """Newest first."""


def queued(run: RunRecord) -> RunRecord:
    return dataclasses.replace(run, status=RunStatus.QUEUED, enqueued_at=run.enqueued_at or time.time())


class MemoryAutomationStore(AutomationStore):
    def __init__(self, store: MemoryEventStore) -> None:
        self._store = store
        self._states: dict[AssetKey, AssetAutomationState] = {}
        self._evaluations: list[EvaluationRecord] = []
        self._freshness: list[FreshnessEvent] = []

    def asset_states(self, keys: Collection[AssetKey] | None = None) -> dict[AssetKey, AssetAutomationState]:
        with self._store._lock:
            if keys is None:
                return dict(self._states)
            return {k: self._states[k] for k in keys if k in self._states}

    def commit_evaluation(self, record: EvaluationRecord, states: Sequence[AssetAutomationState],
                          runs: Sequence[RunRecord] = ()) -> EvaluationRecord:
        with self._store._lock:
            for run in runs:
                self._store.create_run(queued(run))
            for state in states:
                self._states[state.asset_key] = state
            stored = dataclasses.replace(record, id=len(self._evaluations) + 1)
            self._evaluations.append(stored)
            return stored

    def evaluations(self, limit: int = 20) -> list[EvaluationRecord]:
        with self._store._lock:
            return self._evaluations[::-1][:limit]

    def record_freshness(self, events: Sequence[FreshnessEvent]) -> None:
        with self._store._lock:
            for event in events:
                self._freshness.append(dataclasses.replace(event, id=len(self._freshness) + 1))

    def freshness(self, keys: Collection[AssetKey] | None = None) -> dict[AssetKey, FreshnessEvent]:
        wanted = None if keys is None else set(keys)
        with self._store._lock:
            return {e.asset_key: e for e in self._freshness if wanted is None or e.asset_key in wanted}

    def freshness_history(self, asset_key: AssetKey | None = None, limit: int = 100) -> list[FreshnessEvent]:
        with self._store._lock:
            found = [e for e in self._freshness if asset_key is None or e.asset_key == asset_key]
        return found[::-1][:limit]
