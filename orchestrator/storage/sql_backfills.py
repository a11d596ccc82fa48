"""SqlBackfillStore: backfill records in the event store's database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from orchestrator.keys import AssetKey
from orchestrator.storage.backfills import (
    BackfillRecord, BackfillStatus, BackfillStore, Chunk, ChunkStatus, resolve_id,
)
from orchestrator.storage.events import dump_json, load_json
from orchestrator.storage.schema import backfill_chunks, backfills

if TYPE_CHECKING:
    from orchestrator.storage.sql import SqlEventStore


class SqlBackfillStore(BackfillStore):
    def __init__(self, store: SqlEventStore) -> None:
        self._store = store

    def create(self, backfill: BackfillRecord, chunks: Sequence[Chunk]) -> None:
        with self._store._write() as conn:
            conn.execute(backfills.insert().values(
                backfill_id=backfill.backfill_id, selection=backfill.selection,
                exclude=backfill.exclude, range_start=backfill.start, range_end=backfill.end,
                status=backfill.status.value, created_at=backfill.created_at,
                updated_at=backfill.updated_at, options=dump_json(backfill.options), error=backfill.error,
            ))
            if chunks:
                conn.execute(backfill_chunks.insert(), [
                    {"backfill_id": backfill.backfill_id, "seq": c.seq,
                     "asset_keys": json.dumps([str(k) for k in c.assets]), "range_start": c.start,
                     "range_end": c.end, "partitions": c.partitions, "status": c.status.value,
                     "run_id": c.run_id, "error": c.error, "updated_at": c.updated_at}
                    for c in chunks
                ])

    def get(self, backfill_id: str) -> BackfillRecord:
        with self._store._read() as conn:
            ids = conn.execute(sa.select(backfills.c.backfill_id)).scalars().all()
            row = conn.execute(sa.select(backfills).where(
                backfills.c.backfill_id == resolve_id(backfill_id.strip(), ids))).one()
        return _record(row)

    def list(self, limit: int = 50) -> list[BackfillRecord]:
        stmt = sa.select(backfills).order_by(backfills.c.created_at.desc()).limit(limit)
        with self._store._read() as conn:
            return [_record(row) for row in conn.execute(stmt)]

    def chunks(self, backfill_id: str) -> list[Chunk]:
        stmt = (sa.select(backfill_chunks).where(backfill_chunks.c.backfill_id == backfill_id)
                .order_by(backfill_chunks.c.seq))
        with self._store._read() as conn:
            return [_chunk(row) for row in conn.execute(stmt)]

    def update_chunk(self, backfill_id: str, seq: int, status: ChunkStatus, run_id: str | None = None,
                     error: str | None = None) -> None:
        values = {"status": ChunkStatus(status).value, "error": error, "updated_at": time.time()}
        if run_id is not None:
            values["run_id"] = run_id
        with self._store._write() as conn:
            conn.execute(backfill_chunks.update().where(
                backfill_chunks.c.backfill_id == backfill_id, backfill_chunks.c.seq == seq).values(values))

    def set_status(self, backfill_id: str, status: BackfillStatus, error: str | None = None) -> None:
        with self._store._write() as conn:
            conn.execute(backfills.update().where(backfills.c.backfill_id == backfill_id).values(
                status=BackfillStatus(status).value, error=error, updated_at=time.time()))


def _record(row: sa.Row) -> BackfillRecord:
    return BackfillRecord(row.backfill_id, row.selection, row.exclude, row.range_start, row.range_end,
                          BackfillStatus(row.status), row.created_at, row.updated_at,
                          load_json(row.options), row.error)


def _chunk(row: sa.Row) -> Chunk:
    return Chunk(row.seq, tuple(AssetKey.parse(k) for k in json.loads(row.asset_keys)), row.range_start,
                 row.range_end, row.partitions, ChunkStatus(row.status), row.run_id, row.error,
                 row.updated_at)
