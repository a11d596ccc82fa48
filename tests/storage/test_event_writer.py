"""EventWriter: steps hand events over; a thread appends them in batches, in order, to a real store."""

from __future__ import annotations

import time

import pytest

from orchestrator.storage import EventWriter, open_store
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus


def _run(store, run_id="r1"):
    store.create_run(RunRecord(run_id, RunStatus.STARTED, None, (), None, time.time()))
    return run_id


def _log(run_id, n):
    return Event(run_id, EventType.LOG, time.time(), message=str(n))


@pytest.fixture
def store(tmp_path):
    with open_store(None, tmp_path) as opened:
        yield opened


def test_events_reach_the_store_in_the_order_they_were_added(store):
    run_id = _run(store)
    writer = EventWriter(store, max_events=7, max_delay=10)
    for n in range(50):
        writer.add(_log(run_id, n))
    writer.close()
    assert [e.message for e in store.events(run_id)] == [str(n) for n in range(50)]


def test_a_long_step_s_events_arrive_within_max_delay(store):
    run_id = _run(store)
    writer = EventWriter(store, max_events=1000, max_delay=0.05)
    writer.add(_log(run_id, 1))
    deadline = time.monotonic() + 5
    while not store.events(run_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e.message for e in store.events(run_id)] == ["1"]
    writer.close()


class _Failing:
    def __init__(self, store):
        self.store, self.fail = store, True

    def append(self, events):
        if self.fail:
            raise RuntimeError("the database went away")
        self.store.append(events)


def test_a_failed_append_keeps_the_events_and_says_so_on_flush(store):
    run_id = _run(store)
    flaky = _Failing(store)
    writer = EventWriter(flaky, max_events=1000, max_delay=10)
    writer.add(_log(run_id, 1))
    with pytest.raises(RuntimeError, match="went away"):
        writer.flush()
    flaky.fail = False
    writer.close()
    assert [e.message for e in store.events(run_id)] == ["1"]
