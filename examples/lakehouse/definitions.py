"""The demo lakehouse: Python ingest -> the dbt project -> a Python forecast.

    orch materialize                              # everything
    orch materialize --select "+revenue_forecast"  # ingest -> ONE dbt build -> forecast
"""

from __future__ import annotations

import os
from pathlib import Path

from examples.lakehouse.assets import (
    customers, events, fx_rates, marketing_spend, orders, payments, revenue_digest, revenue_forecast,
)
from integrations.dbt import DbtProject, dbt_assets
from integrations.iceberg import IcebergIOManager, autoload_iceberg
from orchestrator import Definitions, DuckDBIOManager, ParquetIOManager
from orchestrator.home import resolve_home

ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE = Path(os.environ.get("ORCH_WAREHOUSE_PATH") or resolve_home() / "warehouse.duckdb")

project = DbtProject(ROOT / "dbt_project")

defs = Definitions(
    assets=[customers, orders, payments, events, fx_rates, marketing_spend, *dbt_assets(project), revenue_forecast,
            revenue_digest],
    # on_connect: dbt views over iceberg_scan (staging/stg_marketing_spend) read as Arrow too
    io_managers={"warehouse": DuckDBIOManager(WAREHOUSE, on_connect=autoload_iceberg),
                 "files": ParquetIOManager(resolve_home() / "files", pickle_fallback=False),
                 "iceberg": IcebergIOManager()},
    root=ROOT,
)
