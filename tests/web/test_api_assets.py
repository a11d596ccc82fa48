"""The catalog and asset pages' API, on SQLite and PostgreSQL, over real runs of the shop."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.definitions import Definitions
from orchestrator.web.app import create_app
from fastapi.testclient import TestClient

from tests.web.conftest import LOCAL, Shop


def _by_key(client: TestClient, **params: str) -> dict[str, dict]:
    response = client.get("/api/assets", params=params)
    assert response.status_code == 200, response.text
    return {row["key"]: row for row in response.json()["assets"]}


def test_the_catalog_shows_every_asset_and_follows_runs(shop: Shop, client: TestClient) -> None:
    before = _by_key(client)
    assert set(before) == {str(k) for k in shop.defs.graph.assets}
    assert before["orders"]["state"] == "missing" and before["external/crm"]["state"] == "external"
    assert before["orders"]["owners"] == ["ana@example.com"] and before["orders"]["tags"] == ["nightly"]
    assert before["revenue"]["checks_summary"] == {"passed": 0, "failed": 0, "unknown": 1}

    shop.run("orders customers revenue")
    shop.run("explodes")
    after = _by_key(client)  # the same app: its cached states fold in the new events
    assert after["revenue"]["state"] == "fresh" and after["revenue"]["last_materialized_at"]
    assert after["orders"]["state"] == "fresh" and after["orders"]["late"] is False
    assert after["revenue"]["checks_summary"] == {"passed": 1, "failed": 0, "unknown": 0}
    assert after["explodes"]["state"] == "failed"
    assert after["revenue"]["kind"] == "Python" and after["revenue"]["group"] == "marts"


def test_the_catalog_takes_the_cli_selection_grammar(client: TestClient) -> None:
    assert set(_by_key(client, select="+revenue")) == {"orders", "customers", "revenue"}
    assert set(_by_key(client, select="group:marts", exclude="daily_sales")) == {"revenue"}
    bad = client.get("/api/assets", params={"select": "+revenu"})
    assert bad.status_code == 400 and "Did you mean 'revenue'?" in bad.json()["detail"]
    broken = client.get("/api/select", params={"select": "tag:"})
    assert broken.status_code == 400 and "tag:" in broken.json()["detail"]


def test_an_asset_page_has_its_definition_state_and_data_version(shop: Shop, client: TestClient) -> None:
    shop.run("orders customers revenue")
    page = client.get("/api/assets/revenue").json()
    assert page["description"] == "Paid revenue per customer."
    assert page["upstream"] == ["customers", "orders"] and page["downstream"] == ["slow_report"]
    assert page["metadata"] == {}  # the declared column lineage is shown as lineage, not metadata
    meta = page["latest_materialization"]["data"]["metadata"]
    assert meta["rows"] == 1 and len(page["data_version"]) == 64  # SHA-256 of the Parquet file
    assert page["checks"][0]["name"] == "revenue_positive" and page["checks"][0]["latest"]["data"]["passed"]
    missing = client.get("/api/assets/revenu")
    assert missing.status_code == 404 and "Did you mean 'revenue'?" in missing.json()["detail"]


def test_history_pages_back_newest_first_with_durations(shop: Shop, client: TestClient) -> None:
    first, second = shop.run("orders"), shop.run("orders")
    page = client.get("/api/materializations/orders", params={"limit": 1}).json()
    assert [m["run_id"] for m in page["materializations"]] == [second.run_id]
    assert page["materializations"][0]["duration"] >= 0
    older = client.get("/api/materializations/orders", params={"limit": 1, "before": page["next_before"]}).json()
    assert [m["run_id"] for m in older["materializations"]] == [first.run_id]
    assert client.get("/api/materializations/orders", params={"limit": 0}).status_code == 422


def test_checks_and_partitions(shop: Shop, client: TestClient) -> None:
    shop.run("orders customers revenue")
    shop.run("orders")
    shop.run("daily_sales", partition="2024-01-05")
    checks = client.get("/api/checks/revenue").json()["checks"]
    assert [(c["name"], len(c["results"]), c["results"][0]["data"]["passed"]) for c in checks] == [
        ("revenue_positive", 1, True)]
    health = client.get("/api/partitions/daily_sales").json()
    assert health["partitions"] == 60 and health["counts"]["materialized"] == 1
    assert [(r["start"], r["end"], r["status"]) for r in health["ranges"]] == [
        ("2024-01-01", "2024-01-04", "missing"), ("2024-01-05", "2024-01-05", "materialized"),
        ("2024-01-06", "2024-02-29", "missing")]
    assert client.get("/api/partitions/orders").json()["partitions"] == 0


def test_code_is_the_python_source_and_files_outside_the_project_are_refused(shop: Shop, tmp_path) -> None:
    client = TestClient(create_app(shop.defs, shop.store, home=shop.home, token=""), base_url=LOCAL)
    code = client.get("/api/code/revenue").json()
    assert code["language"] == "python" and "def revenue(orders: pa.Table" in code["code"] and code["line"] > 1

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = Definitions(assets=[shop.defs.graph.assets[k] for k in shop.defs.graph.assets], root=elsewhere)
    escaped = dataclasses.replace(outside.graph.assets[next(iter(outside.graph.assets))], fn=None,
                                  path="../../../../../../etc/passwd")
    sneaky = Definitions(assets=[escaped], root=elsewhere)
    guarded = TestClient(create_app(sneaky, shop.store, home=elsewhere, token=""), base_url=LOCAL)
    found = guarded.get(f"/api/code/{escaped.key}").json()
    assert "raw" not in found and "outside the project" in found["error"]
    python = TestClient(create_app(outside, shop.store, home=elsewhere, token=""), base_url=LOCAL)
    refused = python.get("/api/code/revenue").json()
    assert "code" not in refused and "outside the project" in refused["error"]


def test_columns_and_column_lineage_come_from_the_lineage_provider(shop: Shop, client: TestClient) -> None:
    shop.run("orders customers revenue")
    columns = client.get("/api/columns/revenue").json()
    assert [c["name"] for c in columns["columns"]] == ["customer_id", "name", "revenue"]
    by_name = {c["name"]: c for c in columns["columns"]}
    assert by_name["revenue"]["sources"] == [{"asset": "orders", "column": "amount", "kind": "aggregate"}]
    assert columns["filters"] == [{"asset": "orders", "column": "status", "clause": "where"}]
    assert columns["origin"] == "declared"

    traced = client.get("/api/lineage/column", params={"asset": "revenue", "column": "revenue"}).json()
    assert [(e["source"]["asset"], e["source"]["column"], e["kind"]) for e in traced["upstream"]] == [
        ("orders", "amount", "aggregate")]
    assert [(e["source"]["column"], e["clause"]) for e in traced["upstream_filters"]] == [("status", "where")]
    impact = client.get("/api/lineage/column", params={"asset": "orders", "column": "amount",
                                                       "direction": "downstream"}).json()
    assert [(e["target"]["asset"], e["target"]["column"]) for e in impact["downstream"]] == [("revenue", "revenue")]
    assert "upstream" not in impact
    wrong = client.get("/api/lineage/column", params={"asset": "revenue", "column": "revenu"})
    assert wrong.status_code == 404 and "Did you mean 'revenue'?" in wrong.json()["detail"]
    assert client.get("/api/lineage/column", params={"asset": "revenue", "column": "x",
                                                     "direction": "sideways"}).status_code == 422


def test_the_neighbourhood_and_the_global_layout(shop: Shop, client: TestClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    near = client.get("/api/neighbourhood/revenue", params={"depth": 1}).json()
    assert {n["key"] for n in near["nodes"]} == {"orders", "customers", "revenue", "slow_report"}
    assert {(e["source"], e["target"]) for e in near["edges"]} == {
        ("orders", "revenue"), ("customers", "revenue"), ("revenue", "slow_report")}

    response = client.get("/api/graph")
    layout = response.json()
    assert set(layout["keys"]) == {str(k) for k in shop.defs.graph.assets}
    index = {k: i for i, k in enumerate(layout["keys"])}
    pairs = list(zip(layout["edges"][::2], layout["edges"][1::2]))
    assert {(layout["keys"][a], layout["keys"][b]) for a, b in pairs} == {
        (str(u), str(v)) for u, v in shop.defs.graph.edges()}
    assert all(layout["x"][a] < layout["x"][b] for a, b in pairs)  # every edge points right
    assert layout["groups"][layout["group_of"][index["revenue"]]] == "marts"
    etag = response.headers["etag"]
    assert client.get("/api/graph", headers={"If-None-Match": etag}).status_code == 304
    assert (shop.home / "ui-cache" / f"layout-{layout['version']}.json").is_file()  # warm after a restart

    shop.run("orders")
    states = client.get("/api/graph/states").json()
    assert states["names"][states["states"][index["orders"]]] == "fresh"
    assert states["names"][states["states"][index["revenue"]]] == "missing"
    shop.run("customers revenue")
    monkeypatch.setenv("SHOP_EXTRA_ORDERS", "1")
    shop.run("orders")  # new data upstream of revenue: revenue is stale now
    states = client.get("/api/graph/states").json()
    assert states["names"][states["states"][index["revenue"]]] == "stale"
