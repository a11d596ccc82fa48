"""A Python-and-dbt project shaped like real ones, built for real: ingest in Python, then dbt with a
local package, custom folders, unit tests, source freshness, a seed behind a source, the semantic
layer. The tests run in file order: the build, then what the build makes possible (lineage without
a warehouse uses a copy of its own)."""

from __future__ import annotations

import json
import os

import duckdb
import pytest
from click.testing import CliRunner

from integrations.dbt import DbtProject, dbt_assets
from integrations.lineage import column_lineage
from orchestrator import Definitions
from orchestrator.cli import main
from orchestrator.definitions import load_definitions
from orchestrator.keys import AssetKey

K = AssetKey.parse


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("realworld_home")


def orch(realworld, home, *args: str, code: int = 0, env: dict | None = None):
    result = CliRunner().invoke(main, ["--defs", str(realworld.definitions), "--home", str(home), *args],
                                env=env)
    assert result.exit_code == code, result.output
    return result


def _lineage(realworld, tmp_path):
    """Column lineage of the dbt project alone: no DuckDBIOManager, no ORCH_WAREHOUSE_PATH."""
    defs = Definitions(assets=dbt_assets(DbtProject(realworld.root)))
    return column_lineage(defs, home=tmp_path)


def test_without_the_warehouse_only_the_model_whose_jinja_queries_it_lacks_lineage(realworld, tmp_path,
                                                                                   monkeypatch):
    root = realworld.copy_project("no_warehouse")  # whatever other tests built
    missing = tmp_path / "not_built" / "wh.duckdb"
    monkeypatch.setenv("RW_WAREHOUSE", str(missing))
    graph = column_lineage(Definitions(assets=dbt_assets(DbtProject(root))), home=tmp_path)
    found = graph.to_json()
    assert found["errors"] == []
    daily = found["assets"]["marts/daily_orders"]
    assert daily["origin"] == "unknown" and daily["columns"] is None
    assert daily["reason"].startswith("needs the warehouse: its Jinja runs queries against")
    assert str(missing) in daily["reason"]
    # the models compiled in the same dbt invocation keep their own lineage
    assert {str(e.source) for e in graph.upstream("marts/fct_orders", "amount")} == {
        "staging/stg_orders.amount", "shop/orders.amount_cents"}
    assert {"marts/customer_rank", "staging/stg_orders", "staging/stg_customers"} <= {
        k for k, a in found["assets"].items() if a["origin"] == "sql" and a["columns"]}
    assert not missing.exists(), "lineage never creates the warehouse"


def test_the_project_builds_with_unit_tests_as_checks(realworld, home):
    found = json.loads(orch(realworld, home, "materialize", "--json").output)
    assert found["status"] == "succeeded", found
    assert found["assets"]["seeds/countries"] == "succeeded"
    run = json.loads(orch(realworld, home, "runs", "show", found["run_id"], "--json").output)
    checks = {(c["asset_key"], c["data"]["check"]): c["data"] for c in run["checks"]}
    unit = checks[("marts/fct_orders", "paid_orders_keep_their_amount")]
    assert unit["passed"] is True
    con = duckdb.connect(str(realworld.warehouse), read_only=True)
    try:  # the seed was built before the model that reads it as a source
        names = con.execute("select customer_name, country_name from main.stg_customers order by 1").fetchall()
    finally:
        con.close()
    assert names == [("Ada", "France"), ("Edsger", "Japan"), ("Grace", "Germany")]


def test_a_seed_behind_a_source_is_its_upstream_and_runs_in_the_wave_before(realworld):
    defs = load_definitions(str(realworld.definitions))
    graph = defs.graph
    assert K("seeds/countries") in graph.parents(K("reference/countries"))
    assert graph.get(K("reference/countries")).metadata["seed"] == "seeds/countries"
    runner = graph.get(K("seeds/countries")).runner
    waves = runner.waves([K("seeds/countries"), K("staging/stg_orders"), K("staging/stg_customers")])
    assert waves == [[K("seeds/countries"), K("staging/stg_orders")], [K("staging/stg_customers")]]


def test_the_semantic_layer_is_metadata_and_exposures_reach_through_metrics(realworld):
    graph = load_definitions(str(realworld.definitions)).graph
    orders = graph.get(K("marts/fct_orders")).metadata
    assert [s["name"] for s in orders["semantic_models"]] == ["orders"]
    assert {m["name"] for m in orders["semantic_models"][0]["measures"]} == {"order_total", "order_count"}
    assert {m["name"] for m in orders["metrics"]} == {"revenue", "orders_placed"}
    assert [q["name"] for q in orders["saved_queries"]] == ["revenue_by_day"]
    assert set(graph.parents(K("exposures/revenue_dashboard"))) == {K("marts/daily_orders"), K("marts/fct_orders")}
    unit = [c for c in graph.checks_for(K("marts/fct_orders")) if c.name == "paid_orders_keep_their_amount"]
    assert unit[0].blocking and unit[0].metadata["test_type"] == "unit"
    assert "unit" in graph.get(K("marts/fct_orders")).metadata["test_types"]


def test_with_the_warehouse_every_model_has_lineage(realworld, tmp_path):
    graph = _lineage(realworld, tmp_path)
    found = graph.to_json()
    assert found["errors"] == []
    models = {k: a for k, a in found["assets"].items() if k.split("/")[0] in ("staging", "marts")}
    assert all(a["columns"] for a in models.values()), {k: a for k, a in models.items() if not a["columns"]}
    edges = {(e["source"]["asset"], e["source"]["column"], e["target"]["asset"], e["target"]["column"]): e["kind"]
             for e in found["edges"]}
    assert edges[("marts/fct_orders", "amount", "marts/daily_orders", "revenue")] == "aggregate"
    # read from the database the profile attaches
    assert found["assets"]["staging/stg_legacy_customers"]["columns"] == ["customer_ref", "full_name", "since"]
    # the source that is a seed's table gets the seed's columns
    assert edges[("seeds/countries", "country_name", "reference/countries", "country_name")] == "direct"
    assert edges[("reference/countries", "country_name", "staging/stg_customers", "country_name")] == "direct"


def test_source_freshness_checks_pass_then_fail_once_the_data_is_old(realworld, home):
    found = json.loads(orch(realworld, home, "dbt", "freshness", "--json").output)
    statuses = {c["asset"]: c["status"] for c in found["checks"]}
    assert statuses == {"shop/customers": "pass", "shop/orders": "pass"}
    orch(realworld, home, "materialize", "--select", "shop/orders", env={"RW_ORDERS_AGE_HOURS": "3"})
    stale = json.loads(orch(realworld, home, "dbt", "freshness", "--select", "shop/orders", "--json",
                            code=1).output)
    [check] = stale["checks"]
    assert check["status"] == "error" and check["passed"] is False and check["age_seconds"] > 3 * 3600 - 60
    assert check["error_after"] == {"count": 2, "period": "hour"}
    run = json.loads(orch(realworld, home, "runs", "show", stale["run_id"], "--json").output)
    assert run["run"]["status"] == "failed"


def test_a_failing_unit_test_fails_its_model_like_a_test(realworld, tmp_path):
    root = realworld.copy_project("failing_unit_test")
    (root / "transform" / "marts" / "_more_unit_tests.yml").write_text(
        "version: 2\nunit_tests:\n  - name: amounts_are_doubled\n    model: fct_orders\n    given:\n"
        "      - input: ref('stg_orders')\n        rows:\n          - {order_id: 1, customer_id: 7, amount: 1.0}\n"
        "      - input: ref('stg_customers')\n        rows:\n          - {customer_id: 7, customer_name: Ada}\n"
        "    expect:\n      rows:\n        - {order_id: 1, amount: 2.0}\n")
    from orchestrator import materialize

    project = DbtProject(root)
    defs = load_definitions(str(realworld.definitions))
    others = [a for a in defs.assets if a.kind != "dbt"]
    result = materialize(Definitions(assets=[*others, *dbt_assets(project)], io_managers=defs.io_managers),
                         "+marts/fct_orders", home=tmp_path)
    assert result.assets[K("marts/fct_orders")] == "skipped"
    assert "its unit test 'amounts_are_doubled' failed" in result.causes[K("marts/fct_orders")]
    assert result.assets[K("staging/stg_orders")] == "succeeded"
