"""Each asset's status: fresh, stale (with causes), missing, failed, running, or external; and whether
it is late by its freshness policy. What `orch assets status` prints and the web UI colours by."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.automation.automation_tick import in_progress_assets
from orchestrator.automation.evaluate import LatestIndex, target_partition
from orchestrator.automation.freshness import FAIL, FreshnessPolicy, FreshnessVerdict
from orchestrator.automation.staleness import MaterializationInfo, info_from_event, stale_causes
from orchestrator.definitions import Definitions
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.storage.automation import FreshnessEvent
from orchestrator.storage.base import EventStore

FRESH, STALE, MISSING, FAILED, RUNNING, EXTERNAL = "fresh", "stale", "missing", "failed", "running", "external"


@dataclass(frozen=True, slots=True)
class AssetStatus:
    key: AssetKey
    state: str
    causes: tuple[str, ...] = ()
    freshness: str | None = None
    """pass | warn | fail, for assets with a FreshnessPolicy."""
    late: bool = False
    last_materialized_at: float | None = None
    data_version: str | None = None
    freshness_message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"asset": str(self.key), "state": self.state, "causes": list(self.causes),
                "freshness": self.freshness, "late": self.late, "freshness_message": self.freshness_message,
                "last_materialized_at": self.last_materialized_at, "data_version": self.data_version}


def policy_of(definition: Any) -> FreshnessPolicy | None:
    """The asset's FreshnessPolicy: `@asset(freshness=...)`, or dbt's `meta.freshness`."""
    if definition.freshness is not None:
        return definition.freshness
    spec = ((definition.config or {}).get("meta") or {}).get("freshness")
    return FreshnessPolicy.from_mapping(spec) if isinstance(spec, Mapping) else None


def freshness_verdicts(graph: AssetGraph, infos: Mapping[AssetKey, MaterializationInfo], now: float,
                       keys: Collection[AssetKey] | None = None) -> dict[AssetKey, FreshnessVerdict]:
    verdicts = {}
    for key in keys if keys is not None else graph.assets:
        policy = policy_of(graph.assets[key])
        if policy is not None:
            info = infos.get(key)
            verdicts[key] = policy.evaluate(info.timestamp if info else None, now)
    return verdicts


def newest_infos(graph: AssetGraph, store: EventStore, now: float) -> dict[AssetKey, MaterializationInfo]:
    """Per asset, the materialization that counts: its target partition's for partitioned assets."""
    index = LatestIndex({k: info_from_event(e) for k, e in store.latest_materializations().items()})
    found = {}
    for key, definition in graph.assets.items():
        info = index.get(key, target_partition(definition, now))
        if info is not None:
            found[key] = info
    return found


def asset_statuses(defs: Definitions, store: EventStore, now: float | None = None,
                   keys: Collection[AssetKey] | None = None) -> dict[AssetKey, AssetStatus]:
    """The status of every asset (or of `keys`), from one read of the store."""
    now = time.time() if now is None else now
    graph = defs.graph
    infos = newest_infos(graph, store, now)
    stale = stale_causes(graph, infos, list(graph.order()))
    running = in_progress_assets(store)
    failures = {}
    for (key, _partition), event in store.latest_failures().items():
        if event.timestamp > failures.get(key, (0.0, ""))[0]:
            failures[key] = (event.timestamp, event.message or "failed")
    verdicts = freshness_verdicts(graph, infos, now, keys)
    found = {}
    for key in keys if keys is not None else graph.order():
        definition = graph.assets[key]
        info = infos.get(key)
        failed = failures.get(key)
        if key in running:
            state, causes = RUNNING, ("a run of it is queued or running",)
        elif failed is not None and (info is None or failed[0] > info.timestamp):
            state, causes = FAILED, (failed[1],)
        elif info is None:
            state, causes = (EXTERNAL, ()) if not definition.executable else (MISSING, ("never materialized",))
        elif key in stale:
            state, causes = STALE, tuple(stale[key])
        else:
            state, causes = FRESH, ()
        verdict = verdicts.get(key)
        found[key] = AssetStatus(
            key, state, causes, verdict.state if verdict else None, bool(verdict and verdict.state == FAIL),
            info.timestamp if info else None, info.data_version if info else None,
            verdict.message if verdict else None)
    return found


def check_freshness(defs: Definitions, store: EventStore, now: float) -> list[FreshnessEvent]:
    """Record each freshness transition (pass / warn / fail) since the last check; returns them."""
    graph = defs.graph
    keys = [k for k, d in graph.assets.items() if policy_of(d) is not None]
    if not keys:
        return []
    verdicts = freshness_verdicts(graph, newest_infos(graph, store, now), now, keys)
    previous = store.automation.freshness(keys)
    changes = [FreshnessEvent(key, v.state, previous[key].state if key in previous else None, now, v.lag_seconds,
                              v.message)
               for key, v in verdicts.items() if key not in previous or previous[key].state != v.state]
    store.automation.record_freshness(changes)
    return changes
