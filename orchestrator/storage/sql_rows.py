"""Rows of the SQL store <-> the store's values: events and run records."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from orchestrator.keys import AssetKey
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, dump_json, load_json


def event_row(e: Event) -> dict[str, Any]:
    return {
        "run_id": e.run_id,
        "type": EventType(e.type).value,
        "timestamp": e.timestamp,
        "step_key": e.step_key,
        "asset_key": None if e.asset_key is None else str(e.asset_key),
        "partition": e.partition,
        "message": e.message,
        "data": dump_json(e.data),
    }


def event_from_row(row: sa.Row[Any]) -> Event:
    return Event(
        run_id=row.run_id,
        type=EventType(row.type),
        timestamp=row.timestamp,
        step_key=row.step_key,
        asset_key=None if row.asset_key is None else AssetKey.parse(row.asset_key),
        partition=row.partition,
        message=row.message,
        data=load_json(row.data),
        id=row.id,
    )


def run_row(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "status": RunStatus(run.status).value,
        "selection": run.selection,
        "asset_keys": json.dumps([str(k) for k in run.asset_keys]),
        "partition": run.partition,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "tags": dump_json(run.tags),
        "exclude": run.exclude,
        "launched_by": run.launched_by,
        "parent_run_id": run.parent_run_id,
        "attempt": run.attempt,
        "enqueued_at": run.enqueued_at,
        "pid": run.pid,
        "host": run.host,
        "heartbeat_at": run.heartbeat_at,
        "pools": json.dumps(list(run.pools)) if run.pools else None,
        "config": dump_json(run.config),
        "cancel_requested_at": run.cancel_requested_at,
        "error": run.error,
        "claimed_by": run.claimed_by,
    }


def run_from_row(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        status=RunStatus(row.status),
        selection=row.selection,
        asset_keys=tuple(AssetKey.parse(k) for k in json.loads(row.asset_keys)),
        partition=row.partition,
        started_at=row.started_at,
        ended_at=row.ended_at,
        tags=load_json(row.tags),
        exclude=row.exclude,
        launched_by=row.launched_by,
        parent_run_id=row.parent_run_id,
        attempt=row.attempt or 1,
        enqueued_at=row.enqueued_at,
        pid=row.pid,
        host=row.host,
        heartbeat_at=row.heartbeat_at,
        pools=tuple(json.loads(row.pools)) if row.pools else (),
        config=load_json(row.config),
        cancel_requested_at=row.cancel_requested_at,
        error=row.error,
        claimed_by=row.claimed_by,
    )
