"""The status of every partition of an asset: materialized, failed, missing, or stale.

Materializations are stored per chunk (a key or a `start...end` range), so the status is painted
range by range onto the list of keys, in event order: the cost follows the number of chunks, not
partitions x materializations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.errors import PartitionError
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.storage.backfills import ChunkStatus
from orchestrator.storage.base import EventStore

MATERIALIZED, FAILED, MISSING, STALE = "materialized", "failed", "missing", "stale"


def _span(index: dict[str, int], partition: str) -> tuple[int, int] | None:
    first, _, last = partition.partition("...")
    i, j = index.get(first), index.get(last or first)
    return None if i is None or j is None else (i, j)


def materialized_at(store: EventStore, key: AssetKey, index: dict[str, int]) -> tuple[list[float], float]:
    """Per key, when it was last materialized (0.0: never); and the last unpartitioned materialization.

    Events are painted in id order, so a later range overwrites an earlier whole run and vice versa."""
    times = [0.0] * len(index)
    whole = 0.0
    latest = sorted(store.latest_materializations([key]).values(), key=lambda e: e.id or 0)
    for event in latest:
        if event.partition is None:  # a run without partitions covered them all (a dbt incremental run)
            whole = max(whole, event.timestamp)
            times = [event.timestamp] * len(index)
            continue
        span = _span(index, event.partition)
        if span is not None:
            i, j = span
            times[i : j + 1] = [event.timestamp] * (j - i + 1)
    return times, whole


def _failed_at(store: EventStore, key: AssetKey, index: dict[str, int]) -> list[float]:
    times = [0.0] * len(index)
    for backfill in store.backfills.list(limit=1000):
        for chunk in store.backfills.chunks(backfill.backfill_id):
            if chunk.status == ChunkStatus.FAILED and key in chunk.assets and chunk.start is not None:
                span = _span(index, chunk.range_text or "")
                if span is not None:
                    i, j = span
                    times[i : j + 1] = [chunk.updated_at or 0.0] * (j - i + 1)
    return times


def partition_statuses(graph: AssetGraph, store: EventStore, key: AssetKey) -> tuple[list[str], list[str]]:
    """(keys, status of each key)."""
    definition = graph.get(key)
    if definition.partitions is None:
        raise PartitionError(f"Asset '{key}' is not partitioned.")
    keys = definition.partitions.keys()
    index = {k: i for i, k in enumerate(keys)}
    done, _ = materialized_at(store, key, index)
    failed = _failed_at(store, key, index)
    newest_upstream = [0.0] * len(keys)
    for parent in graph.parents(key):
        parent_def = graph.assets[parent]
        times, whole = materialized_at(store, parent, index)
        if parent_def.partitions is None:
            times = [whole] * len(keys)
        newest_upstream = [max(a, b) for a, b in zip(newest_upstream, times)]
    statuses = []
    for at, failed_time, upstream in zip(done, failed, newest_upstream):
        if failed_time > at:
            statuses.append(FAILED)
        elif at == 0.0:
            statuses.append(MISSING)
        elif upstream > at:
            statuses.append(STALE)
        else:
            statuses.append(MATERIALIZED)
    return keys, statuses


def as_ranges(keys: Sequence[str], statuses: Sequence[str]) -> list[dict[str, Any]]:
    """Runs of consecutive keys with one status: compact even for 100,000 partitions."""
    ranges: list[dict[str, Any]] = []
    for key, status in zip(keys, statuses):
        if ranges and ranges[-1]["status"] == status:
            ranges[-1]["end"] = key
            ranges[-1]["count"] += 1
        else:
            ranges.append({"start": key, "end": key, "status": status, "count": 1})
    return ranges


def summary(graph: AssetGraph, store: EventStore, key: AssetKey) -> dict[str, Any]:
    keys, statuses = partition_statuses(graph, store, key)
    counts = {s: 0 for s in (MATERIALIZED, STALE, FAILED, MISSING)}
    for status in statuses:
        counts[status] += 1
    return {"asset": str(key), "partitions": len(keys), "counts": counts, "ranges": as_ranges(keys, statuses)}
