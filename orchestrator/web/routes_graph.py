"""The global asset graph: its server-side layout (cached per graph version), states, selections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from orchestrator.web.deps import Ctx, Exclude, Select, fast_json, selected
from orchestrator.web.states import STATES

router = APIRouter(tags=["graph"])


@router.get("/graph", summary="Every asset's position, group and edges (laid out on the server)",
            response_description="keys, x, y, layer, groups, group_of, edges (flat index pairs), group_boxes")
def graph(ctx: Ctx, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    etag = f'"{ctx.version}"'
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(ctx.layout_json(), media_type="application/json",
                    headers={"ETag": etag, "Cache-Control": "no-cache"})


@router.get("/graph/states", summary="Every asset's state, in the layout's key order")
def states(ctx: Ctx) -> Response:
    cursor = ctx.states.refresh()
    code = {name: i for i, name in enumerate(STATES)}
    statuses = ctx.states.statuses()
    ordered = ctx.layout_keys()
    return fast_json({"version": ctx.version, "cursor": cursor, "names": STATES,
                      "states": [code[statuses[k].state] for k in ordered],
                      "late": [i for i, k in enumerate(ordered) if statuses[k].late]})


@router.get("/select", summary="Resolve a selection (the CLI's grammar) to asset keys")
def select(ctx: Ctx, select: Select = None, exclude: Exclude = None,
           limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000) -> Response:
    keys = sorted(map(str, selected(ctx, select, exclude)))
    return fast_json({"count": len(keys), "keys": keys[:limit]})
