"""Starting and stopping work from the API: runs on the queue (validated first), cancel, re-execute,
and a backfill that runs in a child process of the same workspace."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from orchestrator import materialize
from orchestrator.storage.events import RunStatus
from orchestrator.storage.open import open_store
from orchestrator.web.app import create_app
from orchestrator.web.launching import BackfillProcesses
from tests.web.conftest import LOCAL, SHOP, Shop


def _csrf(client: TestClient) -> dict[str, str]:
    client.get("/assets")
    return {"X-CSRF-Token": client.cookies["orch_csrf"]}


def test_materialize_queues_a_validated_run(shop: Shop, client: TestClient) -> None:
    headers = _csrf(client)
    response = client.post("/api/runs", json={"selection": "key:revenue"}, headers=headers)
    assert response.status_code == 201, response.text
    run = response.json()["run"]
    assert run["status"] == "queued" and run["launched_by"] == "ui" and run["asset_keys"] == ["revenue"]
    assert response.json()["daemons"] == 0  # the page then says no daemon is running
    assert shop.store.get_run(run["run_id"]).status == RunStatus.QUEUED
    one_day = client.post("/api/runs", json={"selection": "daily_sales", "partition": "2024-01-03"}, headers=headers)
    assert one_day.status_code == 201 and one_day.json()["run"]["partition"] == "2024-01-03"
    for body, words in [({"selection": "+revenu"}, "Did you mean 'revenue'?"),
                        ({"selection": "daily_sales", "partition": "1999-01-01"}, "not one of the 60 partitions"),
                        ({"selection": "daily_sales"}, "pass a partition"),
                        ({"selection": "external/crm"}, "another system materializes")]:
        refused = client.post("/api/runs", json=body, headers=headers)
        assert refused.status_code == 400 and words in refused.json()["detail"], refused.text
    assert client.post("/api/runs", json={"selection": "orders"}).status_code == 403  # no CSRF header
    assert client.post("/api/runs", json={"partition": ""}, headers=headers).status_code == 422


def test_cancel_and_reexecute(shop: Shop, client: TestClient) -> None:
    headers = _csrf(client)
    queued = client.post("/api/runs", json={"selection": "orders"}, headers=headers).json()["run"]
    canceled = client.post(f"/api/runs/{queued['run_id']}/cancel", headers=headers).json()["run"]
    assert canceled["status"] == "canceled"
    failed = shop.run("orders explodes")
    again = client.post(f"/api/runs/{failed.run_id}/reexecute", json={"from_failure": True}, headers=headers)
    assert again.status_code == 201
    record = again.json()["run"]
    assert record["asset_keys"] == ["explodes"] and record["parent_run_id"] == failed.run_id
    whole = client.post(f"/api/runs/{failed.run_id}/reexecute", json={}, headers=headers).json()["run"]
    assert whole["asset_keys"] == ["orders", "explodes"]
    assert client.post("/api/runs/nope/cancel", headers=headers).status_code == 404


def test_a_backfill_runs_in_a_child_process_of_the_workspace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'orch.db'}"
    store = open_store(url, tmp_path)
    from orchestrator.definitions import load_definitions

    defs = load_definitions(str(SHOP))
    assert materialize(defs, "orders", store=store, home=tmp_path).success  # what the partitions read
    processes = BackfillProcesses({"ORCH_DEFS": str(SHOP), "ORCH_HOME": str(tmp_path), "ORCH_STORAGE_URL": url},
                                  tmp_path)
    client = TestClient(create_app(defs, store, home=tmp_path, token="", backfills=processes), base_url=LOCAL)
    headers = _csrf(client)
    started = client.post("/api/backfills", json={"selection": "daily_sales", "from": "2024-01-01", "to": "2024-01-03"},
                          headers=headers)
    assert started.status_code == 201, started.text
    backfill_id = started.json()["backfill_id"]
    deadline = time.monotonic() + 90
    while store.backfills.get(backfill_id).status.value not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, (tmp_path / "ui-backfills" / f"{backfill_id}.log").read_text()
        time.sleep(0.2)
    page = client.get(f"/api/backfills/{backfill_id}").json()
    assert page["status"] == "succeeded" and page["assets"]["daily_sales"]["counts"] == {"materialized": 3}
    assert client.post("/api/backfills", json={"selection": "orders", "from": "2024-01-01", "to": "2024-01-02"},
                       headers=headers).status_code == 400  # nothing partitioned selected
    store.close()


def test_backfills_need_a_workspace_to_start_and_can_be_canceled(shop: Shop, client: TestClient) -> None:
    headers = _csrf(client)
    refused = client.post("/api/backfills", json={"selection": "daily_sales", "from": "2024-01-01", "to": "2024-01-02"},
                          headers=headers)
    assert refused.status_code == 409 and "orch backfill resume" in refused.json()["detail"]
    from orchestrator.execution.backfill import create_backfill

    record = create_backfill(shop.defs, shop.store, "daily_sales", None, "2024-01-01", "2024-01-02")
    canceled = client.post(f"/api/backfills/{record.backfill_id}/cancel", headers=headers).json()
    assert canceled["status"] == "canceled"
    assert client.get("/api/launch").json() == {"daemons": [], "backfills": False}
