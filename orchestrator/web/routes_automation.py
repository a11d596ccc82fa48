"""Automation: schedules and sensors with their ticks (start, stop), declarative-automation
evaluations with the reason per asset, and freshness. The same functions as `orch schedules|sensors`
and `orch automation evaluate`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from orchestrator.automation.automation_tick import evaluate_now
from orchestrator.automation.evaluate import condition_of
from orchestrator.automation.overview import SCHEDULE, SENSOR, set_trigger_status, tick_row, trigger_of, trigger_rows
from orchestrator.web.deps import Ctx

router = APIRouter(tags=["automation"])
Kind = Literal["schedule", "sensor"]


@router.get("/automation", summary="Schedules, sensors, recent ticks, evaluations, per-asset decisions")
def automation(ctx: Ctx, ticks: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    defs, store = ctx.defs, ctx.store
    conditioned = sorted((k for k, d in defs.graph.assets.items() if condition_of(d) is not None), key=str)
    states = store.automation.asset_states(conditioned) if conditioned else {}
    freshness = store.automation.freshness()
    return {
        "schedules": trigger_rows(defs, store, SCHEDULE),
        "sensors": trigger_rows(defs, store, SENSOR),
        "ticks": [tick_row(t) for t in store.triggers.ticks(None, ticks)],
        "evaluations": [{"id": e.id, "evaluated_at": e.evaluated_at, "seconds": e.seconds, "assets": e.assets,
                         "runs": e.requested.get("runs", []), "reasons": e.requested.get("reasons", {})}
                        for e in store.automation.evaluations(20)],
        "assets": [
            {"asset": str(k), "condition": str(condition_of(defs.graph.assets[k])),
             "result": states[k].result if k in states else None,
             "reasons": list(states[k].reasons) if k in states else [],
             "evaluated_at": states[k].evaluated_at if k in states else None,
             "requested_run_id": states[k].requested_run_id if k in states else None}
            for k in conditioned
        ],
        "freshness": [{"asset": str(k), "state": f.state, "previous": f.previous, "at": f.timestamp,
                       "lag_seconds": f.lag_seconds, "message": f.message}
                      for k, f in sorted(freshness.items(), key=lambda item: str(item[0]))],
    }


@router.get("/automation/ticks/{kind}/{name}", summary="A schedule's or sensor's recent ticks")
def ticks(kind: Kind, name: str, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    trigger_of(ctx.defs, kind, name)
    return {"ticks": [tick_row(t) for t in ctx.store.triggers.ticks(name, limit) if t.type == kind]}


@router.post("/automation/{kind}/{name}/start", summary="Start a schedule or sensor (the daemon ticks it)")
def start(kind: Kind, name: str, ctx: Ctx) -> dict[str, Any]:
    set_trigger_status(ctx.defs, ctx.store, kind, name, "running")
    return _row(ctx, kind, name)


@router.post("/automation/{kind}/{name}/stop", summary="Stop a schedule or sensor")
def stop(kind: Kind, name: str, ctx: Ctx) -> dict[str, Any]:
    set_trigger_status(ctx.defs, ctx.store, kind, name, "stopped")
    return _row(ctx, kind, name)


def _row(ctx: Any, kind: str, name: str) -> dict[str, Any]:
    return next(r for r in trigger_rows(ctx.defs, ctx.store, kind) if r["name"] == name)


@router.get("/automation/evaluate", summary="A dry run of declarative automation now: what would run, and why")
def evaluate(ctx: Ctx) -> dict[str, Any]:
    evaluation, _ = evaluate_now(ctx.defs, ctx.store)
    return {"at": evaluation.now,
            "assets": [{"asset": str(d.key), "would_run": d.result, "condition": d.condition,
                        "partition": d.partition, "reasons": list(d.reasons)}
                       for d in sorted(evaluation.decisions.values(), key=lambda d: str(d.key))],
            "runs": [{"partition": p, "assets": [str(k) for k in keys]} for p, keys in evaluation.runs]}
