"""dbt Python models: no SQL to read, so not a failure. Their lineage is declared in their config
(`meta.column_lineage`) or unknown, with a reason; their columns come from the schema layers.

The project (tests/fixtures/lineage/dbt_python) is built for real by dbt-duckdb, which runs the
Python models in process, so the warehouse layer is tested against what they produced."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from integrations.dbt import DbtProject
from integrations.lineage import dbt_column_lineage
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dbt_python") / "project"
    shutil.copytree(FIXTURES / "lineage" / "dbt_python", root)
    warehouse = root.parent / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LINEAGE_PYTHON_WAREHOUSE", str(warehouse))
        found = DbtProject(root)
        found.parse()
        yield found, warehouse


def _edges(graph):
    return {(e.source.asset, e.source.column, e.target.asset, e.target.column): e.kind for e in graph.edges()}


def test_before_any_build_an_undeclared_python_model_is_unknown_with_documented_columns(project):
    dbt_project, warehouse = project
    graph = dbt_column_lineage(dbt_project, store=False)
    assert graph.errors() == [] and not warehouse.exists()
    scores = graph.to_json()["assets"]["customer_scores"]
    assert scores["origin"] == "unknown" and "dbt python model" in scores["reason"]
    assert scores["columns"] == ["id", "name_upper", "score"]  # documented in schema.yml
    assert not [e for e in graph.edges() if e.target.asset == "customer_scores"]
    edges = _edges(graph)
    assert edges[("seeds/customers", "country", "customer_regions", "region")] == "transform"
    assert edges[("customer_scores", "name_upper", "top_customers", "name_upper")] == "direct"
    assert edges[("customer_regions", "region", "top_customers", "region")] == "direct"
    assert ("customer_scores", "score", "where") in graph.assets["top_customers"].filters


def test_after_dbt_builds_them_their_columns_come_from_the_warehouse(project):
    dbt_project, warehouse = project
    done = subprocess.run([str(Path(sys.executable).parent / "dbt"), "build", "--project-dir",
                           str(dbt_project.project_dir), "--profiles-dir", str(dbt_project.project_dir)],
                          capture_output=True, text=True, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    assert done.returncode == 0, done.stdout[-3000:]
    graph = dbt_column_lineage(dbt_project, warehouse=warehouse, store=False)
    assert graph.errors() == []
    regions = graph.assets["customer_regions"]
    assert regions.origin == "declared" and regions.reason is None
    assert regions.column_names == ["id", "region", "weight"]  # declared ones + the warehouse's
    assert regions.columns["weight"] == {} and regions.types["weight"] == "INTEGER"
    scores = graph.assets["customer_scores"]
    assert scores.column_names == ["id", "name_upper", "score"] and scores.schema_source == "warehouse"
    assert _edges(graph)[("seeds/customers", "id", "customer_regions", "id")] == "direct"
