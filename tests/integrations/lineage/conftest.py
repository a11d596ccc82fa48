"""A copy of the demo dbt project, with the ml/ models and the lineage cases, parsed once per session.

The warehouse path points at a file that does not exist: column lineage must never create it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integrations.dbt import DbtProject
from tests.conftest import FIXTURES

REPO = Path(__file__).resolve().parents[3]
DEFS = FIXTURES / "lineage" / "lakehouse_defs.py"


@dataclass
class LineageLakehouse:
    root: Path
    project: DbtProject
    warehouse: Path
    defs_path: Path


@pytest.fixture(scope="session")
def lakehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LineageLakehouse]:
    base = tmp_path_factory.mktemp("lineage_lakehouse")
    root = base / "dbt_project"
    shutil.copytree(REPO / "dbt_project", root, ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(FIXTURES / "dbt" / "extra_models" / "ml", root / "models" / "ml")
    shutil.copytree(FIXTURES / "lineage" / "dbt_models", root / "models", dirs_exist_ok=True)
    warehouse = base / "never_created" / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as env:  # session-wide, undone at the end
        env.setenv("LINEAGE_DBT_PROJECT", str(root))
        env.setenv("ORCH_WAREHOUSE_PATH", str(warehouse))
        project = DbtProject(root)
        project.parse()
        yield LineageLakehouse(root, project, warehouse, DEFS)
