"""The issue's "done when": in a fresh copy of the repository's shape, `orch init demo2 --dbt
dbt_project && cd demo2 && orch assets list` works, and so do the project's own tests."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tests.cli.test_init import BIN, _run, init

REPO = Path(__file__).resolve().parents[3]


def test_init_with_the_demo_dbt_project(tmp_path):
    shutil.copytree(REPO / "dbt_project", tmp_path / "dbt_project", ignore=shutil.ignore_patterns("target", "logs"))
    created = init(tmp_path, "demo2", "--dbt", "dbt_project")
    assert created.exit_code == 0, created.output
    demo2 = tmp_path / "demo2"
    listed = {a["key"]: a for a in json.loads(_run(demo2, str(BIN / "orch"), "assets", "list", "--json").stdout)}
    assert {"examples/orders", "examples/revenue", "marts/fct_orders", "staging/stg_orders"} <= set(listed)
    assert listed["marts/fct_orders"]["kind"] == "dbt"
    # The same home as the CLI's: the profile reads ORCH_HOME, so no re-parse for the tests.
    tests = _run(demo2, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", ORCH_HOME=str(demo2 / ".orch"))
    assert "3 passed" in tests.stdout


def test_the_profiles_duckdb_path_is_rendered_as_dbt_renders_it(monkeypatch, tmp_path):
    from integrations.dbt import DbtProject, duckdb_path

    project = DbtProject(REPO / "dbt_project")
    monkeypatch.setenv("ORCH_WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    assert duckdb_path(project) == tmp_path / "w.duckdb"
    monkeypatch.delenv("ORCH_WAREHOUSE_PATH")
    monkeypatch.setenv("ORCH_HOME", str(tmp_path / "home"))
    assert duckdb_path(project) == tmp_path / "home" / "warehouse.duckdb"
    monkeypatch.delenv("ORCH_HOME")
    assert duckdb_path(project) == REPO / ".orch" / "warehouse.duckdb"  # relative to the project dir
    target = project.warehouse()
    assert (target.profile, target.name, target.adapter) == ("lakehouse", "dev", "duckdb")
