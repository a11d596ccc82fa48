"""The JSON shapes of the API: runs, events and assets as plain dicts (times are epoch seconds)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.assets import AssetDefinition
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.storage.events import Event, RunRecord

RUN_FIELDS = ("launched_by", "exclude", "parent_run_id", "attempt", "pid", "host", "heartbeat_at", "enqueued_at",
              "cancel_requested_at", "error")


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "run_id": event.run_id,
        "type": event.type.value,
        "timestamp": event.timestamp,
        "step_key": event.step_key,
        "asset_key": None if event.asset_key is None else str(event.asset_key),
        "partition": event.partition,
        "message": event.message,
        "level": level_of(event),
        "data": dict(event.data),
    }


def level_of(event: Event) -> str:
    """debug / info / warning / error: logs carry theirs; failures are errors; the rest is info."""
    if event.type.value == "log":
        return str(event.data.get("level") or "info")
    if event.type.value in ("step_failed", "run_failed"):
        return "error"
    if event.type.value in ("step_retry", "step_skipped", "step_canceled", "run_canceled"):
        return "warning"
    if event.type.value == "check_result" and not event.data.get("passed", True):
        return "warning"
    return "info"


def run_json(run: RunRecord) -> dict[str, Any]:
    found = {
        "run_id": run.run_id,
        "status": run.status.value,
        "selection": run.selection,
        "asset_keys": [str(k) for k in run.asset_keys],
        "partition": run.partition,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "tags": dict(run.tags),
    }
    for name in RUN_FIELDS:  # the run queue's fields, where this store has them
        found[name] = getattr(run, name, None)
    found["launched_by"] = found["launched_by"] or run.tags.get("launched_by") or "cli"
    return found


def json_safe(value: Any, depth: int = 0) -> Any:
    """Metadata as JSON: containers kept, anything else as its str()."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 8:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [json_safe(v, depth + 1) for v in items]
    return str(value)


def kind_label(definition: AssetDefinition) -> str:
    """dbt model / seed / snapshot / source / exposure, Python, or external."""
    if definition.kind == "python":
        return "Python"
    if definition.kind == "dbt" or definition.metadata.get("dbt_resource_type"):
        return f"dbt {definition.metadata.get('dbt_resource_type') or definition.resource_type}"
    if definition.resource_type == "source":
        return "dbt source"
    return "Python" if definition.kind == "python" else definition.kind


def partitions_json(definition: AssetDefinition) -> dict[str, Any] | None:
    partitions = definition.partitions
    if partitions is None:
        return None
    keys = partitions.keys()
    return {"description": partitions.describe(), "count": len(keys),
            "first": keys[0] if keys else None, "last": keys[-1] if keys else None}


def asset_summary(graph: AssetGraph, key: AssetKey) -> dict[str, Any]:
    definition = graph.assets[key]
    return {
        "key": str(key),
        "group": definition.group,
        "kind": kind_label(definition),
        "kinds": sorted(definition.kinds),
        "owners": list(definition.owners),
        "tags": sorted(definition.tags),
        "description": definition.description,
        "executable": definition.executable,
        "partitioned": definition.partitions is not None,
        "checks": [c.name for c in graph.checks_for(key)],
    }
