"""SqlAutomationStore: automation evaluations, per-asset automation state, freshness transitions."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from orchestrator.keys import AssetKey
from orchestrator.storage.automation import (
    AssetAutomationState, AutomationStore, EvaluationRecord, FreshnessEvent, queued,
)
from orchestrator.storage.events import dump_json, load_json
from orchestrator.storage.schema import asset_automation, automation_evaluations, freshness_events

if TYPE_CHECKING:
    from orchestrator.storage.sql import SqlEventStore

_IN_CHUNK = 500
_STATE_COLUMNS = ("evaluated_at", "result", "reasons", "requested_at", "requested_run_id",
                  "requested_fingerprint", "cron_handled_at", "data_version")


class SqlAutomationStore(AutomationStore):
    def __init__(self, store: SqlEventStore) -> None:
        self._store = store
        upsert = store._dialect_insert(asset_automation)
        self._upsert_state = upsert.on_conflict_do_update(
            index_elements=[asset_automation.c.asset_key],
            set_={c: upsert.excluded[c] for c in _STATE_COLUMNS})

    def asset_states(self, keys: Collection[AssetKey] | None = None) -> dict[AssetKey, AssetAutomationState]:
        stmt = sa.select(asset_automation)
        stmts = [stmt] if keys is None else [
            stmt.where(asset_automation.c.asset_key.in_(chunk)) for chunk in _chunks(keys)]
        found = {}
        with self._store._read() as conn:
            for s in stmts:
                for row in conn.execute(s):
                    state = _state(row)
                    found[state.asset_key] = state
        return found

    def commit_evaluation(self, record: EvaluationRecord, states: Sequence[AssetAutomationState],
                          runs: Sequence[Any] = ()) -> EvaluationRecord:
        with self._store._write() as conn:
            for run in runs:
                self._store._insert_run(conn, queued(run))
            if states:
                rows = sorted((_state_row(s) for s in states), key=lambda r: r["asset_key"])
                conn.execute(self._upsert_state, rows)
            new_id = conn.execute(automation_evaluations.insert().values(
                evaluated_at=record.evaluated_at, seconds=record.seconds, assets=record.assets,
                requested=dump_json(record.requested)).returning(automation_evaluations.c.id)).scalar()
        return EvaluationRecord(record.evaluated_at, record.seconds, record.assets, record.requested, new_id)

    def evaluations(self, limit: int = 20) -> list[EvaluationRecord]:
        stmt = sa.select(automation_evaluations).order_by(automation_evaluations.c.id.desc()).limit(limit)
        with self._store._read() as conn:
            return [EvaluationRecord(r.evaluated_at, r.seconds, r.assets, load_json(r.requested), r.id)
                    for r in conn.execute(stmt)]

    def record_freshness(self, events: Sequence[FreshnessEvent]) -> None:
        if not events:
            return
        rows = [{"asset_key": str(e.asset_key), "state": e.state, "previous": e.previous,
                 "timestamp": e.timestamp, "lag_seconds": e.lag_seconds, "message": e.message} for e in events]
        with self._store._write() as conn:
            conn.execute(freshness_events.insert(), rows)

    def freshness(self, keys: Collection[AssetKey] | None = None) -> dict[AssetKey, FreshnessEvent]:
        newest = (sa.select(sa.func.max(freshness_events.c.id).label("id"))
                  .group_by(freshness_events.c.asset_key))
        if keys is not None:
            newest = newest.where(freshness_events.c.asset_key.in_(sorted({str(k) for k in keys})))
        stmt = sa.select(freshness_events).where(freshness_events.c.id.in_(newest.scalar_subquery()))
        with self._store._read() as conn:
            return {e.asset_key: e for e in map(_freshness, conn.execute(stmt))}

    def freshness_history(self, asset_key: AssetKey | None = None, limit: int = 100) -> list[FreshnessEvent]:
        stmt = sa.select(freshness_events).order_by(freshness_events.c.id.desc()).limit(limit)
        if asset_key is not None:
            stmt = stmt.where(freshness_events.c.asset_key == str(asset_key))
        with self._store._read() as conn:
            return [_freshness(row) for row in conn.execute(stmt)]


def _chunks(keys: Collection[AssetKey]) -> list[list[str]]:
    ordered = sorted({str(k) for k in keys})
    return [ordered[i : i + _IN_CHUNK] for i in range(0, len(ordered), _IN_CHUNK)]


def _state_row(state: AssetAutomationState) -> dict[str, Any]:
    return {"asset_key": str(state.asset_key), "evaluated_at": state.evaluated_at, "result": state.result,
            "reasons": json.dumps(list(state.reasons)), "requested_at": state.requested_at,
            "requested_run_id": state.requested_run_id, "requested_fingerprint": state.requested_fingerprint,
            "cron_handled_at": state.cron_handled_at, "data_version": state.data_version}


def _state(row: sa.Row) -> AssetAutomationState:
    return AssetAutomationState(AssetKey.parse(row.asset_key), row.evaluated_at, bool(row.result),
                                tuple(json.loads(row.reasons or "[]")), row.requested_at,
                                row.requested_run_id, row.requested_fingerprint, row.cron_handled_at,
                                row.data_version)


def _freshness(row: sa.Row) -> FreshnessEvent:
    return FreshnessEvent(AssetKey.parse(row.asset_key), row.state, row.previous, row.timestamp,
                          row.lag_seconds, row.message, row.id)
