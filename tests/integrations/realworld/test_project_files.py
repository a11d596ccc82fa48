"""Parts of a real project that decide when it is re-parsed: its own folders, its packages, its vars."""

from __future__ import annotations

import os
import time

import pytest
from click.testing import CliRunner

from integrations.dbt import DbtProject, dbt_assets
from orchestrator.cli import main


def _touch_later(path, seconds: float = 60) -> None:
    later = time.time() + seconds
    os.utime(path, (later, later))


def test_the_folders_dbt_project_yml_names_are_watched(realworld):
    project = DbtProject(realworld.root)
    folders = {p.relative_to(realworld.root).as_posix() for p in project.source_dirs()}
    assert {"transform", "data", "checks", "lib", "history", "adhoc", "dbt_packages"} <= folders
    assert "models" not in folders and "tests" not in folders
    assert not project.is_stale()
    _touch_later(realworld.root / "checks" / "assert_amounts_not_negative.sql")
    assert project.is_stale(), "a singular test under the custom test-paths was missed"


def test_a_new_test_under_custom_test_paths_is_a_check_after_the_automatic_reparse(realworld):
    root = realworld.copy_project("new_test")
    project = DbtProject(root)
    project.parse()
    before = {c.name for c in dbt_assets(project) if hasattr(c, "asset")}
    (root / "checks" / "assert_one_order_per_id.sql").write_text(
        "select order_id from {{ ref('fct_orders') }} group by 1 having count(*) > 1\n")
    # dated a day ahead (clock skew): parsed once, not again and again until the clock passes it
    _touch_later(root / "checks" / "assert_one_order_per_id.sql", 86_400)
    after = {c.name for c in dbt_assets(DbtProject(root)) if hasattr(c, "asset")}
    assert after - before == {"assert_one_order_per_id"}
    assert not DbtProject(root).is_stale()
    (root / "checks" / "assert_amounts_not_negative.sql").touch()  # an edit older than that future file
    assert DbtProject(root).is_stale(), "an edit was hidden behind a file dated in the future"


def test_local_packages_are_installed_and_their_macros_watched(realworld):
    project = DbtProject(realworld.root)
    assert (realworld.root / "dbt_packages" / "spine").exists(), "dbt deps ran before the first parse"
    assert not project.needs_deps()
    macro = realworld.root / "dbt_packages" / "spine" / "macros" / "date_spine_of.sql"
    assert macro.exists()
    mtime = macro.stat().st_mtime
    try:
        _touch_later(macro)
        assert project.is_stale(), "a change in an installed package was missed"
    finally:
        os.utime(macro, (mtime, mtime))
    _touch_later(realworld.root / "packages.yml", 1)
    try:
        assert project.needs_deps() and project.is_stale()
    finally:
        os.utime(realworld.root / "packages.yml", (mtime - 100, mtime - 100))


def test_vars_enable_models_are_part_of_the_parse_key_and_orch_dbt_parse_takes_them(realworld):
    root = realworld.copy_project("with_vars")
    plain = DbtProject(root)
    plain.parse()
    assert "marketing/campaign_stats" not in {str(a.key) for a in plain.nodes().assets}
    enabled = DbtProject(root, vars={"enable_marketing": True})
    assert enabled.is_stale(), "other vars than the manifest was parsed with"
    result = CliRunner().invoke(main, ["dbt", "parse", "--project-dir", str(root), "--vars",
                                       "{enable_marketing: true}"])
    assert result.exit_code == 0, result.output
    assert not enabled.is_stale() and plain.is_stale()
    assert "marketing/campaign_stats" in {str(a.key) for a in enabled.nodes().assets}
    bad = CliRunner().invoke(main, ["dbt", "parse", "--project-dir", str(root), "--vars", "[1, 2]"])
    assert bad.exit_code == 2 and "expected a mapping" in bad.output


def test_the_warehouse_comes_from_the_profile_with_its_attached_databases(realworld):
    target = realworld.project.warehouse()
    assert target.adapter == "duckdb" and target.path == realworld.warehouse
    assert [(a.alias, a.path) for a in target.attached] == [("legacy", realworld.legacy)]


def test_an_unset_env_var_in_the_profile_is_named(realworld, monkeypatch):
    from integrations.dbt import ManifestError

    monkeypatch.delenv("RW_WAREHOUSE")
    with pytest.raises(ManifestError, match="env_var\\('RW_WAREHOUSE'\\)"):
        realworld.project.warehouse()
