"""Live events: a running run's events reach a stream while it runs; the tail cursor over
PostgreSQL's out-of-order commits; one store tail for every open page."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from orchestrator.storage.events import Event, EventType, RunStatus
from orchestrator.web.app import create_app
from orchestrator.web.stream import GAP_SECONDS, TailCursor
from tests.web.conftest import LiveServer, Shop


def _event(i: int) -> Event:
    return Event("r", EventType.LOG, 0.0, id=i)


def test_the_tail_cursor_waits_for_ids_committed_out_of_order() -> None:
    cursor = TailCursor(floor=10)
    assert [e.id for e in cursor.take([_event(11), _event(13)], now=0.0)] == [11, 13]
    assert cursor.floor == 11  # 12 is missing: it may still commit
    assert [e.id for e in cursor.take([_event(12), _event(13)], now=1.0)] == [12]  # 13 is not sent twice
    assert cursor.floor == 13 and not cursor.seen
    cursor.take([_event(15)], now=2.0)
    assert cursor.floor == 13
    cursor.take([_event(15)], now=2.0 + GAP_SECONDS)  # 14 never came (a rolled-back insert)
    assert cursor.floor == 15


def test_a_running_runs_events_arrive_while_it_runs(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    shop.run("orders customers revenue")
    monkeypatch.setenv("SHOP_SLOW_SECONDS", "0.3")
    app = create_app(shop.defs, shop.store, home=shop.home, token="")
    result: dict[str, object] = {}
    with LiveServer(app) as server:
        worker = threading.Thread(target=lambda: result.update(run=shop.run("slow_report")))
        worker.start()
        run_id = None
        deadline = time.monotonic() + 20
        while run_id is None and time.monotonic() < deadline:  # the run shows up in the list
            runs = httpx.get(f"{server.url}/api/runs", params={"asset": "slow_report"}).json()["runs"]
            run_id = runs[0]["run_id"] if runs else None
            time.sleep(0.05)
        assert run_id, "the run never appeared"
        logs_while_running = []
        with httpx.stream("GET", f"{server.url}/api/runs/{run_id}/stream", timeout=30) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "events":
                    for sent in json.loads(line[6:]):
                        if sent["type"] == "log":
                            logs_while_running.append(shop.store.get_run(run_id).status)
                elif line.startswith("data: ") and event == "end":
                    break
        worker.join()
    assert len(logs_while_running) == 5
    assert logs_while_running[0] == RunStatus.STARTED  # seen live, not after the fact
    assert result["run"].success


def test_every_page_shares_one_tail_of_the_store(shop: Shop) -> None:
    app = create_app(shop.defs, shop.store, home=shop.home, token="")
    with LiveServer(app) as server:
        streams = [httpx.stream("GET", f"{server.url}/api/stream", timeout=30) for _ in range(3)]
        opened = [s.__enter__() for s in streams]
        try:
            deadline = time.monotonic() + 10
            while len(app.state.ctx.hub._subscribers) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(app.state.ctx.hub._subscribers) == 3
            shop.run("orders")
            for response in opened:  # each page gets the new run's events
                got = []
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        got += [e["type"] for e in json.loads(line[6:])]
                    if "run_succeeded" in got:
                        break
                assert got[0] == "run_started"
        finally:
            for s in streams:
                s.__exit__(None, None, None)
