"""Column lineage of the demo lakehouse through the CLI: dbt models (ephemeral, incremental,
snapshot, seeds, sources), Python assets in between, failures kept to their model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.definitions import load_definitions


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("lineage_home")


@pytest.fixture
def orch(lakehouse, home):
    def run(*args: str, code: int = 0):
        result = CliRunner().invoke(main, ["--defs", str(lakehouse.defs_path), "--home", str(home), *args])
        assert result.exit_code == code, result.output
        return result

    return run


def _edges(found):
    return {(e["source"]["asset"], e["source"]["column"], e["target"]["asset"], e["target"]["column"]): e["kind"]
            for e in found["edges"]}


def test_columns_json_follows_raw_orders_id_through_the_ephemeral_model_to_fct_orders(orch, lakehouse):
    found = json.loads(orch("lineage", "--columns", "--select", "+fct_orders", "--json").output)
    edges = _edges(found)
    assert edges[("raw/orders", "id", "staging/stg_orders", "order_id")] == "direct"
    assert edges[("staging/stg_orders", "order_id", "intermediate/int_order_payments", "order_id")] == "direct"
    assert edges[("intermediate/int_order_payments", "order_id", "marts/fct_orders", "order_id")] == "direct"
    assert edges[("staging/stg_payments", "amount", "intermediate/int_order_payments", "amount_paid")] == "aggregate"
    assert edges[("raw/payments", "amount_cents", "staging/stg_payments", "amount")] == "transform"
    assert {"source": {"asset": "intermediate/int_order_payments", "column": "is_revenue"},
            "target": {"asset": "marts/fct_orders", "column": None}, "kind": "filter",
            "clause": "where"} in found["filter_edges"]
    selected = {"raw/orders", "raw/payments", "staging/stg_orders", "staging/stg_payments",
                "intermediate/int_order_payments", "marts/fct_orders"}
    assert {a for e in edges for a in (e[0], e[2])} == selected
    assert found["errors"] == []
    assert found["assets"]["marts/fct_orders"]["columns"][:3] == ["order_id", "customer_id", "order_date"]
    assert not lakehouse.warehouse.exists()  # compiled without touching the warehouse


def test_column_upstream_goes_down_to_the_source_columns(orch):
    found = json.loads(orch("lineage", "column", "marts/fct_orders.store_credit_amount", "--json").output)
    assert found["column"] == {"asset": "marts/fct_orders", "column": "store_credit_amount"}
    edges = _edges(found)
    assert edges[("raw/payments", "amount_cents", "staging/stg_payments", "amount")] == "transform"
    assert edges[("raw/payments", "payment_method", "staging/stg_payments", "payment_method")] == "direct"
    assert edges[("intermediate/int_order_payments", "gift_card_amount", "marts/fct_orders",
                  "store_credit_amount")] == "transform"
    assert all(e[2] != "marts/dim_customers" for e in edges)


def test_column_downstream_is_the_impact(orch):
    found = json.loads(orch("lineage", "column", "raw/orders.status", "--downstream", "--json").output)
    targets = {(e[2], e[3]) for e in _edges(found)}
    assert {("staging/stg_orders", "status"), ("staging/stg_orders", "is_revenue"),
            ("intermediate/int_order_payments", "status"), ("marts/fct_orders", "status"),
            ("marts/dim_customers", "number_of_revenue_orders")} <= targets
    text = orch("lineage", "column", "raw/orders.status", "--downstream", "--depth", "1").output
    assert "raw/orders.status -> staging/stg_orders.status  [transform]" in text
    assert "marts/fct_orders" not in text


def test_lineage_crosses_dbt_then_python_then_dbt(orch):
    found = json.loads(orch("lineage", "column", "ml/customer_scores_summary.mean_score", "--json").output)
    edges = _edges(found)
    assert edges[("ml/customer_scores", "score", "ml/customer_scores_summary", "mean_score")] == "aggregate"
    assert edges[("marts/customer_lifetime_value", "lifetime_value", "ml/customer_scores", "score")] == "aggregate"
    assert ("marts/fct_orders", "amount_paid", "marts/customer_lifetime_value", "lifetime_value") in edges
    forecast = _edges(json.loads(orch("lineage", "column", "forecast.revenue_forecast", "--json").output))
    assert forecast[("marts/fct_daily_revenue", "revenue", "forecast", "revenue_forecast")] == "aggregate"


def test_incremental_snapshot_and_seed(orch):
    found = json.loads(orch("lineage", "--columns", "--json").output)
    edges = _edges(found)
    filters = {(e["source"]["asset"], e["source"]["column"], e["target"]["asset"], e["clause"])
               for e in found["filter_edges"]}
    # incremental: the is_incremental() filter is a filter edge; the value lineage is unchanged
    assert ("marts/fct_orders", "order_date", "marts/fct_daily_revenue", "incremental") in filters
    assert edges[("marts/fct_orders", "order_date", "marts/fct_daily_revenue", "order_date")] == "direct"
    assert not any(e[0] == e[2] for e in edges)  # no model reads itself
    snapshot = found["assets"]["snapshots/customers_snapshot"]["columns"]
    assert snapshot[-4:] == ["dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to"]
    assert edges[("raw/customers", "updated_at", "snapshots/customers_snapshot", "dbt_valid_from")] == "direct"
    assert edges[("raw/customers", "id", "snapshots/customers_snapshot", "dbt_scd_id")] == "transform"
    assert found["assets"]["seeds/country_codes"] == {"columns": ["country_code", "country_name", "region"],
                                                      "origin": "leaf"}
    assert edges[("seeds/country_codes", "country_name", "marts/dim_customers", "country_name")] == "direct"


def test_a_model_that_does_not_parse_is_an_error_and_the_rest_goes_on(orch):
    found = json.loads(orch("lineage", "--columns", "--json").output)
    errors = {e["asset"]: e["message"] for e in found["errors"]}
    assert sorted(errors) == ["lineage_cases/stray_comma", "lineage_cases/unknown_column",
                              "lineage_cases/unparseable"]
    assert "does not parse" in errors["lineage_cases/unparseable"]
    assert found["assets"]["lineage_cases/unparseable"]["columns"] is None
    edges = _edges(found)
    # its child is qualified against the documented columns instead
    assert edges[("lineage_cases/unparseable", "order_date", "lineage_cases/after_unparseable", "day")] == "direct"
    assert len(edges) > 100


def test_a_source_read_in_place_by_a_table_function_is_that_source(orch):
    found = json.loads(orch("lineage", "--columns", "--select", "lineage_cases/from_file", "--json").output)
    assert _edges(found) == {
        ("lineage_files/clicks", "click_id", "lineage_cases/from_file", "click_id"): "direct",
        ("lineage_files/clicks", "page", "lineage_cases/from_file", "page"): "direct",
        ("lineage_files/clicks", "clicked_at", "lineage_cases/from_file", "clicked_at"): "direct",
        ("lineage_files/clicks", "clicked_at", "lineage_cases/from_file", "click_date"): "transform",
    }


def test_unknown_column_is_an_error_with_a_suggestion(orch):
    result = orch("lineage", "column", "marts/fct_orders.amount_payd", code=2)
    assert "No column 'amount_payd' in 'marts/fct_orders'. Did you mean 'amount_paid'?" in result.output
    result = orch("lineage", "column", "fct_orders", code=2)
    assert "is not ASSET.COLUMN" in result.output


def test_asset_level_lineage_is_unchanged(orch):
    found = json.loads(orch("lineage", "--select", "+fct_orders", "--json").output)
    assert {"source": "intermediate/int_order_payments", "target": "marts/fct_orders"} in found["edges"]
    assert "assets" in found and "filter_edges" not in found


def test_results_are_saved_and_read_back(lakehouse, tmp_path):
    from integrations.lineage import column_lineage

    defs = load_definitions(str(lakehouse.defs_path))
    first = column_lineage(defs, home=tmp_path)
    again = column_lineage(load_definitions(str(lakehouse.defs_path)), home=tmp_path)
    assert first.stats["recomputed"] > 10 and again.stats["recomputed"] == 0
    assert [e.as_dict() for e in again.edges()] == [e.as_dict() for e in first.edges()]


def test_a_column_its_upstream_does_not_have_is_an_error_naming_both(orch):
    found = json.loads(orch("lineage", "--columns", "--select", "lineage_cases/unknown_column", "--json").output)
    [error] = found["errors"]
    assert error["asset"] == "lineage_cases/unknown_column"
    assert error["message"].startswith("column 'amount_usd' does not exist in 'marts/fct_orders'.")
    assert "Did you mean 'amount_paid'?" in error["message"]
    assert found["edges"] == []  # no edge to a column that does not exist


def test_sql_sqlglot_accepts_but_the_warehouse_rejects_is_that_models_error(orch):
    found = json.loads(orch("lineage", "--columns", "--select", "lineage_cases/stray_comma", "--json").output)
    [error] = found["errors"]
    assert error["asset"] == "lineage_cases/stray_comma"
    assert error["message"] == 'the warehouse rejects this SQL (DuckDB: Parser Error: syntax error at or near ",")'


def test_window_partition_and_order_columns_are_window_edges_of_the_column(orch):
    found = json.loads(orch("lineage", "column", "lineage_cases/ranked_orders.order_number", "--json").output)
    assert _edges(found) == {
        ("marts/fct_orders", "customer_id", "lineage_cases/ranked_orders", "order_number"): "window",
        ("marts/fct_orders", "order_date", "lineage_cases/ranked_orders", "order_number"): "window",
        ("intermediate/int_order_payments", "customer_id", "marts/fct_orders", "customer_id"): "direct",
        ("intermediate/int_order_payments", "order_date", "marts/fct_orders", "order_date"): "direct",
        ("staging/stg_orders", "customer_id", "intermediate/int_order_payments", "customer_id"): "direct",
        ("staging/stg_orders", "order_date", "intermediate/int_order_payments", "order_date"): "direct",
        ("raw/orders", "customer_id", "staging/stg_orders", "customer_id"): "direct",
        ("raw/orders", "order_date", "staging/stg_orders", "order_date"): "transform",
    }


def test_a_column_answer_says_when_an_upstream_on_its_path_failed(orch):
    result = orch("lineage", "column", "lineage_cases/after_unparseable.day", "--json")
    found = json.loads(result.output)
    assert _edges(found) == {("lineage_cases/unparseable", "order_date", "lineage_cases/after_unparseable",
                              "day"): "direct"}
    [warning] = found["warnings"]
    assert warning["asset"] == "lineage_cases/unparseable"
    assert warning["message"].startswith("partial: upstream 'lineage_cases/unparseable' has a lineage error: "
                                         "SQL does not parse")
    text = orch("lineage", "column", "lineage_cases/after_unparseable.day").output
    assert "warning: partial: upstream 'lineage_cases/unparseable' has a lineage error" in text
    clean = json.loads(orch("lineage", "column", "marts/fct_orders.order_id", "--json").output)
    assert clean["warnings"] == []


def test_a_run_the_warehouse_refused_is_a_warning_on_that_model(lakehouse, tmp_path):
    import time

    from integrations.lineage import column_lineage
    from orchestrator import MemoryEventStore
    from orchestrator.keys import AssetKey
    from orchestrator.storage.events import Event, EventType

    store = MemoryEventStore()
    store.append([Event("a" * 32, EventType.STEP_FAILED, time.time(), step_key="dbt[0]",
                        asset_key=AssetKey.parse("marts/dim_customers"),
                        message="dbt error in 'marts/dim_customers': Parser Error: syntax error at or near \",\"")])
    graph = column_lineage(load_definitions(str(lakehouse.defs_path)), store=store, home=tmp_path)
    [warning] = [w for w in graph.warnings() if w["asset"] == "marts/dim_customers"]
    assert warning["message"].startswith("the warehouse rejected its SQL in run aaaaaaaa: dbt error")
    assert graph.columns("marts/dim_customers")  # its lineage is still there
