"""The Iceberg schema layer, wired from the Definitions' IcebergIOManager: Python assets stored in
Iceberg and dbt sources read with iceberg_scan get their columns from the real table's schema
(pyiceberg SQL catalog on SQLite)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import pyarrow as pa
import pytest

from integrations import lineage
from integrations.dbt import DbtProject, dbt_assets
from integrations.iceberg import IcebergIOManager
from integrations.lineage.iceberg_schemas import folder_of, scan_path
from orchestrator import Definitions, asset
from orchestrator.io.base import OutputContext
from orchestrator.keys import AssetKey
from tests.conftest import FIXTURES


SPEND = pa.table({"day": [dt.date(2024, 1, 1)], "channel": ["ads"], "amount": [1.5]})


@asset(key_prefix="landing", io_manager="iceberg")
def spend() -> pa.Table:
    return SPEND


@asset(key_prefix="landing", io_manager="iceberg")
def not_written_yet() -> pa.Table:
    return pa.table({"x": [1]})


@asset(key_prefix="report", ins={"spend": "landing/spend"},
       metadata=lineage.declare_sql("select channel, sum(amount) as total from {spend} group by all"))
def totals(spend: pa.Table) -> pa.Table:
    return spend


@pytest.fixture
def iceberg(tmp_path) -> IcebergIOManager:
    io = IcebergIOManager(f"sqlite:///{tmp_path / 'catalog.db'}", tmp_path / "tables", catalog_name="lineage")
    io.write(OutputContext(AssetKey.parse("landing/spend"), None, "run-1", {}), SPEND)
    return io


def test_python_assets_stored_in_iceberg_get_the_table_schema(iceberg, tmp_path):
    defs = Definitions(assets=[spend, not_written_yet, totals], io_managers={"iceberg": iceberg})
    graph = lineage.column_lineage(defs, home=tmp_path)
    stored = graph.assets["landing/spend"]
    assert stored.column_names == ["day", "channel", "amount"] and stored.schema_source == "iceberg"
    assert stored.types == {"day": "date", "channel": "string", "amount": "double"}
    assert graph.columns("landing/not_written_yet") is None and graph.errors() == []
    assert [(e.source.column, e.target.column, e.kind) for e in graph.edges({"report/totals"})] == [
        ("amount", "total", "aggregate"), ("channel", "channel", "direct")]


def test_a_dbt_source_read_with_iceberg_scan_gets_the_schema_of_the_table_at_that_location(iceberg, tmp_path,
                                                                                              monkeypatch):
    root = tmp_path / "dbt"
    shutil.copytree(FIXTURES / "lineage" / "dbt_iceberg", root)
    monkeypatch.setenv("LINEAGE_ICEBERG_TABLE", iceberg.table("landing/spend").location())
    monkeypatch.setenv("LINEAGE_ICEBERG_WAREHOUSE", str(tmp_path / "never_created.duckdb"))
    project = DbtProject(root)
    project.parse()
    defs = Definitions(assets=[*dbt_assets(project), spend], io_managers={"iceberg": iceberg})
    graph = lineage.column_lineage(defs, home=tmp_path)
    assert graph.columns("lake/spend") == ["day", "channel", "amount"]  # not the Python asset's key
    assert graph.errors() == []
    edges = {(e.source.asset, e.source.column, e.target.column): e.kind for e in graph.edges({"spend_by_channel"})}
    assert edges == {("lake/spend", "channel", "channel"): "direct", ("lake/spend", "amount", "total"): "aggregate"}


def test_importing_lineage_does_not_import_pyiceberg():
    code = "import sys, integrations.lineage; print('pyiceberg' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert found.stdout.strip() == "False"


def test_scan_paths_and_table_locations_compare_as_one_folder_string():
    assert scan_path("ICEBERG_SCAN('../lake/spend')") == "../lake/spend"
    assert folder_of("../lake/spend", "/repo/dbt") == "/repo/lake/spend"
    assert folder_of("file:///w/lake/spend/metadata/00002-a.metadata.json") == "/w/lake/spend"
    assert folder_of("s3://bucket/w/lake/spend/") == "s3://bucket/w/lake/spend"
