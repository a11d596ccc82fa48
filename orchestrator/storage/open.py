"""open_store: the one place a store URL becomes an EventStore."""

from __future__ import annotations

from pathlib import Path

from orchestrator.storage.base import EventStore, MemoryEventStore
from orchestrator.storage.sql import SqlEventStore


def open_store(url: str | None, home: Path) -> EventStore:
    """Open the event store at `url`, migrating it to the current schema.

    None means SQLite at `{home}/orch.db` (home is created); `memory://` an in-memory store;
    `postgresql://user:password@host/db` PostgreSQL through psycopg 3.
    """
    if url is None:
        home.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{home / 'orch.db'}"
    if url.split(":", 1)[0] == "memory":
        return MemoryEventStore()
    return SqlEventStore(url)
