"""Backfill records: a backfill and its chunks, written before anything runs, updated chunk by chunk.

A chunk is one run of some assets over a range of partitions. Resuming a backfill redoes exactly the
chunks that did not commit `succeeded`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from orchestrator.errors import StorageError, did_you_mean
from orchestrator.keys import AssetKey


class BackfillStatus(str, Enum):
    REQUESTED = "requested"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELING = "canceling"
    CANCELED = "canceled"


class ChunkStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELED = "canceled"


DONE = frozenset({ChunkStatus.SUCCEEDED})


@dataclass(frozen=True, slots=True)
class Chunk:
    seq: int
    assets: tuple[AssetKey, ...]
    start: str | None
    end: str | None
    partitions: int
    status: ChunkStatus = ChunkStatus.PENDING
    run_id: str | None = None
    error: str | None = None
    updated_at: float | None = None

    @property
    def range_text(self) -> str | None:
        if self.start is None:
            return None
        return self.start if self.start == self.end else f"{self.start}...{self.end}"


@dataclass(frozen=True, slots=True)
class BackfillRecord:
    backfill_id: str
    selection: str | None
    exclude: str | None
    start: str
    end: str
    status: BackfillStatus
    created_at: float
    updated_at: float
    options: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


class UnknownBackfillError(StorageError):
    pass


class BackfillStore(ABC):
    @abstractmethod
    def create(self, backfill: BackfillRecord, chunks: Sequence[Chunk]) -> None:
        """Store a backfill and all its chunks in one transaction."""

    @abstractmethod
    def get(self, backfill_id: str) -> BackfillRecord:
        """By id or unique id prefix."""

    @abstractmethod
    def list(self, limit: int = 50) -> list[BackfillRecord]: ...

    @abstractmethod
    def chunks(self, backfill_id: str) -> list[Chunk]: ...

    @abstractmethod
    def update_chunk(self, backfill_id: str, seq: int, status: ChunkStatus, run_id: str | None = None,
                     error: str | None = None) -> None: ...

    @abstractmethod
    def set_status(self, backfill_id: str, status: BackfillStatus, error: str | None = None) -> None: ...


def resolve_id(backfill_id: str, ids: Sequence[str]) -> str:
    matches = [i for i in ids if i.startswith(backfill_id)]
    if backfill_id in matches:
        return backfill_id
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownBackfillError(f"Backfill id '{backfill_id}' is ambiguous: {', '.join(sorted(matches)[:5])}")
    raise UnknownBackfillError(f"No backfill '{backfill_id}'.{did_you_mean(backfill_id, ids)}")


class MemoryBackfillStore(BackfillStore):
    def __init__(self) -> None:
        self._backfills: dict[str, BackfillRecord] = {}
        self._chunks: dict[str, list[Chunk]] = {}
        self._lock = threading.Lock()

    def create(self, backfill: BackfillRecord, chunks: Sequence[Chunk]) -> None:
        with self._lock:
            if backfill.backfill_id in self._backfills:
                raise StorageError(f"Backfill '{backfill.backfill_id}' exists already.")
            self._backfills[backfill.backfill_id] = backfill
            self._chunks[backfill.backfill_id] = list(chunks)

    def get(self, backfill_id: str) -> BackfillRecord:
        with self._lock:
            return self._backfills[resolve_id(backfill_id, list(self._backfills))]

    def list(self, limit: int = 50) -> list[BackfillRecord]:
        with self._lock:
            return sorted(self._backfills.values(), key=lambda b: -b.created_at)[:limit]

    def chunks(self, backfill_id: str) -> list[Chunk]:
        with self._lock:
            return list(self._chunks[resolve_id(backfill_id, list(self._chunks))])

    def update_chunk(self, backfill_id: str, seq: int, status: ChunkStatus, run_id: str | None = None,
                     error: str | None = None) -> None:
        with self._lock:
            chunks = self._chunks[backfill_id]
            chunks[seq] = replace(chunks[seq], status=ChunkStatus(status), run_id=run_id or chunks[seq].run_id,
                                  error=error, updated_at=time.time())

    def set_status(self, backfill_id: str, status: BackfillStatus, error: str | None = None) -> None:
        with self._lock:
            self._backfills[backfill_id] = replace(self._backfills[backfill_id], status=BackfillStatus(status),
                                                   error=error, updated_at=time.time())
