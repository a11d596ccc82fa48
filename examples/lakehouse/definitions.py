"""The demo lakehouse: Python ingest -> the dbt project -> a Python forecast.

    orch materialize                              # everything
    orch materialize --select "+revenue_forecast"  # ingest -> ONE dbt build -> forecast
    orch dev                                      # the daemon: ingest every 2 minutes, dbt eager after it

Automation: the `ingest` schedule runs the raw assets every 2 minutes (the demo's cadence), and every
unpartitioned dbt model, seed and snapshot is `eager()`: it runs when its upstream data changed (or
it is missing), so after the first ingest one dbt build brings the project up to date, and later
ingests of identical data rebuild nothing. `daily_marts` runs the finance marts nightly in Berlin.
Everything that opens the DuckDB warehouse holds the `warehouse` pool: one such run at a time.
"""

from __future__ import annotations

from pathlib import Path

from examples.lakehouse.assets import (
    customers, events, fx_rates, marketing_spend, orders, payments, revenue_digest, revenue_forecast,
)
from integrations.dbt import DbtProject, dbt_assets, duckdb_path
from integrations.iceberg import IcebergIOManager, autoload_iceberg
from orchestrator import (
    AutomationCondition, Definitions, DuckDBIOManager, ParquetIOManager, ScheduleDefinition, define_job,
)
from orchestrator.home import resolve_home

ROOT = Path(__file__).resolve().parents[2]

project = DbtProject(ROOT / "dbt_project")
# The file dbt builds into (dbt_project/profiles.yml: ORCH_WAREHOUSE_PATH, else
# $ORCH_HOME/warehouse.duckdb), read as dbt is run: a relative path from the dbt project directory.
WAREHOUSE = duckdb_path(project)

ingest = define_job("ingest", selection="group:raw")
daily_marts = define_job("daily_marts", selection="group:marts group:finance", exclude="marts/fct_daily_revenue")

defs = Definitions(
    assets=[customers, orders, payments, events, fx_rates, marketing_spend,
            *dbt_assets(project, pool="warehouse", automation=AutomationCondition.eager()),
            revenue_forecast, revenue_digest],
    jobs=[ingest, daily_marts],
    schedules=[ScheduleDefinition(job=ingest, cron="*/2 * * * *", default_status="running"),
               ScheduleDefinition(job=daily_marts, cron="0 2 * * *", timezone="Europe/Berlin", name="nightly")],
    pools={"warehouse": 1},
    # on_connect: dbt views over iceberg_scan (staging/stg_marketing_spend) read as Arrow too
    io_managers={"warehouse": DuckDBIOManager(WAREHOUSE, on_connect=autoload_iceberg),
                 "files": ParquetIOManager(resolve_home() / "files", pickle_fallback=False),
                 "iceberg": IcebergIOManager()},
    root=ROOT,
)
