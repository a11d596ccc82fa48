"""EventWriter: a thread that appends a run's events to the store in batches.

Steps hand events over and go on; the writer appends when `max_events` are pending or `max_delay`
seconds passed, so no step pays for a database commit, and events of a long step still reach the
store (and the UI) within `max_delay`. Events are appended in the order they were added.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from orchestrator.storage.base import EventStore
from orchestrator.storage.events import Event


class EventWriter:
    def __init__(self, store: EventStore, max_events: int = 500, max_delay: float = 0.25) -> None:
        self.store = store
        self.max_events = max_events
        self.max_delay = max_delay
        self._pending: list[Event] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._appending = threading.Lock()  # one append at a time, so batches keep their order
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="orch-event-writer", daemon=True)
        self._thread.start()

    def add(self, event: Event) -> None:
        with self._lock:
            self._pending.append(event)
            if len(self._pending) >= self.max_events:
                self._wake.notify()

    def add_many(self, events: Iterable[Event]) -> None:
        with self._lock:
            self._pending.extend(events)
            if len(self._pending) >= self.max_events:
                self._wake.notify()

    def flush(self) -> None:
        """Append everything added so far, now; raise what a background append raised."""
        self._append_pending()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        self.flush()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._closed or len(self._pending) >= self.max_events,
                                    timeout=self.max_delay)
                if self._closed:
                    return
            try:
                self._append_pending()
            except BaseException as exc:  # kept for flush()/close() to raise; events stay pending
                self._error = exc

    def _append_pending(self) -> None:
        with self._appending:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                self.store.append(batch)
            except BaseException:
                with self._lock:
                    self._pending[:0] = batch
                raise
