"""One run read back from its events: steps and per-asset bars for a timeline, results, errors, checks."""

from __future__ import annotations

from typing import Any

from orchestrator.storage.base import EventStore
from orchestrator.storage.events import Event, EventType, RunRecord
from orchestrator.web.serialize import event_json, run_json

T = EventType
TIMELINE = (T.RUN_STARTED, T.RUN_SUCCEEDED, T.RUN_FAILED, T.RUN_CANCELED, T.STEP_STARTED, T.STEP_SUCCEEDED,
            T.STEP_FAILED, T.STEP_SKIPPED, T.STEP_RETRY, T.STEP_CANCELED, T.MATERIALIZATION, T.CHECK_RESULT)
MAX_EVENTS = 500_000
_NODE_END = {T.STEP_FAILED: "failed", T.STEP_SKIPPED: "skipped", T.STEP_CANCELED: "canceled"}


def _node(nodes: dict[str, dict[str, Any]], asset: str, step: str | None) -> dict[str, Any]:
    found = nodes.get(asset)
    if found is None:
        found = nodes[asset] = {"asset": asset, "step": step, "start": None, "end": None, "status": "pending",
                                "retries": 0, "rows": None, "message": None, "partition": None,
                                "execution_time": None, "data_version": None}
    return found


def _materialized(node: dict[str, Any], event: Event, steps: dict[str, dict[str, Any]]) -> None:
    metadata = event.data.get("metadata", {})
    node.update(end=event.timestamp, status="succeeded", partition=event.partition,
                data_version=metadata.get("data_version"), message=metadata.get("message"))
    rows = metadata.get("rows", metadata.get("rows_affected"))
    node["rows"] = rows if isinstance(rows, int) else None
    took = metadata.get("execution_time")
    if isinstance(took, (int, float)):  # a dbt node: dbt timed it, its step did not start it alone
        node["execution_time"] = float(took)
        node["start"] = event.timestamp - float(took)
    elif node["start"] is None and event.step_key in steps:
        node["start"] = steps[event.step_key]["start"]


def run_detail(record: RunRecord, store: EventStore) -> dict[str, Any]:
    events = store.events_after(0, run_id=record.run_id, types=TIMELINE, limit=MAX_EVENTS)
    steps: dict[str, dict[str, Any]] = {}
    nodes: dict[str, dict[str, Any]] = {}
    errors, checks = [], []
    ended_at = record.ended_at
    for event in events:
        asset = None if event.asset_key is None else str(event.asset_key)
        step = event.step_key
        if event.type is T.STEP_STARTED and step is not None:
            steps[step] = {"key": step, "start": event.timestamp, "end": None, "status": "running",
                           "assets": event.data.get("assets") or ([asset] if asset else [])}
            for key in steps[step]["assets"]:
                node = _node(nodes, key, step)
                node["status"] = "running"
                if asset:  # a Python step starts its asset; a batch step's nodes start when dbt says
                    node["start"] = event.timestamp
        elif event.type in (T.STEP_SUCCEEDED, T.STEP_FAILED) and step in steps and (
                asset is None or steps[step]["assets"] == [asset]):
            steps[step].update(end=event.timestamp, status="succeeded" if event.type is T.STEP_SUCCEEDED else "failed")
        if event.type is T.MATERIALIZATION and asset:
            _materialized(_node(nodes, asset, step), event, steps)
        elif event.type is T.STEP_SUCCEEDED and asset and asset in nodes:
            nodes[asset]["end"] = event.timestamp
        elif event.type in _NODE_END and asset:
            node = _node(nodes, asset, step)
            node.update(status=_NODE_END[event.type], end=event.timestamp, message=event.message)
            if node["start"] is None and step in steps:
                node["start"] = steps[step]["start"]
        elif event.type is T.STEP_RETRY and asset:
            _node(nodes, asset, step)["retries"] += 1
        if event.type in (T.STEP_FAILED, T.STEP_RETRY, T.RUN_FAILED) and (event.message or event.data.get("error")):
            errors.append(event_json(event))
        elif event.type is T.CHECK_RESULT:
            checks.append(event_json(event))
        elif event.type in (T.RUN_SUCCEEDED, T.RUN_FAILED, T.RUN_CANCELED):
            ended_at = ended_at or event.timestamp
    for key in map(str, record.asset_keys):
        _node(nodes, key, None)
    counts: dict[str, int] = {}
    for node in nodes.values():
        counts[node["status"]] = counts.get(node["status"], 0) + 1
    ordered = sorted(nodes.values(), key=lambda n: (n["start"] is None, n["start"] or 0.0, n["asset"]))
    return {
        "run": run_json(record),
        "ended_at": ended_at,
        "steps": sorted(steps.values(), key=lambda s: s["start"]),
        "nodes": ordered,
        "counts": counts,
        "errors": errors,
        "checks": checks,
        "last_event_id": events[-1].id if events else 0,
        "truncated": len(events) == MAX_EVENTS,
    }
