"""The `orch` command, driven through click's runner against SQLite and PostgreSQL stores."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from tests.conftest import FIXTURES

SHOP = str(FIXTURES / "defs" / "shop.py")


@pytest.fixture
def orch(storage_url, tmp_path):
    def run(*args: str, code: int | None = 0):
        result = CliRunner().invoke(
            main, ["--defs", SHOP, "--home", str(tmp_path / "home"), "--storage", storage_url, *args]
        )
        if code is not None:
            assert result.exit_code == code, result.output
        return result

    return run


def test_assets_list_json_has_key_kind_deps_group(orch):
    rows = json.loads(orch("assets", "list", "--select", "+revenue_by_customer", "--json").output)
    by_key = {r["key"]: r for r in rows}
    assert set(by_key) == {"orders", "customers", "revenue_by_customer"}
    assert by_key["revenue_by_customer"]["deps"] == ["customers", "orders"]
    assert by_key["revenue_by_customer"]["kind"] == "python"
    assert by_key["revenue_by_customer"]["group"] == "marts"
    assert by_key["revenue_by_customer"]["checks"] == ["revenue_positive"]


def test_assets_list_table(orch):
    output = orch("assets", "list", "--select", "group:raw").output
    assert "orders" in output and "customers" in output and "2 assets" in output


def test_materialize_selection_with_exclude_then_runs_list_and_show(orch):
    result = orch("materialize", "--select", "+group:marts", "--exclude", "tag:slow", "--json")
    summary = json.loads(result.output)
    assert summary["status"] == "succeeded"
    assert summary["assets"] == {"orders": "succeeded", "customers": "succeeded",
                                 "revenue_by_customer": "succeeded"}
    runs = json.loads(orch("runs", "list", "--json").output)
    assert summary["run_id"] in [r["run_id"] for r in runs]

    detail = json.loads(orch("runs", "show", summary["run_id"][:12], "--json").output)
    assert detail["run"]["status"] == "succeeded"
    assert [c["data"]["check"] for c in detail["checks"]] == ["revenue_positive"]
    materialized = {m["asset_key"] for m in detail["materializations"]}
    assert materialized == {"orders", "customers", "revenue_by_customer"}
    assert "revenue_by_customer" in orch("runs", "show", summary["run_id"]).output


def test_a_failed_asset_exits_1_and_skips_its_downstream(orch):
    result = orch("materialize", "--select", "orders explodes+", "--json", code=1)
    summary = json.loads(result.output)
    assert summary["status"] == "failed"
    assert summary["assets"] == {"orders": "succeeded", "explodes": "failed", "after_explodes": "skipped"}
    assert "the API is down" in summary["errors"]["after_explodes"]
    detail = json.loads(orch("runs", "show", summary["run_id"], "--json").output)
    trace = detail["errors"][0]["data"]["error"]["traceback"]
    assert "shop.py" in trace and "RuntimeError: the API is down" in trace


def test_materialize_plain_output(orch):
    output = orch("materialize", "--select", "orders").output
    assert "succeeded orders" in output.replace("  ", " ") and "1 succeeded" in output


def test_lineage_json_lists_asset_edges(orch):
    data = json.loads(orch("lineage", "--select", "+report", "--json").output)
    assert {"source": "orders", "target": "revenue_by_customer"} in data["edges"]
    assert {"source": "external/crm_accounts", "target": "report"} in data["edges"]


def test_unknown_name_in_selection_is_an_error_with_a_suggestion(orch):
    result = orch("assets", "list", "--select", "+ordres", code=2)
    assert "Did you mean 'orders'?" in result.output


def test_unknown_run(orch):
    result = orch("runs", "show", "nope", code=2)
    assert "nope" in result.output


def test_defs_that_fail_to_import_show_the_users_traceback(tmp_path):
    result = CliRunner().invoke(main, ["--defs", str(FIXTURES / "defs" / "fails_to_import.py"),
                                       "--home", str(tmp_path), "assets", "list"])
    assert result.exit_code == 2
    assert "fails_to_import.py" in result.output and "load_settings" in result.output
    assert "KeyError: 'zone'" in result.output
    assert "orchestrator/definitions.py" not in result.output


def test_a_store_url_that_cannot_connect_hides_its_password(tmp_path):
    url = "postgresql://admin:s3cret-pw@127.0.0.1:1/orch"
    result = CliRunner().invoke(main, ["--defs", SHOP, "--home", str(tmp_path), "--storage", url,
                                       "runs", "list"])
    assert result.exit_code == 2
    assert "127.0.0.1:1" in result.output and "s3cret-pw" not in result.output
