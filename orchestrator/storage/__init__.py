"""The event store: runs and their events, in memory, SQLite or PostgreSQL."""

from __future__ import annotations

from orchestrator.storage.base import EventStore, MemoryEventStore
from orchestrator.storage.writer import EventWriter
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, new_run_id

# SQLAlchemy costs ~0.1 s and ~40 MB to import: only code that opens a store pays for it.
_LAZY = {"open_store": "orchestrator.storage.open", "SqlEventStore": "orchestrator.storage.sql"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'orchestrator.storage' has no attribute '{name}'")

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
