"""Declarative automation against a store: read one snapshot, evaluate, enqueue and record.

The runs an evaluation requests are enqueued in the same transaction that records the evaluation and
the per-asset states, so a daemon killed mid-tick requests them once or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from orchestrator.automation.evaluate import (
    Evaluation, LatestIndex, Snapshot, condition_of, evaluate_automation, next_states,
)
from orchestrator.automation.staleness import info_from_event
from orchestrator.definitions import Definitions
from orchestrator.keys import AssetKey
from orchestrator.launch.queue import plan_run
from orchestrator.memory import paused_gc
from orchestrator.storage.automation import EvaluationRecord
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import ACTIVE_STATUSES, RunRecord

AUTOMATION_LEASE = "__automation__"


def in_progress_assets(store: EventStore) -> frozenset[AssetKey]:
    """The assets of queued, starting and running runs."""
    return frozenset(k for run in store.queue.active() if run.status in ACTIVE_STATUSES for k in run.asset_keys)


def failed_checks(store: EventStore) -> dict[AssetKey, list[str]]:
    found: dict[AssetKey, list[str]] = {}
    for (key, name), event in store.latest_check_results().items():
        if not event.data.get("passed"):
            found.setdefault(key, []).append(name)
    return found


def load_snapshot(defs: Definitions, store: EventStore, now: float) -> Snapshot:
    conditioned = [k for k, d in defs.graph.assets.items() if condition_of(d) is not None]
    return Snapshot(
        now=now,
        latest={k: info_from_event(e) for k, e in store.latest_materializations().items()},
        in_progress=in_progress_assets(store),
        failed_checks=failed_checks(store),
        states=store.automation.asset_states(conditioned) if conditioned else {},
    )


def evaluate_now(defs: Definitions, store: EventStore, now: float | None = None,
                 only: Collection[AssetKey] | None = None) -> tuple[Evaluation, Snapshot]:
    """A dry run: what would be requested at `now`, and why (nothing is stored)."""
    with paused_gc():  # 10,000s of short-lived facts: no collection would find garbage among them
        snapshot = load_snapshot(defs, store, time.time() if now is None else now)
        return evaluate_automation(defs.graph, snapshot, only), snapshot


def run_automation(defs: Definitions, store: EventStore, now: float, owner: str,
                   lease_seconds: float = 30.0) -> EvaluationRecord | None:
    """One evaluation as the daemon does it (under a lease: one daemon at a time); None when another
    daemon holds the lease."""
    if store.triggers.acquire(AUTOMATION_LEASE, "automation", owner, lease_seconds) is None:
        return None
    try:
        started = time.perf_counter()
        evaluation, snapshot = evaluate_now(defs, store, now)
        runs: list[RunRecord] = []
        run_of: dict[AssetKey, str] = {}
        for partition, keys in evaluation.runs:
            record = plan_run(defs, store, asset_keys=keys, partition=partition, launched_by="automation",
                              selection=" ".join(map(str, keys)), tags={"automation": "declarative"})
            runs.append(record)
            run_of.update((k, record.run_id) for k in keys)
        states = next_states(evaluation, snapshot, LatestIndex(snapshot.latest), run_of)
        requested: dict[str, Any] = {
            "runs": [{"run_id": r.run_id, "assets": [str(k) for k in r.asset_keys], "partition": r.partition}
                     for r in runs],
            "reasons": {str(k): list(evaluation.decisions[k].reasons) for k in evaluation.requested},
        }
        record = EvaluationRecord(now, time.perf_counter() - started, len(evaluation.decisions), requested)
        return store.automation.commit_evaluation(record, states, runs)
    finally:
        store.triggers.release(AUTOMATION_LEASE, owner)
