"""Lineage for the asset page: columns and their sources, one column's lineage, the asset's neighbourhood."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from orchestrator.errors import OrchestratorError
from orchestrator.web.deps import Ctx
from orchestrator.web.layout import neighbourhood
from orchestrator.web.serialize import kind_label

router = APIRouter(tags=["lineage"])
MAX_NEIGHBOURS = 400


@router.get("/columns/{key:path}", summary="An asset's columns: types, descriptions, direct sources, filters")
def columns(key: str, ctx: Ctx) -> dict[str, Any]:
    asset_key = ctx.asset_key(key)
    definition = ctx.graph.assets[asset_key]
    documented = definition.metadata.get("columns") or {}
    latest = ctx.states.get(asset_key).materialization
    recorded = dict(map(tuple, (latest.data.get("metadata", {}).get("schema") or []))) if latest else {}
    graph, problem = ctx.column_lineage_or_error()
    lineage = graph.assets.get(str(asset_key)) if graph is not None else None
    names = (lineage.column_names if lineage is not None else None) or list(recorded) or list(documented)
    types = dict(lineage.types) if lineage is not None else {}
    sources: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    filters: list[dict[str, Any]] = []
    if graph is not None:
        found = graph.to_json({str(asset_key)})
        for edge in found["edges"]:
            sources.setdefault(edge["target"]["column"], []).append({**edge["source"], "kind": edge["kind"]})
        filters = [{**e["source"], "clause": e.get("clause")} for e in found["filter_edges"]]
    rows = []
    for name in names:
        doc = documented.get(name) or {}
        rows.append({
            "name": name,
            "type": types.get(name) or recorded.get(name) or (doc.get("data_type") if isinstance(doc, dict) else None),
            "description": doc.get("description") if isinstance(doc, dict) else None,
            "sources": sources.get(name, []),
        })
    return {
        "asset": str(asset_key), "columns": rows, "filters": filters,
        "origin": getattr(lineage, "origin", None), "reason": getattr(lineage, "reason", None),
        "error": getattr(lineage, "error", None) or problem,
        "warnings": list(getattr(lineage, "warnings", ()) or ()),
    }


@router.get("/lineage/column", summary="One column's lineage: upstream to source columns, downstream impact")
def column_lineage(
    ctx: Ctx,
    asset: Annotated[str, Query(min_length=1, max_length=2000)],
    column: Annotated[str, Query(min_length=1, max_length=2000)],
    direction: Literal["upstream", "downstream", "both"] = "both",
    depth: Annotated[int | None, Query(ge=1, le=100)] = None,
    filters: bool = True,
) -> dict[str, Any]:
    asset_key = ctx.asset_key(asset)
    graph, problem = ctx.column_lineage_or_error()
    if graph is None:
        raise OrchestratorError(problem or "No column lineage.")
    found: dict[str, Any] = {"column": {"asset": str(asset_key), "column": column}}
    for way in ("upstream", "downstream"):
        if direction in (way, "both"):
            walk = graph.upstream if way == "upstream" else graph.downstream
            edges = [e.as_dict() for e in walk(str(asset_key), column, depth, filters)]
            found[way] = [e for e in edges if e["kind"] != "filter"]
            found[f"{way}_filters"] = [e for e in edges if e["kind"] == "filter"]
    return found


@router.get("/neighbourhood/{key:path}", summary="The assets within N hops of one, for its lineage graph")
def neighbours(key: str, ctx: Ctx, depth: Annotated[int, Query(ge=1, le=10)] = 2) -> dict[str, Any]:
    asset_key = ctx.asset_key(key)
    keep, edges = neighbourhood(ctx.graph, asset_key, depth)
    while len(keep) > MAX_NEIGHBOURS and depth > 1:  # a hub: fewer hops until it fits
        depth -= 1
        keep, edges = neighbourhood(ctx.graph, asset_key, depth)
    ctx.states.refresh()
    statuses = ctx.states.statuses()
    nodes = [{"key": str(k), "group": ctx.graph.assets[k].group, "kind": kind_label(ctx.graph.assets[k]),
              "state": statuses[k].state, "late": statuses[k].late} for k in sorted(keep, key=str)]
    return {"asset": str(asset_key), "depth": depth, "truncated": len(keep) > MAX_NEIGHBOURS,
            "nodes": nodes[:MAX_NEIGHBOURS],
            "edges": [{"source": str(u), "target": str(v)} for u, v in edges]}
