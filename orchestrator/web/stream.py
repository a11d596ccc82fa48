"""Live events for the pages: one poller of the store's tail, fanned out as server-sent events.

Every open page subscribes to one hub, which reads `events_after(cursor)` (the primary key) a few
times a second, so the cost is one indexed query per tick for all pages together, never a scan.
A subscriber first catches up from its own cursor (the SSE `Last-Event-ID`), then takes the
hub's events. PostgreSQL may commit a lower id after a higher one (ids come from a sequence when
inserted, not when committed): the cursor steps past a missing id only once it has been missing
for `GAP_SECONDS`, re-reading from before it until then, and ids already seen are dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field

import anyio

from orchestrator.storage.base import EventStore
from orchestrator.storage.events import Event

POLL_SECONDS = 0.1
GAP_SECONDS = 3.0
BATCH = 2000
KEEPALIVE_SECONDS = 15.0
MAX_REMEMBERED = 50_000
REREAD = 500  # a new hub starts this many ids back: commits that landed out of order are not missed


@dataclass
class TailCursor:
    """Which ids have been seen: all up to `floor`, and those in `seen` above it."""

    floor: int = 0
    seen: set[int] = field(default_factory=set)
    gaps: dict[int, float] = field(default_factory=dict)  # missing id -> when first missed

    def take(self, events: list[Event], now: float) -> list[Event]:
        """The events not seen before; then the floor advances over seen ids and old gaps."""
        new = [e for e in events if e.id is not None and e.id > self.floor and e.id not in self.seen]
        self.seen.update(e.id for e in new if e.id is not None)
        top = max(self.seen, default=self.floor)
        for missing in range(self.floor + 1, top):
            if missing not in self.seen:
                self.gaps.setdefault(missing, now)
        while self.floor < top:
            following = self.floor + 1
            if following in self.seen:
                self.seen.discard(following)
            elif now - self.gaps.get(following, now) < GAP_SECONDS:
                break
            self.gaps.pop(following, None)
            self.floor = following
        return new


class EventHub:
    """One tail of the store shared by every live page of an app."""

    def __init__(self, store: EventStore, poll: float = POLL_SECONDS) -> None:
        self.store = store
        self.poll = poll
        self._subscribers: set[asyncio.Queue[list[Event]]] = set()
        self._task: asyncio.Task[None] | None = None
        self._cursor: TailCursor | None = None

    async def _run(self) -> None:
        assert self._cursor is not None
        while True:
            if not self._subscribers:  # no await between this check and the end: subscribe() sees None
                self._task = None
                return
            events = await anyio.to_thread.run_sync(self._read)
            fresh = self._cursor.take(events, time.monotonic())
            if fresh:
                for queue in list(self._subscribers):
                    queue.put_nowait(fresh)
            if len(events) < BATCH:
                await asyncio.sleep(self.poll)

    def _read(self) -> list[Event]:
        assert self._cursor is not None
        return self.store.events_after(self._cursor.floor, limit=BATCH)

    async def subscribe(self) -> asyncio.Queue[list[Event]]:
        queue: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._subscribers.add(queue)
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            if self._cursor is None:  # start near the store's newest event, before anyone reads
                newest = await anyio.to_thread.run_sync(self.store.max_event_id)
                self._cursor = TailCursor(max(0, newest - REREAD))
            self._task = asyncio.create_task(self._run())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[list[Event]]) -> None:
        self._subscribers.discard(queue)

    async def follow(self, after: int, read_since: Callable[[int], list[Event]],
                     wanted: Callable[[Event], bool], idle: float = KEEPALIVE_SECONDS) -> AsyncIterator[list[Event]]:
        """Batches of the events `wanted` picks, from `after` on: first those `read_since` finds
        in the store (a page at a time), then the live ones, each event once. An empty batch
        every `idle` seconds without events lets the caller send a keep-alive."""
        queue = await self.subscribe()
        delivered: set[int] = set()
        try:
            cursor = after
            while True:  # catch up
                page = await anyio.to_thread.run_sync(read_since, cursor)
                if not page:
                    break
                delivered.update(e.id for e in page if e.id is not None)
                cursor = page[-1].id or cursor
                yield page
            while True:
                try:
                    batch = await asyncio.wait_for(queue.get(), idle)
                except TimeoutError:
                    yield []
                    continue
                fresh = [e for e in batch if e.id is not None and e.id > after and e.id not in delivered and wanted(e)]
                if fresh:
                    delivered.update(e.id for e in fresh if e.id is not None)
                    if len(delivered) > MAX_REMEMBERED:  # ids far behind the tail cannot come again
                        delivered = set(sorted(delivered)[-MAX_REMEMBERED // 4:])
                    yield fresh
        finally:
            self.unsubscribe(queue)


def type_filter(types: Collection[str] | None) -> Callable[[Event], bool]:
    wanted = None if types is None else set(types)
    return lambda e: wanted is None or e.type.value in wanted
