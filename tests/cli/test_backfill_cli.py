"""`orch backfill` and `orch partitions status`, through click's runner on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from tests.conftest import FIXTURES

DAILY = str(FIXTURES / "defs" / "daily.py")


@pytest.fixture
def orch(storage_url, tmp_path, monkeypatch):
    def run(*args: str, code: int | None = 0, broken: str = ""):
        monkeypatch.setenv("DAILY_BROKEN", broken)
        result = CliRunner().invoke(
            main, ["--defs", DAILY, "--home", str(tmp_path / "home"), "--storage", storage_url, *args])
        if code is not None:
            assert result.exit_code == code, result.output
        return result

    return run


def test_backfill_runs_chunks_and_reports_partition_status(orch):
    summary = json.loads(orch("backfill", "--select", "+sales_report", "--from", "2024-03-01",
                              "--to", "2024-03-05", "--json").output)
    assert summary["status"] == "succeeded"
    assert summary["chunks"] == 1 + 5 + 5 and summary["chunk_counts"] == {"succeeded": 11}
    status = json.loads(orch("partitions", "status", "sales_report", "--json").output)
    assert status["partitions"] == 366
    assert status["counts"] == {"materialized": 5, "stale": 0, "failed": 0, "missing": 361}
    assert {"start": "2024-03-01", "end": "2024-03-05", "status": "materialized", "count": 5} in status["ranges"]

    listed = json.loads(orch("backfill", "list", "--json").output)
    assert summary["backfill_id"] in [b["backfill_id"] for b in listed]
    shown = json.loads(orch("backfill", "show", summary["backfill_id"][:8], "--json").output)
    assert [c["range"] for c in shown["chunk_list"]][:2] == [None, "2024-03-01"]


def test_a_failed_partition_then_retry(orch):
    failed = orch("backfill", "--select", "+sales_report", "--from", "2024-04-01", "--to", "2024-04-03",
                  "--json", code=1, broken="2024-04-02")
    summary = json.loads(failed.output)
    assert summary["chunk_counts"] == {"succeeded": 5, "failed": 1, "skipped": 1}
    status = json.loads(orch("partitions", "status", "sales", "--json").output)
    assert status["counts"]["failed"] == 1
    shown = json.loads(orch("backfill", "show", summary["backfill_id"], "--json").output)
    errors = [c["error"] for c in shown["chunk_list"] if c["status"] == "failed"]
    assert "the sales API has no data for 2024-04-02" in errors[0]

    retried = json.loads(orch("backfill", "retry", summary["backfill_id"], "--json").output)
    assert retried["status"] == "succeeded" and retried["chunk_counts"] == {"succeeded": 7}
    assert json.loads(orch("partitions", "status", "sales", "--json").output)["counts"]["failed"] == 0


def test_stale_partitions_after_an_upstream_changes(orch):
    orch("backfill", "--select", "+sales", "--from", "2024-05-01", "--to", "2024-05-02", "--json")
    orch("materialize", "--select", "fx_rates", "--json")  # the unpartitioned upstream changed later
    status = json.loads(orch("partitions", "status", "sales", "--json").output)
    assert status["counts"]["stale"] == 2


def test_backfill_needs_a_range_and_partitioned_assets(orch):
    assert "needs --from and --to" in orch("backfill", "--select", "sales", code=2).output
    assert "No partitioned asset" in orch("backfill", "--select", "fx_rates", "--from", "2024-01-01",
                                          "--to", "2024-01-02", code=2).output
    assert "not partitioned" in orch("partitions", "status", "fx_rates", code=2).output


def test_dynamic_partitions_added_by_an_asset_and_by_the_cli(storage_url, tmp_path):
    def orch(*args, code=0):
        result = CliRunner().invoke(main, ["--defs", str(FIXTURES / "defs" / "tenants.py"),
                                           "--home", str(tmp_path / "home"), "--storage", storage_url, *args])
        assert result.exit_code == code, result.output
        return result

    assert "pass a partition" in orch("materialize", "--select", "tenant_usage", code=2).output
    orch("materialize", "--select", "tenant_registry", "--json")
    assert json.loads(orch("partitions", "list", "tenants", "--json").output) == ["acme", "globex"]
    assert "added 1 of 2" in orch("partitions", "add", "tenants", "acme", "initech").output
    assert "is not one of the 3 partitions" in orch("materialize", "--select", "tenant_usage",
                                                     "--partition", "umbrella", code=2).output
    summary = json.loads(orch("materialize", "--select", "tenant_usage", "--partition", "initech",
                              "--json").output)
    assert summary["status"] == "succeeded"
    status = json.loads(orch("partitions", "status", "tenant_usage", "--json").output)
    assert status["partitions"] == 3 and status["counts"]["materialized"] == 1
    orch("partitions", "remove", "tenants", "globex")
    assert json.loads(orch("partitions", "list", "tenants", "--json").output) == ["acme", "initech"]
