"""One rule for a relative DuckDB path in the profile: it is relative to the dbt project directory,
for dbt run in this process, a dbt subprocess, `DbtProject.warehouse()`, `duckdb_path` and
lineage, wherever the orchestrator runs (tests/fixtures/dbt/relative_paths)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from integrations.dbt import DbtProject, ManifestError, dbt_assets, duckdb_path
from integrations.lineage import column_lineage
from integrations.lineage.provider import profile_warehouse
from orchestrator import Definitions, MemoryEventStore, materialize
from tests.conftest import FIXTURES

DBT = str(Path(sys.executable).parent / "dbt")


@pytest.fixture
def project_dir(tmp_path, monkeypatch) -> Path:
    """The fixture project with its attached database, and a working directory elsewhere that has a
    `data/` folder of its own (where a path opened from the working directory would land)."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "dbt" / "relative_paths", root)
    (root / "data").mkdir()
    with duckdb.connect(str(root / "data" / "legacy.duckdb")) as con:
        con.execute("create table main.old_customers as select * from (values (7, 'Ada L.'), (8, 'Bo K.')) "
                    "t(customer_ref, full_name)")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    for name in ("REL_WAREHOUSE", "ORCH_HOME", "ORCH_WAREHOUSE_PATH", "DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)
    return root


def _opened(warehouse: Path) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql("select path from main.opened_file").fetchone()[0]


def test_dbt_in_process_and_in_a_subprocess_build_the_project_relative_warehouse(project_dir, tmp_path):
    warehouse = project_dir / "data" / "warehouse.duckdb"
    project = DbtProject(project_dir)
    project.parse()
    parsed = [(p, p.stat().st_mtime_ns) for p in (project.manifest_path, project.target_path / "partial_parse.msgpack")]

    built = materialize(Definitions(assets=dbt_assets(project)), store=MemoryEventStore())
    assert built.success
    assert _opened(warehouse) == str(warehouse)
    assert not any((tmp_path / "elsewhere").rglob("*.duckdb")), "nothing opened from the working directory"
    # the run's profile is a copy with absolute paths; the parse keeps the user's (partial parsing,
    # the manifest and its caches untouched by the build)
    assert project.run_profiles_dir() != project.profiles_dir
    assert [(p, p.stat().st_mtime_ns) for p, _ in parsed] == parsed and not project.is_stale()

    # the same file for everything that reads the warehouse
    target = project.warehouse()
    assert target.path == warehouse == duckdb_path(project)
    assert [(a.alias, a.path) for a in target.attached] == [("legacy", project_dir / "data" / "legacy.duckdb")]
    schemas = profile_warehouse([project])
    assert schemas.path == warehouse
    lineage = column_lineage(Definitions(assets=dbt_assets(project)), home=tmp_path / "home").to_json()
    assert lineage["errors"] == []
    # columns read from the attached file; a model whose Jinja queries the warehouse compiled on it
    assert lineage["assets"]["customers"]["columns"] is not None
    share = lineage["assets"]["customer_share"]
    assert share["origin"] == "sql" and share["columns"], share.get("reason")

    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table main.opened_file")
    again = materialize(Definitions(assets=dbt_assets(project, backend="subprocess", dbt_executable=DBT)),
                        "opened_file", store=MemoryEventStore())
    assert again.success
    assert _opened(warehouse) == str(warehouse)
    assert not any((tmp_path / "elsewhere").rglob("*.duckdb"))


def test_the_run_profiles_copy_is_made_once_per_profile_and_environment(project_dir, monkeypatch):
    project = DbtProject(project_dir)
    first = project.run_profiles_dir()
    written = (first / "profiles.yml").stat().st_mtime_ns
    assert project.run_profiles_dir() == first and (first / "profiles.yml").stat().st_mtime_ns == written
    copy = (first / "profiles.yml").read_text()
    assert f"path: {project_dir / 'data' / 'warehouse.duckdb'}" in copy
    assert f"path: {project_dir / 'data' / 'legacy.duckdb'}" in copy
    monkeypatch.setenv("REL_WAREHOUSE", "other/w.duckdb")
    other = project.run_profiles_dir()
    assert other != first and str(project_dir / "other" / "w.duckdb") in (other / "profiles.yml").read_text()
    assert duckdb_path(project) == project_dir / "other" / "w.duckdb"
    read_only = project.run_profiles_dir(read_only=True)
    assert "access_mode: READ_ONLY" in (read_only / "profiles.yml").read_text()


def test_a_profile_that_opens_no_relative_file_is_used_as_it_is(project_dir, monkeypatch, tmp_path):
    profiles = project_dir / "profiles.yml"
    monkeypatch.setenv("REL_WAREHOUSE", str(tmp_path / "w.duckdb"))
    profiles.write_text(profiles.read_text().replace("path: data/legacy.duckdb", f"path: {tmp_path / 'l.duckdb'}"))
    project = DbtProject(project_dir)
    assert project.run_profiles_dir() == project.profiles_dir
    profiles.write_text("relative_paths:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
                        "      password: \"{{ env_var('REL_UNSET_PASSWORD') }}\"\n")
    assert project.run_profiles_dir() == project.profiles_dir  # dbt itself reports the password
    assert project.warehouse().adapter == "postgres" and duckdb_path(project) is None


def test_a_broken_profile_is_an_error_naming_the_file(project_dir, monkeypatch):
    profiles = project_dir / "profiles.yml"
    text = profiles.read_text()
    project = DbtProject(project_dir)
    with pytest.raises(ManifestError, match=rf"'{profiles}': profile 'relative_paths' has no target 'prod' "
                                            r"\(it has: dev\)"):
        DbtProject(project_dir, target="prod").warehouse()
    monkeypatch.setenv("DBT_TARGET", "ci")
    with pytest.raises(ManifestError, match="has no target 'ci'"):
        project.run_profiles_dir()
    monkeypatch.delenv("DBT_TARGET")

    profiles.write_text(text.replace("env_var('REL_WAREHOUSE', 'data/warehouse.duckdb')", "env_var('REL_WAREHOUSE')"))
    for read in (project.warehouse, lambda: duckdb_path(project), project.run_profiles_dir):
        with pytest.raises(ManifestError, match=rf"'{profiles}' uses env_var\('REL_WAREHOUSE'\), which is not set"):
            read()

    profiles.write_text("relative_paths:\n  outputs: [unclosed\n")
    with pytest.raises(ManifestError, match=rf"'{profiles}' is not valid YAML"):
        project.warehouse()

    profiles.write_text("someone_else:\n  outputs: {}\n")
    with pytest.raises(ManifestError, match=rf"'{profiles}' has no profile 'relative_paths' \(it has: someone_else\)"):
        duckdb_path(project)
    assert project.warehouse() is None
    profiles.unlink()
    with pytest.raises(ManifestError, match=f"No profiles.yml for the dbt project '{project_dir}'"):
        duckdb_path(project)


def test_an_in_process_dbt_invocation_has_the_warehouse_files_alone(project_dir):
    """A Python step's DuckDBIOManager in another thread waits for the dbt invocation's end instead of
    meeting dbt-duckdb's database instance ("Unique file handle conflict")."""
    import threading

    from integrations.dbt.runner import one_invocation
    from orchestrator.io.duckdb import connect

    project = DbtProject(project_dir)
    files = project.warehouse_files()
    assert files == (project_dir / "data" / "warehouse.duckdb", project_dir / "data" / "legacy.duckdb")
    inside, leave, connected = threading.Event(), threading.Event(), threading.Event()

    def invocation() -> None:
        with one_invocation(project):
            inside.set()
            leave.wait(10)

    dbt = threading.Thread(target=invocation)
    dbt.start()
    assert inside.wait(10)
    def step_reads() -> None:
        with connect(files[1]):
            connected.set()

    step = threading.Thread(target=step_reads, daemon=True)
    step.start()
    assert not connected.wait(0.5)
    leave.set()
    dbt.join(10)
    assert connected.wait(10)
