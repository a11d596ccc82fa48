"""A corrupt target/manifest.json: re-parsed in development like a changed file; under
ORCH_DBT_REPARSE=never one clear line, and `orch dbt parse` repairs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import main

DEFS = """\
import os
from integrations.dbt import DbtProject, dbt_assets
from orchestrator import Definitions

defs = Definitions(assets=dbt_assets(DbtProject(os.environ["TINY_DBT_PROJECT"])))
"""


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> Path:
    project = tmp_path / "tiny"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: tiny\nversion: '1.0'\nprofile: tiny\n")
    (project / "profiles.yml").write_text(
        f"tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {tmp_path / 'tiny.duckdb'}\n")
    (project / "models" / "one.sql").write_text("select 1 as x\n")
    monkeypatch.setenv("TINY_DBT_PROJECT", str(project))
    monkeypatch.delenv("ORCH_DBT_REPARSE", raising=False)
    return project


def _orch(tmp_path: Path, step: int, *args: str):
    defs = tmp_path / f"defs_{step}.py"  # a fresh module per call: nothing cached between calls
    defs.write_text(DEFS)
    return CliRunner().invoke(main, ["--defs", str(defs), "--home", str(tmp_path / "home"), *args])


def _corrupt(project: Path) -> None:
    manifest = project / "target" / "manifest.json"
    manifest.write_text(manifest.read_text()[:500])  # truncated, as by a killed write


def test_a_corrupt_manifest_is_reparsed_or_repaired_by_orch_dbt_parse(tiny, tmp_path, monkeypatch):
    listed = _orch(tmp_path, 1, "assets", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [a["key"] for a in json.loads(listed.output)] == ["one"]

    _corrupt(tiny)
    monkeypatch.setenv("ORCH_DBT_REPARSE", "never")
    refused = _orch(tmp_path, 2, "assets", "list")
    assert refused.exit_code == 2
    assert "is not valid JSON" in refused.output and "orch dbt parse" in refused.output
    assert "Traceback" not in refused.output and len(refused.output.strip().splitlines()) == 1
    assert f"defs_2.py:5 failed" in refused.output  # where in the user's file

    repaired = _orch(tmp_path, 3, "dbt", "parse")
    assert repaired.exit_code == 0, repaired.output
    assert "Parsed" in repaired.output and "1 assets" in repaired.output
    assert _orch(tmp_path, 4, "assets", "list").exit_code == 0

    _corrupt(tiny)
    monkeypatch.setenv("ORCH_DBT_REPARSE", "auto")
    again = _orch(tmp_path, 5, "assets", "list", "--json")
    assert again.exit_code == 0, again.output
    assert [a["key"] for a in json.loads(again.output)] == ["one"]
    shutil.rmtree(tiny / "target")
