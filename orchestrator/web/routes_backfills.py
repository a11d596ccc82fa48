"""Backfills: the list, and one backfill's chunks, progress and per-partition status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orchestrator.execution.partition_status import as_ranges, partition_statuses
from orchestrator.storage.backfills import BackfillRecord, Chunk
from orchestrator.web.deps import Ctx, run_id_of

router = APIRouter(tags=["backfills"])


def backfill_json(record: BackfillRecord, chunks: list[Chunk]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    done = 0
    for chunk in chunks:
        counts[chunk.status.value] = counts.get(chunk.status.value, 0) + 1
        done += chunk.partitions if chunk.status.value == "succeeded" else 0
    total = sum(c.partitions for c in chunks)
    return {
        "backfill_id": record.backfill_id, "status": record.status.value, "selection": record.selection,
        "exclude": record.exclude, "from": record.start, "to": record.end, "created_at": record.created_at,
        "updated_at": record.updated_at, "error": record.error, "chunks": len(chunks), "chunk_counts": counts,
        "partitions": total, "partitions_done": done,
        "progress": (sum(1 for c in chunks if c.status.value == "succeeded") / len(chunks)) if chunks else 0.0,
    }


def chunk_json(chunk: Chunk) -> dict[str, Any]:
    return {"seq": chunk.seq, "assets": [str(k) for k in chunk.assets], "range": chunk.range_text,
            "start": chunk.start, "end": chunk.end, "partitions": chunk.partitions, "status": chunk.status.value,
            "run_id": chunk.run_id, "error": chunk.error, "updated_at": chunk.updated_at}


@router.get("/backfills", summary="Backfills newest first, with their progress")
def backfills(ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    store = ctx.store.backfills
    return {"backfills": [backfill_json(b, store.chunks(b.backfill_id)) for b in store.list(limit)]}


@router.get("/backfills/{backfill_id}", summary="One backfill: chunks, progress, each asset's partitions in its range")
def backfill(backfill_id: str, ctx: Ctx) -> dict[str, Any]:
    store = ctx.store.backfills
    record = store.get(run_id_of(backfill_id))
    chunks = store.chunks(record.backfill_id)
    ctx.dynamic_partitions()
    assets: dict[str, Any] = {}
    for key in sorted({k for c in chunks if c.start is not None for k in c.assets}, key=str):
        definition = ctx.graph.assets.get(key)
        if definition is None or definition.partitions is None:
            continue
        keys, statuses = partition_statuses(ctx.graph, ctx.store, key)
        try:  # the backfill's range only
            first, last = keys.index(record.start), keys.index(record.end)
        except ValueError:
            first, last = 0, len(keys) - 1
        inside_keys, inside = keys[first : last + 1], statuses[first : last + 1]
        counts: dict[str, int] = {}
        for status in inside:
            counts[status] = counts.get(status, 0) + 1
        assets[str(key)] = {"partitions": len(inside), "counts": counts, "ranges": as_ranges(inside_keys, inside)}
    return {**backfill_json(record, chunks), "chunk_list": [chunk_json(c) for c in chunks], "assets": assets,
            "options": dict(record.options)}
