"""DbtProject: use the manifest while it is fresh, re-parse when files change, cache what is built."""

from __future__ import annotations

import gc
import json
import os
import shutil
import time
import weakref

import pytest

from integrations.dbt import DbtProject, ManifestError, dbt_assets
from tests.conftest import FIXTURES


@pytest.fixture
def project_dir(tmp_path):
    root = tmp_path / "proj"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: proj\nversion: '1'\nprofile: proj\n")
    (root / "models" / "a.sql").write_text("select 1 as x\n")
    (root / "target").mkdir()
    shutil.copy(FIXTURES / "dbt" / "lakehouse_manifest.json", root / "target" / "manifest.json")
    future = time.time() + 5
    os.utime(root / "target" / "manifest.json", (future, future))
    return root


def test_a_fresh_manifest_is_used_without_parsing(project_dir):
    project = DbtProject(project_dir, reparse="never")
    assert not project.is_stale()
    assert len(project.nodes().assets) > 10


def test_the_built_nodes_are_cached_by_the_manifests_checksum(project_dir):
    project = DbtProject(project_dir, reparse="never")
    first = project.nodes()
    caches = list((project_dir / "target").glob("orch_nodes.*.pickle"))
    assert len(caches) == 1
    second = DbtProject(project_dir, reparse="never").nodes()
    assert [a.key for a in first.assets] == [a.key for a in second.assets]
    caches[0].write_bytes(b"not a pickle")  # a corrupt cache is rebuilt, never trusted
    assert len(DbtProject(project_dir, reparse="never").nodes().assets) == len(first.assets)


def test_a_changed_file_makes_the_manifest_stale_and_never_mode_says_what_to_run(project_dir):
    project = DbtProject(project_dir, reparse="never")
    later = time.time() + 60
    os.utime(project_dir / "models" / "a.sql", (later, later))
    assert project.is_stale()
    with pytest.raises(ManifestError, match="older than the project files. Run `orch dbt parse`"):
        project.nodes()


def test_a_directory_without_dbt_project_yml_is_refused(tmp_path):
    with pytest.raises(ManifestError, match="not a dbt project"):
        DbtProject(tmp_path)


def test_a_manifest_parsed_under_other_values_of_the_vars_it_used_is_stale(project_dir, monkeypatch):
    (project_dir / "profiles.yml").write_text("p:\n  outputs:\n    dev:\n      path: \"{{ env_var('WAREHOUSE') }}\"\n")
    os.utime(project_dir / "profiles.yml", (0, 0))
    project = DbtProject(project_dir, reparse="never")
    monkeypatch.setenv("WAREHOUSE", "/one.duckdb")
    monkeypatch.setenv("ORCH_HOME", "/one/home")
    project.parse_env_path.write_text(json.dumps(project.parse_env({"SOURCE_DIR"})))
    assert set(json.loads(project.parse_env_path.read_text())) == {"SOURCE_DIR", "WAREHOUSE"}
    monkeypatch.setenv("ORCH_HOME", "/another/home")  # not used by this project: still fresh
    assert not project.is_stale()
    monkeypatch.setenv("WAREHOUSE", "/two.duckdb")
    assert project.is_stale()


def test_dropped_definitions_free_their_project_without_the_cycle_collector(project_dir):
    # A load moves its objects to the collector's permanent generation (gc.freeze), so nothing in
    # them may form a reference cycle: the runner keeps what it needs, not the definitions.
    assets = dbt_assets(DbtProject(project_dir, reparse="never"))
    runner = next(a.runner for a in assets if a.runner is not None)
    assert {str(k) for k in runner.windows} == {"marts/fct_daily_events", "marts/fct_daily_revenue"}
    gone = weakref.ref(runner)
    enabled = gc.isenabled()
    gc.disable()
    try:
        del assets, runner
        assert gone() is None
    finally:
        if enabled:
            gc.enable()
