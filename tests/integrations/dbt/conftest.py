"""A copy of the demo dbt project (plus scenario models) parsed once, and a warehouse built once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from examples.lakehouse.assets import (
    customers, events, fx_rates, marketing_spend, orders, payments, revenue_forecast,
)
from integrations.iceberg import IcebergIOManager, autoload_iceberg
from integrations.dbt import DbtProject, dbt_assets
from orchestrator import Definitions, DuckDBIOManager, MemoryEventStore, ParquetIOManager, asset, materialize
from orchestrator.execution.run import RunResult
from tests.conftest import FIXTURES

REPO = Path(__file__).resolve().parents[3]


@asset(key_prefix="ml", io_manager="warehouse", ins={"clv": "marts/customer_lifetime_value"})
def customer_scores(clv: pa.Table) -> pa.Table:
    """A Python model between dbt models: scores customers by lifetime value."""
    values = clv["lifetime_value"].cast(pa.float64()).to_pylist()
    top = max(v or 0.0 for v in values) or 1.0
    scores = [round((v or 0.0) / top, 4) for v in values]
    tiers = ["gold" if s > 0.5 else "silver" if s > 0.1 else "bronze" for s in scores]
    return pa.table({"customer_id": clv["customer_id"], "score": scores, "tier": tiers})


@asset(ins={"daily": "scenarios/fragile_daily"})
def fragile_report(daily: pa.Table) -> int:
    return daily.num_rows


@dataclass
class Lakehouse:
    root: Path
    project: DbtProject
    warehouse: Path
    home: Path

    def defs(self, **runner: object) -> Definitions:
        return Definitions(
            assets=[customers, orders, payments, events, fx_rates, marketing_spend,
                    *dbt_assets(self.project, **runner),
                    revenue_forecast, customer_scores, fragile_report],
            io_managers={"warehouse": DuckDBIOManager(self.warehouse, on_connect=autoload_iceberg),
                         "files": ParquetIOManager(self.home / "files", pickle_fallback=False),
                         "iceberg": IcebergIOManager(home=self.home)},
        )

    def materialize(self, selection: str, **kw: object) -> RunResult:
        runner = kw.pop("runner", {})
        store = kw.pop("store", None) or MemoryEventStore()
        return materialize(self.defs(**runner), selection, home=self.home, store=store, **kw)


@pytest.fixture(scope="session")
def lakehouse_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lakehouse") / "dbt_project"
    shutil.copytree(REPO / "dbt_project", root, ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(FIXTURES / "dbt" / "extra_models", root / "models", dirs_exist_ok=True)
    return root


@pytest.fixture(scope="session")
def lakehouse(lakehouse_root: Path) -> Iterator[Lakehouse]:
    home = lakehouse_root.parent / "home"
    warehouse = home / "warehouse.duckdb"
    home.mkdir()
    with pytest.MonkeyPatch.context() as env:  # session-wide, undone at the end
        env.setenv("ORCH_WAREHOUSE_PATH", str(warehouse))
        env.setenv("ORCH_HOME", str(home))  # dbt's source lake.fx_rates reads files under it
        project = DbtProject(lakehouse_root)
        project.parse()
        yield Lakehouse(lakehouse_root, project, warehouse, home)


@pytest.fixture(scope="session")
def full_run(lakehouse: Lakehouse) -> tuple[RunResult, MemoryEventStore]:
    """Everything but the scenario models: ingest -> dbt -> Python -> dbt, in one run."""
    store = MemoryEventStore()
    result = lakehouse.materialize("*", exclude="path:models/scenarios fragile_report", store=store)
    return result, store
