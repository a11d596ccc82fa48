"""Runs in the API: the filtered list, one run's timeline and results, its event log, its stream."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.web.conftest import Shop


def test_runs_are_listed_newest_first_and_filtered(shop: Shop, client: TestClient) -> None:
    first = shop.run("orders")
    failed = shop.run("orders explodes")
    third = shop.run("orders customers revenue")
    listed = client.get("/api/runs").json()
    assert [r["run_id"] for r in listed["runs"]] == [third.run_id, failed.run_id, first.run_id]
    assert listed["runs"][0]["launched_by"] == "api" and listed["next_before"] is None  # materialize()
    assert [r["run_id"] for r in client.get("/api/runs", params={"status": "failed"}).json()["runs"]] == [failed.run_id]
    assert [r["run_id"] for r in client.get("/api/runs", params={"asset": "revenue"}).json()["runs"]] == [third.run_id]
    assert len(client.get("/api/runs", params={"launched_by": "api"}).json()["runs"]) == 3
    assert client.get("/api/runs", params={"launched_by": "schedule"}).json()["runs"] == []
    page = client.get("/api/runs", params={"limit": 2}).json()
    rest = client.get("/api/runs", params={"limit": 2, "before": page["next_before"]}).json()
    assert [r["run_id"] for r in page["runs"] + rest["runs"]] == [third.run_id, failed.run_id, first.run_id]
    assert client.get("/api/runs", params={"since": "2999-01-01"}).json()["runs"] == []
    assert len(client.get("/api/runs", params={"since": "2000-01-01", "until": "2999-01-01T00:00"}).json()["runs"]) == 3
    for params, words in [({"status": "done"}, "Unknown run status 'done'"), ({"since": "last week"}, "'since' must be"),
                          ({"asset": "ordrs"}, "Did you mean 'orders'?"), ({"before": "x"}, "'before' must be"),
                          ({"launched_by": "me"}, "Unknown launcher 'me'")]:
        response = client.get("/api/runs", params=params)
        assert response.status_code in (400, 404) and words in response.json()["detail"], response.text


def test_a_run_page_has_its_timeline_results_errors_and_checks(shop: Shop, client: TestClient) -> None:
    run = shop.run("orders customers revenue explodes")
    detail = client.get(f"/api/runs/{run.run_id[:10]}").json()  # a unique prefix is enough
    assert detail["run"]["run_id"] == run.run_id and detail["run"]["status"] == "failed"
    nodes = {n["asset"]: n for n in detail["nodes"]}
    assert {k: n["status"] for k, n in nodes.items()} == {
        "orders": "succeeded", "customers": "succeeded", "revenue": "succeeded", "explodes": "failed"}
    assert all(n["start"] <= n["end"] for n in nodes.values())
    assert nodes["orders"]["rows"] == 3
    assert detail["counts"] == {"succeeded": 3, "failed": 1}
    [error] = detail["errors"]
    assert error["asset_key"] == "explodes" and "RuntimeError: the API is down" in error["data"]["error"]["traceback"]
    assert [c["data"]["check"] for c in detail["checks"]] == ["revenue_positive"]
    assert client.get("/api/runs/not a run").status_code == 400
    missing = client.get("/api/runs/ffffffffffff")
    assert missing.status_code == 404 and "No run 'ffffffffffff'" in missing.json()["detail"]


def test_the_event_log_pages_and_filters(shop: Shop, client: TestClient) -> None:
    run = shop.run("orders customers revenue explodes")
    everything = client.get(f"/api/runs/{run.run_id}/events").json()
    ids = [e["id"] for e in everything["events"]]
    assert ids == sorted(ids) and everything["events"][0]["type"] == "run_started" and not everything["more"]
    first = client.get(f"/api/runs/{run.run_id}/events", params={"limit": 3}).json()
    second = client.get(f"/api/runs/{run.run_id}/events", params={"limit": 3, "after": first["next_after"]}).json()
    assert [e["id"] for e in first["events"] + second["events"]] == ids[:6] and first["more"]
    errors = client.get(f"/api/runs/{run.run_id}/events", params={"level": "error"}).json()["events"]
    assert {e["type"] for e in errors} == {"step_failed", "run_failed"}
    one = client.get(f"/api/runs/{run.run_id}/events", params={"asset": "orders", "types": "materialization"}).json()
    assert [(e["asset_key"], e["type"]) for e in one["events"]] == [("orders", "materialization")]
    step = client.get(f"/api/runs/{run.run_id}/events", params={"step": "revenue"}).json()["events"]
    assert {e["step_key"] for e in step} == {"revenue"}
    assert client.get(f"/api/runs/{run.run_id}/events", params={"level": "loud"}).status_code == 400
    assert client.get(f"/api/runs/{run.run_id}/events", params={"types": "nap"}).status_code == 400


def _messages(body: str) -> list[tuple[str, str, str]]:
    found = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            found.append((fields["event"], fields.get("id", ""), fields["data"]))
    return found


def test_a_finished_runs_stream_catches_up_from_a_cursor_then_ends(shop: Shop, client: TestClient) -> None:
    run = shop.run("orders customers")
    ids = [e["id"] for e in client.get(f"/api/runs/{run.run_id}/events").json()["events"]]
    messages = _messages(client.get(f"/api/runs/{run.run_id}/stream").text)
    assert [m[0] for m in messages] == ["events", "end"]
    sent = json.loads(messages[0][2])
    assert [e["id"] for e in sent] == ids and messages[0][1] == str(ids[-1])
    resumed = _messages(client.get(f"/api/runs/{run.run_id}/stream", params={"after": ids[2]}).text)
    assert [e["id"] for e in json.loads(resumed[0][2])] == ids[3:]
    reconnected = _messages(client.get(f"/api/runs/{run.run_id}/stream", headers={"Last-Event-ID": str(ids[-2])}).text)
    assert [e["id"] for e in json.loads(reconnected[0][2])] == ids[-1:]
