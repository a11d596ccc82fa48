"""The real-world-shaped dbt project (tests/fixtures/dbt/realworld), copied, parsed once per session.

Its profile names the warehouse through RW_WAREHOUSE and attaches a second DuckDB database,
`legacy` (RW_LEGACY), made here; nothing else tells the orchestrator where the warehouse is.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from integrations.dbt import DbtProject
from tests.conftest import FIXTURES

SOURCE = FIXTURES / "dbt" / "realworld"


@dataclass
class RealWorld:
    root: Path
    project: DbtProject
    warehouse: Path
    legacy: Path
    definitions: Path

    def copy_project(self, name: str) -> Path:
        """Another copy of the project (with its package beside it), for tests that change files."""
        target = self.root.parent / name
        shutil.copytree(SOURCE / "project", target / "project", ignore=shutil.ignore_patterns("target", "logs",
                                                                                              "dbt_packages"))
        shutil.copytree(SOURCE / "pkg", target / "pkg", dirs_exist_ok=True)
        return target / "project"


def make_legacy(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create or replace table main.old_customers as "
                "select 7 as customer_ref, 'Ada L.' as full_name, date '2019-01-01' as since")
    con.close()


@pytest.fixture(scope="session")
def realworld(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealWorld]:
    base = tmp_path_factory.mktemp("realworld")
    shutil.copytree(SOURCE / "project", base / "project")
    shutil.copytree(SOURCE / "pkg", base / "pkg")
    warehouse, legacy = base / "wh.duckdb", base / "legacy.duckdb"
    make_legacy(legacy)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RW_WAREHOUSE", str(warehouse))
        env.setenv("RW_LEGACY", str(legacy))
        env.setenv("RW_PROJECT", str(base / "project"))
        env.delenv("ORCH_WAREHOUSE_PATH", raising=False)
        env.delenv("RW_VARS", raising=False)
        project = DbtProject(base / "project")
        project.parse()
        yield RealWorld(base / "project", project, warehouse, legacy, SOURCE / "definitions.py")
