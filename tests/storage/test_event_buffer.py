"""EventBuffer batches appends by count and by time, against real stores."""

from __future__ import annotations

import threading

from orchestrator.storage import Event, EventBuffer, EventStore, EventType, new_run_id


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def logs(run_id: str, n: int, start: int = 0) -> list[Event]:
    return [Event(run_id, EventType.LOG, float(i), data={"i": i}) for i in range(start, start + n)]


def test_flushes_when_max_events_are_pending(store: EventStore) -> None:
    run_id = new_run_id()
    buffer = EventBuffer(store, max_events=3, max_delay=10.0, clock=Clock())
    buffer.add(logs(run_id, 1)[0])
    buffer.add_many(logs(run_id, 1, start=1))
    assert store.event_count() == 0 and len(buffer) == 2
    buffer.add(logs(run_id, 1, start=2)[0])
    assert store.event_count() == 3 and len(buffer) == 0
    buffer.add_many(logs(run_id, 5, start=3))  # one add past the threshold flushes it all
    assert store.event_count() == 8


def test_flushes_when_an_add_comes_after_max_delay(store: EventStore) -> None:
    run_id = new_run_id()
    clock = Clock()
    buffer = EventBuffer(store, max_events=100, max_delay=0.25, clock=clock)
    buffer.add_many(logs(run_id, 2))
    clock.now = 0.25
    buffer.add_many(logs(run_id, 1, start=2))
    assert store.event_count() == 0  # not more than max_delay yet
    clock.now = 0.3
    buffer.add_many(logs(run_id, 1, start=3))
    assert store.event_count() == 4
    clock.now = 0.5  # the delay counts from the last flush
    buffer.add_many(logs(run_id, 1, start=4))
    assert store.event_count() == 4


def test_flush_and_close_store_everything_in_order(store: EventStore) -> None:
    run_id = new_run_id()
    with EventBuffer(store, max_events=1000, max_delay=60.0) as buffer:
        buffer.add_many(logs(run_id, 5))
        buffer.flush()
        assert store.event_count() == 5
        buffer.flush()  # nothing pending: no empty batch
        buffer.add_many(logs(run_id, 5, start=5))
    assert [e.data["i"] for e in store.events(run_id)] == list(range(10))


def test_threads_share_one_buffer(store: EventStore) -> None:
    buffer = EventBuffer(store, max_events=50, max_delay=0.01)
    run_ids = [new_run_id() for _ in range(4)]

    def work(run_id: str) -> None:
        for i in range(250):
            buffer.add(Event(run_id, EventType.LOG, float(i), data={"i": i}))

    threads = [threading.Thread(target=work, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    buffer.close()
    assert store.event_count() == 1000
    for run_id in run_ids:
        assert [e.data["i"] for e in store.events(run_id)] == list(range(250))
