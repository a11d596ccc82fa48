"""SqlTriggerStore: schedules' and sensors' state, ticks and run keys (SQLite or PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from orchestrator.storage.events import RunStatus
from orchestrator.storage.schema import run_keys, ticks, triggers
from orchestrator.storage.triggers import (
    KEEP, RequestedRun, Tick, TickStatus, TriggerState, TriggerStore, settle,
)

if TYPE_CHECKING:
    from orchestrator.storage.sql import SqlEventStore


class SqlTriggerStore(TriggerStore):
    def __init__(self, store: SqlEventStore) -> None:
        self._store = store

    def _ensure(self, conn: sa.Connection, name: str, type_: str) -> None:
        stmt = self._store._dialect_insert(triggers).values(name=name, type=type_, updated_at=time.time())
        conn.execute(stmt.on_conflict_do_nothing())

    def _get(self, conn: sa.Connection, name: str) -> TriggerState:
        return _state(conn.execute(sa.select(triggers).where(triggers.c.name == name)).one())

    def states(self) -> dict[str, TriggerState]:
        with self._store._read() as conn:
            return {row.name: _state(row) for row in conn.execute(sa.select(triggers))}

    def set_status(self, name: str, type_: str, status: str) -> TriggerState:
        with self._store._write() as conn:
            self._ensure(conn, name, type_)
            conn.execute(triggers.update().where(triggers.c.name == name)
                         .values(status=status, updated_at=time.time()))
            return self._get(conn, name)

    def acquire(self, name: str, type_: str, owner: str, seconds: float) -> TriggerState | None:
        now = time.time()
        with self._store._write() as conn:
            self._ensure(conn, name, type_)
            taken = conn.execute(
                triggers.update()
                .where(triggers.c.name == name,
                       sa.or_(triggers.c.lease_owner.is_(None), triggers.c.lease_owner == owner,
                              triggers.c.lease_until < now))
                .values(lease_owner=owner, lease_until=now + seconds)
            ).rowcount
            return self._get(conn, name) if taken else None

    def release(self, name: str, owner: str) -> None:
        with self._store._write() as conn:
            conn.execute(triggers.update().where(triggers.c.name == name, triggers.c.lease_owner == owner)
                         .values(lease_owner=None, lease_until=None))

    def set_watermark(self, name: str, type_: str, last_tick_at: float) -> None:
        with self._store._write() as conn:
            self._ensure(conn, name, type_)
            conn.execute(triggers.update().where(
                triggers.c.name == name,
                sa.or_(triggers.c.last_tick_at.is_(None), triggers.c.last_tick_at < last_tick_at),
            ).values(last_tick_at=last_tick_at, updated_at=time.time()))

    def commit_tick(self, tick: Tick, requested: Sequence[RequestedRun] = (), cursor: object = KEEP,
                    last_tick_at: float | None = None) -> Tick | None:
        insert = self._store._dialect_insert
        with self._store._write() as conn:
            self._ensure(conn, tick.name, tick.type)
            claimed = conn.execute(insert(ticks).values(_tick_row(tick)).on_conflict_do_nothing()
                                   .returning(ticks.c.id)).first()
            if claimed is None:
                return None
            enqueued, duplicates = [], []
            for request in requested:
                if request.run_key is not None:
                    new_key = conn.execute(insert(run_keys).values(
                        name=tick.name, run_key=request.run_key, run_id=request.run.run_id,
                        created_at=time.time()).on_conflict_do_nothing().returning(run_keys.c.run_id)).first()
                    if new_key is None:
                        duplicates.append(request.run_key)
                        continue
                run = dataclasses.replace(request.run, status=RunStatus.QUEUED,
                                          enqueued_at=request.run.enqueued_at or time.time())
                self._store._insert_run(conn, run)
                enqueued.append(run.run_id)
            stored = dataclasses.replace(settle(tick, enqueued, duplicates), id=claimed.id)
            conn.execute(ticks.update().where(ticks.c.id == claimed.id).values(
                status=stored.status.value, run_ids=json.dumps(list(stored.run_ids)),
                skip_reason=stored.skip_reason))
            changes: dict[str, Any] = {"updated_at": time.time()}
            if cursor is not KEEP:
                changes["cursor"] = cursor
            if last_tick_at is not None:
                changes["last_tick_at"] = last_tick_at
            conn.execute(triggers.update().where(triggers.c.name == tick.name).values(changes))
            return stored

    def ticks(self, name: str | None = None, limit: int = 50) -> list[Tick]:
        stmt = sa.select(ticks).order_by(ticks.c.id.desc()).limit(limit)
        if name is not None:
            stmt = stmt.where(ticks.c.name == name)
        with self._store._read() as conn:
            return [_tick(row) for row in conn.execute(stmt)]

    def run_key(self, name: str, run_key: str) -> str | None:
        stmt = sa.select(run_keys.c.run_id).where(run_keys.c.name == name, run_keys.c.run_key == run_key)
        with self._store._read() as conn:
            return conn.execute(stmt).scalar()


def _state(row: sa.Row) -> TriggerState:
    return TriggerState(row.name, row.type, row.status, row.cursor, row.last_tick_at, row.lease_owner,
                        row.lease_until, row.updated_at)


def _tick_row(tick: Tick) -> dict[str, Any]:
    return {"name": tick.name, "type": tick.type, "tick_at": tick.tick_at, "status": tick.status.value,
            "started_at": tick.started_at, "ended_at": tick.ended_at or time.time(),
            "run_ids": json.dumps(list(tick.run_ids)), "skip_reason": tick.skip_reason, "error": tick.error,
            "cursor": tick.cursor}


def _tick(row: sa.Row) -> Tick:
    return Tick(row.name, row.type, row.tick_at, TickStatus(row.status), row.started_at, row.ended_at,
                tuple(json.loads(row.run_ids or "[]")), row.skip_reason, row.error, row.cursor, row.id)
