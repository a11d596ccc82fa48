"""The event store: runs and their events, in memory, SQLite or PostgreSQL."""

from __future__ import annotations

from orchestrator.lazy import lazy_attributes
from orchestrator.storage.base import EventStore, MemoryEventStore
from orchestrator.storage.writer import EventWriter
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, new_run_id

__getattr__ = lazy_attributes(__name__, {"open_store": "orchestrator.storage.open",
                                         "SqlEventStore": "orchestrator.storage.sql"})


__all__ = [
    "Event",
    "EventWriter",
    "EventStore",
    "EventType",
    "MemoryEventStore",
    "RunRecord",
    "RunStatus",
    "SqlEventStore",
    "new_run_id",
    "open_store",
]
