"""State-changing calls: materialize (a run on the queue), a partition range (a backfill), cancel,
re-execute, and resume / retry / cancel a backfill. Each needs the CSRF header (see security.py)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from orchestrator.execution.backfill import create_backfill, request_cancel
from orchestrator.launch.queue import cancel_run, enqueue_run, reexecute_run
from orchestrator.web.deps import Ctx, run_id_of, selected
from orchestrator.web.launching import no_backfill_processes
from orchestrator.web.routes_backfills import backfill_json
from orchestrator.web.serialize import run_json

router = APIRouter(tags=["launch"])
DAEMON_SECONDS = 60.0  # a daemon that beat within this is alive
Text = Annotated[str | None, Field(default=None, max_length=10_000)]
Key = Annotated[str | None, Field(default=None, min_length=1, max_length=500)]


class Launch(BaseModel):
    selection: Text = Field(default=None, description="What to materialize (the CLI's grammar); all when empty.")
    exclude: Text = None
    partition: Key = Field(default=None, description="One partition key, for partitioned assets.")
    tags: dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=2000)]] = Field(default_factory=dict)


class Backfill(BaseModel):
    selection: Text = None
    exclude: Text = None
    start: str = Field(min_length=1, max_length=500, alias="from", description="First partition key (included).")
    end: str = Field(min_length=1, max_length=500, alias="to", description="Last partition key (included).")


class Reexecute(BaseModel):
    from_failure: bool = Field(default=False, description="Only the assets that did not succeed.")


def _daemons(ctx: Any) -> list[dict[str, Any]]:
    now = time.time()
    return [{"daemon_id": d.daemon_id, "host": d.host, "pid": d.pid, "heartbeat_at": d.heartbeat_at}
            for d in ctx.store.queue.daemons() if now - d.heartbeat_at < DAEMON_SECONDS]


@router.get("/launch", summary="Whether runs and backfills can start from here: daemons alive, backfills")
def launch_info(ctx: Ctx) -> dict[str, Any]:
    return {"daemons": _daemons(ctx), "backfills": ctx.backfills is not None}


@router.post("/runs", summary="Materialize: queue a run (the daemon executes it)", status_code=201)
def launch(body: Launch, ctx: Ctx) -> JSONResponse:
    selected(ctx, body.selection, body.exclude)  # a clear 400 for a bad selection, before anything
    record = enqueue_run(ctx.store, ctx.defs, selection=body.selection or None, exclude=body.exclude or None,
                         partition=body.partition or None, tags=body.tags, launched_by="ui")
    return JSONResponse({"run": run_json(record), "daemons": len(_daemons(ctx))}, status_code=201)


@router.post("/runs/{run_id}/cancel", summary="Cancel a run: a queued one at once, a running one stops")
def cancel(run_id: str, ctx: Ctx) -> dict[str, Any]:
    record = ctx.store.get_run(run_id_of(run_id))
    return {"run": run_json(cancel_run(ctx.store, record.run_id))}


@router.post("/runs/{run_id}/reexecute", summary="Queue a run again: all its assets, or those that failed",
             status_code=201)
def reexecute(run_id: str, body: Reexecute, ctx: Ctx) -> JSONResponse:
    record = ctx.store.get_run(run_id_of(run_id))
    queued = reexecute_run(ctx.store, ctx.defs, record.run_id, from_failure=body.from_failure, launched_by="ui")
    return JSONResponse({"run": run_json(queued)}, status_code=201)


@router.post("/backfills", summary="Backfill a range of partitions: stored, then run chunk by chunk",
             status_code=201)
def start_backfill(body: Backfill, ctx: Ctx) -> JSONResponse:
    if ctx.backfills is None:
        raise no_backfill_processes()
    selected(ctx, body.selection, body.exclude)
    record = create_backfill(ctx.defs, ctx.store, body.selection or None, body.exclude or None, body.start,
                             body.end, options={"launched_by": "ui"})
    pid = ctx.backfills.start(record.backfill_id)
    return JSONResponse({**backfill_json(record, ctx.store.backfills.chunks(record.backfill_id)), "pid": pid},
                        status_code=201)


@router.post("/backfills/{backfill_id}/resume", summary="Run the chunks of a backfill that have not succeeded")
def resume_backfill(backfill_id: str, ctx: Ctx) -> dict[str, Any]:
    return _restart(ctx, backfill_id, retry_failed=False)


@router.post("/backfills/{backfill_id}/retry", summary="Run the failed partitions of a backfill again")
def retry_backfill(backfill_id: str, ctx: Ctx) -> dict[str, Any]:
    return _restart(ctx, backfill_id, retry_failed=True)


def _restart(ctx: Any, backfill_id: str, retry_failed: bool) -> dict[str, Any]:
    if ctx.backfills is None:
        raise no_backfill_processes()
    record = ctx.store.backfills.get(run_id_of(backfill_id))
    pid = ctx.backfills.start(record.backfill_id, retry_failed=retry_failed)
    return {**backfill_json(record, ctx.store.backfills.chunks(record.backfill_id)), "pid": pid}


@router.post("/backfills/{backfill_id}/cancel", summary="Stop a backfill after its current chunk")
def cancel_backfill(backfill_id: str, ctx: Ctx) -> dict[str, Any]:
    record = request_cancel(ctx.store, run_id_of(backfill_id))
    return backfill_json(record, ctx.store.backfills.chunks(record.backfill_id))
