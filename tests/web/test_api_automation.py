"""The Automation page's API: schedules and sensors (start, stop, ticks), declarative-automation
evaluations and their reasons, through the same functions as `orch schedules|sensors|automation`."""

from __future__ import annotations

import datetime as dt
import time

from fastapi.testclient import TestClient

from orchestrator.automation.automation_tick import run_automation
from orchestrator.automation.ticking import tick_schedule_at, tick_sensor
from tests.web.conftest import Shop


def test_schedules_and_sensors_start_stop_and_show_their_ticks(shop: Shop, client: TestClient) -> None:
    client.get("/assets")
    headers = {"X-CSRF-Token": client.cookies["orch_csrf"]}
    page = client.get("/api/automation").json()
    [schedule] = page["schedules"]
    assert (schedule["name"], schedule["job"], schedule["cron"], schedule["status"]) == (
        "nightly_schedule", "nightly", "0 2 * * *", "stopped")
    assert [s["name"] for s in page["sensors"]] == ["new_orders"] and page["ticks"] == []
    started = client.post("/api/automation/schedule/nightly_schedule/start", headers=headers).json()
    assert started["status"] == "running"
    assert shop.store.triggers.states()["nightly_schedule"].status == "running"  # what the daemon reads
    assert client.post("/api/automation/sensor/new_orders/stop", headers=headers).json()["status"] == "stopped"
    missing = client.post("/api/automation/schedule/nightly_schedul/start", headers=headers)
    assert missing.status_code == 400 and "Did you mean 'nightly_schedule'?" in missing.json()["detail"]
    assert client.post("/api/automation/job/nightly/start", headers=headers).status_code == 422
    assert client.post("/api/automation/schedule/nightly_schedule/stop").status_code == 403  # CSRF

    tick_schedule_at(shop.defs, shop.store, shop.defs.schedules["nightly_schedule"],
                     dt.datetime(2024, 12, 2, 3, 0, tzinfo=dt.timezone.utc))
    tick_sensor(shop.defs, shop.store, shop.defs.sensors["new_orders"], time.time(), "test", force=True)
    ticks = client.get("/api/automation").json()["ticks"]
    assert {(t["name"], t["status"]) for t in ticks} == {("nightly_schedule", "succeeded"), ("new_orders", "skipped")}
    scheduled = next(t for t in ticks if t["name"] == "nightly_schedule")
    assert shop.store.get_run(scheduled["run_ids"][0]).launched_by == "schedule"
    sensor_ticks = client.get("/api/automation/ticks/sensor/new_orders").json()["ticks"]
    assert sensor_ticks[0]["skip_reason"] == "no new orders"


def test_declarative_automation_shows_each_assets_decision_and_reasons(shop: Shop, client: TestClient) -> None:
    dry = client.get("/api/automation/evaluate").json()
    [decision] = dry["assets"]
    assert decision["asset"] == "slow_report" and decision["would_run"] is True and decision["reasons"]
    assert dry["runs"] == [{"partition": None, "assets": ["slow_report"]}]
    assert client.get("/api/automation").json()["assets"][0]["result"] is None  # a dry run stores nothing
    run_automation(shop.defs, shop.store, time.time(), "test")
    page = client.get("/api/automation").json()
    [state] = page["assets"]
    assert state["result"] is True and state["requested_run_id"]
    assert page["evaluations"][0]["runs"][0]["assets"] == ["slow_report"]
