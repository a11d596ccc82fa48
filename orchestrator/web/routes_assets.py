"""The catalog and each asset's page: definition, code, columns, history, partitions, checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from orchestrator.execution.partition_status import summary as partition_summary
from orchestrator.keys import AssetKey
from orchestrator.storage.events import Event, EventType
from orchestrator.web.deps import Ctx, Exclude, Select, fast_json, selected
from orchestrator.web.serialize import event_json, json_safe, partitions_json
from orchestrator.web.sources import asset_code
from orchestrator.web.states import AssetState, status_json

router = APIRouter(tags=["assets"])
HIDDEN_METADATA = ("columns", "column_lineage")  # shown as columns and lineage, not as metadata


def _check_counts(ctx: Any, key: AssetKey, state: AssetState) -> dict[str, int]:
    names = {c.name for c in ctx.graph.checks_for(key)}
    if not names:
        return {"passed": 0, "failed": 0, "unknown": 0}
    results = [e.data.get("passed") for n, e in state.checks.items() if n in names]
    return {"passed": sum(1 for r in results if r), "failed": sum(1 for r in results if r is False),
            "unknown": len(names) - len(results)}


def catalog_row(ctx: Any, key: AssetKey) -> dict[str, Any]:
    state = ctx.states.get(key)
    done = state.materialization
    return {
        **ctx.summary(key),
        **status_json(ctx.states.status_of(key)),
        "last_materialized_at": done.timestamp if done else None,
        "last_run_id": done.run_id if done else None,
        "checks_summary": _check_counts(ctx, key, state),
    }


@router.get("/assets", summary="The catalog: every selected asset with its state")
def assets(ctx: Ctx, select: Select = None, exclude: Exclude = None) -> Response:
    keys = selected(ctx, select, exclude)
    ctx.states.refresh()
    rows = [catalog_row(ctx, k) for k in sorted(keys, key=str)]
    return fast_json({"assets": rows, "count": len(rows), "graph_version": ctx.version, "cursor": ctx.states.cursor})


@router.get("/assets/{key:path}", summary="One asset: its definition, state and latest materialization")
def asset(key: str, ctx: Ctx) -> dict[str, Any]:
    asset_key = ctx.asset_key(key)
    definition = ctx.graph.assets[asset_key]
    ctx.states.refresh()
    ctx.dynamic_partitions()
    state = ctx.states.get(asset_key)
    latest = state.materialization
    metadata = latest.data.get("metadata", {}) if latest else {}
    return {
        **catalog_row(ctx, asset_key),
        "metadata": json_safe({k: v for k, v in definition.metadata.items() if k not in HIDDEN_METADATA}),
        "code_version": definition.code_version,
        "io_manager": definition.io_manager,
        "path": definition.path,
        "origin": definition.origin,
        "partitions": partitions_json(definition),
        "upstream": sorted(map(str, ctx.graph.parents(asset_key))),
        "downstream": sorted(map(str, ctx.graph.children(asset_key))),
        "latest_materialization": event_json(latest) if latest else None,
        "data_version": metadata.get("data_version"),
        "snapshot_id": metadata.get("snapshot_id"),
        "last_failure": event_json(state.failure) if state.failure else None,
        "running_in": ctx.states.running_assets().get(asset_key),
        "checks": [
            {"name": c.name, "blocking": c.blocking, "description": c.description,
             "latest": event_json(state.checks[c.name]) if c.name in state.checks else None}
            for c in ctx.graph.checks_for(asset_key)
        ],
    }


@router.get("/materializations/{key:path}", summary="An asset's materializations, newest first, with durations")
def materializations(
    key: str, ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
    before: Annotated[int | None, Query(ge=1, description="Page back: events with an id below this.")] = None,
) -> Response:
    asset_key = ctx.asset_key(key)
    found = ctx.store.asset_history(asset_key, [EventType.MATERIALIZATION], limit=limit, before_id=before)
    started = _step_starts(ctx, asset_key, found)
    rows = []
    for event in found:
        row = event_json(event)
        row["duration"] = _duration(event, started)
        rows.append(row)
    return fast_json({"materializations": rows, "next_before": found[-1].id if len(found) == limit else None})


def _step_starts(ctx: Any, key: AssetKey, found: list[Event]) -> dict[tuple[str, str | None], float]:
    """When each run's step of a Python asset started: (run, partition) -> time."""
    if not found:
        return {}
    starts = ctx.store.asset_history(key, [EventType.STEP_STARTED], limit=len(found) * 2,
                                    before_id=(found[0].id or 0) + 1)
    return {(e.run_id, e.partition): e.timestamp for e in starts}


def _duration(event: Event, started: dict[tuple[str, str | None], float]) -> float | None:
    metadata = event.data.get("metadata", {})
    if isinstance(metadata.get("execution_time"), (int, float)):  # dbt's own timing of the node
        return float(metadata["execution_time"])
    begin = started.get((event.run_id, event.partition))
    return round(event.timestamp - begin, 4) if begin is not None else None


@router.get("/checks/{key:path}", summary="An asset's checks with their recent results")
def checks(key: str, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    asset_key = ctx.asset_key(key)
    definitions = ctx.graph.checks_for(asset_key)
    results = ctx.store.asset_history(asset_key, [EventType.CHECK_RESULT], limit=limit * max(1, len(definitions)))
    history: dict[str, list[dict[str, Any]]] = {c.name: [] for c in definitions}
    for event in results:
        name = str(event.data.get("check"))
        if len(history.setdefault(name, [])) < limit:
            history[name].append(event_json(event))
    by_name = {c.name: c for c in definitions}
    return {"checks": [
        {"name": name, "blocking": getattr(by_name.get(name), "blocking", False),
         "description": getattr(by_name.get(name), "description", None), "defined": name in by_name,
         "results": rows}
        for name, rows in history.items()
    ]}


@router.get("/partitions/{key:path}", summary="Partition health: ranges of materialized, failed, stale, missing")
def partitions(key: str, ctx: Ctx) -> dict[str, Any]:
    asset_key = ctx.asset_key(key)
    ctx.dynamic_partitions()
    if ctx.graph.assets[asset_key].partitions is None:
        return {"asset": str(asset_key), "partitions": 0, "counts": {}, "ranges": []}
    return partition_summary(ctx.graph, ctx.store, asset_key)


@router.get("/code/{key:path}", summary="An asset's Python source, or its raw and compiled SQL")
def code(key: str, ctx: Ctx) -> dict[str, Any]:
    asset_key = ctx.asset_key(key)
    definition = ctx.graph.assets[asset_key]
    compiled = problem = None
    if definition.fn is None and definition.path and definition.path.endswith(".sql"):
        graph, problem = ctx.column_lineage_or_error()
        compiled = getattr(graph, "sql", {}).get(str(asset_key)) if graph is not None else None
    found = asset_code(definition, ctx.roots, ctx.defs.root, compiled)
    if problem:
        found["compiled_error"] = problem
    return found
