"""SqlRunQueue: the run queue on the runs table (SQLite or PostgreSQL)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from orchestrator.storage.events import ACTIVE_STATUSES, RunRecord, RunStatus, dump_json, load_json
from orchestrator.storage.queue import DaemonRecord, Limits, RunQueue, cancel_transition, pick_claimable
from orchestrator.storage.schema import daemons, run_keys, runs
from orchestrator.storage.sql_rows import run_from_row

if TYPE_CHECKING:
    from orchestrator.storage.sql import SqlEventStore

_CLAIM_LOCK = 7_302_114_552_871_936_002  # pg_advisory_xact_lock key: one claim at a time (global limits)
_CLAIM_SCAN = 256  # queued runs looked at per claim, oldest first
_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_LAUNCHED = [RunStatus.STARTING.value, RunStatus.RUNNING.value]


class SqlRunQueue(RunQueue):
    def __init__(self, store: SqlEventStore) -> None:
        self._store = store

    def enqueue(self, run: RunRecord, run_key: tuple[str, str] | None = None) -> RunRecord | None:
        queued = dataclasses.replace(run, status=RunStatus.QUEUED, enqueued_at=run.enqueued_at or time.time())
        with self._store._write() as conn:
            if run_key is not None:
                stmt = self._store._dialect_insert(run_keys).values(
                    name=run_key[0], run_key=run_key[1], run_id=run.run_id, created_at=time.time())
                if conn.execute(stmt.on_conflict_do_nothing().returning(run_keys.c.run_id)).first() is None:
                    return None
            self._store._insert_run(conn, queued)
        return queued

    def requeue_unlaunched(self, run_id: str) -> bool:
        stmt = (runs.update().where(runs.c.run_id == run_id, runs.c.status == RunStatus.STARTING.value,
                                    runs.c.pid.is_(None))
                .values(status=RunStatus.QUEUED.value, claimed_by=None))
        with self._store._write() as conn:
            return conn.execute(stmt).rowcount > 0

    def claim(self, daemon_id: str, limits: Limits, limit: int = 16) -> list[RunRecord]:
        with self._store._write() as conn:
            if self._store.is_postgres:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
            active = [run_from_row(r) for r in conn.execute(
                sa.select(runs).where(runs.c.status.in_(_LAUNCHED)))]
            stmt = (sa.select(runs).where(runs.c.status == RunStatus.QUEUED.value)
                    .order_by(runs.c.enqueued_at, runs.c.run_id).limit(_CLAIM_SCAN))
            if self._store.is_postgres:
                stmt = stmt.with_for_update(skip_locked=True)
            queued = [run_from_row(r) for r in conn.execute(stmt)]
            picked = pick_claimable(queued, active, limits, limit)
            if picked:
                conn.execute(runs.update().where(runs.c.run_id.in_([r.run_id for r in picked]),
                                                 runs.c.status == RunStatus.QUEUED.value)
                             .values(status=RunStatus.STARTING.value, claimed_by=daemon_id))
        return [dataclasses.replace(r, status=RunStatus.STARTING, claimed_by=daemon_id) for r in picked]

    def set_process(self, run_id: str, pid: int, host: str) -> None:
        with self._store._write() as conn:
            conn.execute(runs.update().where(runs.c.run_id == run_id)
                         .values(pid=pid, host=host, heartbeat_at=time.time()))

    def mark_running(self, run_id: str, pid: int, host: str) -> RunRecord | None:
        now = time.time()
        stmt = (runs.update()
                .where(runs.c.run_id == run_id,
                       runs.c.status.in_([RunStatus.QUEUED.value, RunStatus.STARTING.value]))
                .values(status=RunStatus.RUNNING.value, pid=pid, host=host, started_at=now, heartbeat_at=now))
        with self._store._write() as conn:
            if conn.execute(stmt).rowcount == 0:
                return None
        return self._store.get_run(run_id)

    def heartbeat(self, run_id: str) -> bool:
        with self._store._write() as conn:
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(heartbeat_at=time.time()))
            requested = conn.execute(sa.select(runs.c.cancel_requested_at)
                                     .where(runs.c.run_id == run_id)).scalar()
        return requested is not None

    def request_cancel(self, run_id: str) -> RunRecord:
        run = self._store.get_run(run_id)  # resolves a prefix, or says there is no such run
        with self._store._write() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run.run_id)).one()
            changes = cancel_transition(run_from_row(row), time.time())
            values = {k: (v.value if isinstance(v, RunStatus) else v) for k, v in changes.items()}
            conn.execute(runs.update().where(runs.c.run_id == run.run_id, runs.c.status == row.status)
                         .values(values))
        return self._store.get_run(run.run_id)

    def fail_active(self, run_id: str, error: str, status: RunStatus = RunStatus.FAILED) -> bool:
        stmt = (runs.update().where(runs.c.run_id == run_id, runs.c.status.in_(_ACTIVE))
                .values(status=RunStatus(status).value, error=error, ended_at=time.time()))
        with self._store._write() as conn:
            return conn.execute(stmt).rowcount > 0

    def active(self) -> list[RunRecord]:
        stmt = sa.select(runs).where(runs.c.status.in_(_ACTIVE)).order_by(runs.c.enqueued_at, runs.c.run_id)
        with self._store._read() as conn:
            return [run_from_row(r) for r in conn.execute(stmt)]

    def ended_since(self, after: float, statuses: Iterable[RunStatus], limit: int = 100) -> list[RunRecord]:
        stmt = (sa.select(runs).where(runs.c.ended_at > after,
                                      runs.c.status.in_([RunStatus(s).value for s in statuses]))
                .order_by(runs.c.ended_at, runs.c.run_id).limit(limit))
        with self._store._read() as conn:
            return [run_from_row(r) for r in conn.execute(stmt)]

    def daemon_heartbeat(self, daemon: DaemonRecord) -> None:
        row = {"daemon_id": daemon.daemon_id, "host": daemon.host, "pid": daemon.pid,
               "started_at": daemon.started_at, "heartbeat_at": daemon.heartbeat_at,
               "info": dump_json(daemon.info)}
        upsert = self._store._dialect_insert(daemons).values(row)
        upsert = upsert.on_conflict_do_update(index_elements=[daemons.c.daemon_id],
                                              set_={"heartbeat_at": upsert.excluded.heartbeat_at,
                                                    "info": upsert.excluded.info})
        with self._store._write() as conn:
            conn.execute(upsert)

    def daemons(self) -> list[DaemonRecord]:
        with self._store._read() as conn:
            rows = conn.execute(sa.select(daemons).order_by(daemons.c.started_at)).all()
        return [DaemonRecord(r.daemon_id, r.host, r.pid, r.started_at, r.heartbeat_at, load_json(r.info))
                for r in rows]
