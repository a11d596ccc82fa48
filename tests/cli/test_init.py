"""`orch init NAME [--dbt PATH]`: the project it writes passes `orch assets list`, `orch materialize`
and its own tests at once, in fresh processes as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from integrations.dbt import DbtProject, duckdb_path
from orchestrator.cli import main

BIN = Path(sys.executable).parent


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ORCH_HOME", "ORCH_DEFS", "ORCH_STORAGE_URL")}
    return {**env, **extra}


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=_clean_env(**env), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def init(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, ["init", *args])
    finally:
        os.chdir(old)


def test_a_new_project_lists_materializes_and_passes_its_tests(tmp_path):
    created = init(tmp_path, "shop-demo")
    assert created.exit_code == 0, created.output
    project = tmp_path / "shop-demo"
    assert "[tool.orchestrator]" in (project / "pyproject.toml").read_text()
    assert (project / "shop_demo" / "definitions.py").exists() and (project / "tests" / "test_assets.py").exists()
    listed = json.loads(_run(project, str(BIN / "orch"), "assets", "list", "--json").stdout)
    assert [a["key"] for a in listed] == ["examples/orders", "examples/revenue"]
    summary = json.loads(_run(project, str(BIN / "orch"), "materialize", "--json").stdout)
    assert summary["status"] == "succeeded" and summary["checks"]["passed"] == 1
    assert "2 passed" in _run(project, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider").stdout


def test_init_refuses_what_it_would_overwrite_or_cannot_use(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    refused = init(tmp_path, "taken")
    assert refused.exit_code == 2 and "already exists and is not empty" in refused.output
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    (tmp_path / "not_dbt").mkdir()
    assert "is not a dbt project: no dbt_project.yml" in init(tmp_path, "x", "--dbt", "not_dbt").output
    assert "shadows another module" in init(tmp_path, "orchestrator").output


@pytest.fixture
def bare_dbt(tmp_path, monkeypatch) -> Path:
    """A dbt project whose profile is nowhere dbt looks."""
    project = tmp_path / "warehouse_models"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: wm\nversion: '1.0'\nprofile: 'wm'\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    return project


def test_a_dbt_project_without_a_profile_gets_one(tmp_path, bare_dbt, monkeypatch):
    assert init(tmp_path, "wired", "--dbt", str(bare_dbt)).exit_code == 0
    profile = (tmp_path / "wired" / "profiles.yml").read_text()
    assert profile.lstrip().startswith("#") and "\nwm:\n" in profile and "type: duckdb" in profile
    definitions = (tmp_path / "wired" / "wired" / "definitions.py").read_text()
    assert 'DbtProject(ROOT / "../warehouse_models", profiles_dir=ROOT)' in definitions
    # without ORCH_HOME, the warehouse is the new project's .orch/ (a relative path in the profile
    # starts at the dbt project directory)
    monkeypatch.delenv("ORCH_HOME", raising=False)
    project = DbtProject(bare_dbt, profiles_dir=tmp_path / "wired")
    assert duckdb_path(project) == tmp_path / "wired" / ".orch" / "warehouse.duckdb"


def test_a_profile_in_dbt_profiles_dir_is_wired_where_it_is(tmp_path, bare_dbt, monkeypatch):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text("wm:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: w.duckdb}\n")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(profiles))
    assert init(tmp_path, "wired", "--dbt", str(bare_dbt)).exit_code == 0
    assert not (tmp_path / "wired" / "profiles.yml").exists()
    definitions = (tmp_path / "wired" / "wired" / "definitions.py").read_text()
    assert f"profiles_dir={str(profiles)!r}" in definitions
