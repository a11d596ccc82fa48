"""Keys of dynamic partitions, added at run time (API, CLI, or an asset through its context)."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from orchestrator.storage.sql import SqlEventStore


class DynamicPartitionStore(ABC):
    @abstractmethod
    def add(self, name: str, keys: Iterable[str]) -> list[str]:
        """Add keys (existing ones are kept); returns the keys that were new."""

    @abstractmethod
    def keys(self, name: str) -> list[str]:
        """In the order they were added."""

    @abstractmethod
    def remove(self, name: str, keys: Iterable[str]) -> None: ...


class MemoryDynamicPartitionStore(DynamicPartitionStore):
    def __init__(self) -> None:
        self._keys: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, keys: Iterable[str]) -> list[str]:
        with self._lock:
            known = self._keys.setdefault(name, {})
            new = [k for k in dict.fromkeys(keys) if k not in known]
            for key in new:
                known[key] = time.time()
            return new

    def keys(self, name: str) -> list[str]:
        with self._lock:
            return list(self._keys.get(name, {}))

    def remove(self, name: str, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._keys.get(name, {}).pop(key, None)


class SqlDynamicPartitionStore(DynamicPartitionStore):
    def __init__(self, store: SqlEventStore) -> None:
        from orchestrator.storage.schema import dynamic_partitions

        self._store, self._table = store, dynamic_partitions

    def add(self, name: str, keys: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(keys))
        with self._store._write() as conn:
            known = set(conn.execute(sa.select(self._table.c.partition_key).where(
                self._table.c.name == name, self._table.c.partition_key.in_(wanted))).scalars())
            new = [k for k in wanted if k not in known]
            if new:
                now = time.time()
                conn.execute(self._table.insert(), [{"name": name, "partition_key": k, "added_at": now + i * 1e-6}
                                                    for i, k in enumerate(new)])
        return new

    def keys(self, name: str) -> list[str]:
        stmt = (sa.select(self._table.c.partition_key).where(self._table.c.name == name)
                .order_by(self._table.c.added_at, self._table.c.partition_key))
        with self._store._read() as conn:
            return list(conn.execute(stmt).scalars())

    def remove(self, name: str, keys: Iterable[str]) -> None:
        with self._store._write() as conn:
            conn.execute(self._table.delete().where(self._table.c.name == name,
                                                    self._table.c.partition_key.in_(list(keys))))
