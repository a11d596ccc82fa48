"""The Dagster side of backfill.py; runs in benchmarks/.work/dagster-venv.

    _dagster_backfill.py --manifest PATH --project-dir DIR --warehouse PATH --home DIR
                         --from 2024-01-01 --to 2024-12-31

The demo's partitioned pair, written the way dagster-dbt documents it:

- `@dbt_assets(manifest=PATH, select="fct_daily_revenue", partitions_def=DailyPartitionsDefinition(
  start_date="2024-01-01"), backfill_policy=BackfillPolicy.single_run())`, whose body passes the
  run's time window as the dbt vars `start`/`end` (end exclusive, as the model filters) and runs
  `yield from dbt.cli(["build", "--vars", ...], context=context).stream()` (the model and its tests,
  as asset checks: the nodes `orch backfill` builds);
- `revenue_digest`, daily-partitioned with the same single-run policy and downstream of it, which
  does what the demo's `revenue_digest` does for each day of its range: read the day's row from the
  DuckDB warehouse, add the weekday, write `partition=<day>/data.parquet` under `--home`/digest.

Both run in ONE run over the range: `dagster.materialize(..., tags={
"dagster/asset_partition_range_start": FROM, "dagster/asset_partition_range_end": TO})` on
`DagsterInstance.local_temp(--home)` (the standard SQLite instance; the parent counts the rows it
wrote). The console logger is set to ERROR (only spares Dagster terminal writes).
Prints one JSON line (last).
"""

# No `from __future__ import annotations`: Dagster reads the asset functions' annotations at runtime.
import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

T0 = time.perf_counter()
warnings.filterwarnings("ignore")  # the dagster-dbt 0.29.27 vs dagster 1.13.29 library-version warning

import dagster  # noqa: E402
import dagster_dbt  # noqa: E402
import duckdb  # noqa: E402
from dagster import (  # noqa: E402
    AssetExecutionContext, BackfillPolicy, DagsterInstance, DailyPartitionsDefinition, asset,
)
from dagster_dbt import DbtCliResource, dbt_assets, get_asset_key_for_model  # noqa: E402

from backfill import write_digest  # noqa: E402  the very loop the raw row runs (stdlib-only module)

IMPORT_S = time.perf_counter() - T0
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITIONS = DailyPartitionsDefinition(start_date="2024-01-01")


def make_assets(manifest: Path, warehouse: str, out_dir: Path) -> list[Any]:
    @dbt_assets(manifest=manifest, select="fct_daily_revenue", partitions_def=PARTITIONS,
                backfill_policy=BackfillPolicy.single_run())
    def daily_revenue_dbt(context: AssetExecutionContext, dbt: DbtCliResource):
        window = context.partition_time_window  # the whole range in a single-run backfill
        dbt_vars = {"start": window.start.strftime("%Y-%m-%d"), "end": window.end.strftime("%Y-%m-%d")}
        yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()

    upstream = get_asset_key_for_model([daily_revenue_dbt], "fct_daily_revenue")

    @asset(deps=[upstream], partitions_def=PARTITIONS, backfill_policy=BackfillPolicy.single_run())
    def revenue_digest(context: AssetExecutionContext) -> None:
        rows = 0
        con = duckdb.connect(warehouse)
        try:
            for day in context.partition_keys:  # every day of the run's range
                rows += write_digest(con, day, out_dir)
        finally:
            con.close()
        context.add_output_metadata({"days": len(context.partition_keys), "rows": rows})

    return [daily_revenue_dbt, revenue_digest]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--home", type=Path, required=True, help="the instance's directory (kept)")
    parser.add_argument("--from", dest="start", required=True)
    parser.add_argument("--to", dest="end", required=True)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    out_dir = args.home / "digest"
    assets = make_assets(args.manifest, args.warehouse, out_dir)
    dbt = DbtCliResource(project_dir=os.fspath(args.project_dir), profiles_dir=os.fspath(args.project_dir),
                         dbt_executable=os.fspath(Path(sys.executable).parent / "dbt"))
    defs_s = time.perf_counter() - t0

    args.home.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with DagsterInstance.local_temp(os.fspath(args.home)) as instance:
        result = dagster.materialize(assets, instance=instance, resources={"dbt": dbt}, run_config=QUIET,
                                     tags={RANGE_START_TAG: args.start, RANGE_END_TAG: args.end},
                                     raise_on_error=False)
        run_s = time.perf_counter() - t0
        materializations = result.get_asset_materialization_events()
        checks = result.get_asset_check_evaluations()
        steps = {}
        for event in result.all_events:
            if event.is_step_success or event.is_step_failure:
                steps[event.step_key] = event.event_type_value
        run = instance.get_run_by_id(result.run_id)
        tags = dict(run.tags) if run is not None else {}
    print(json.dumps({
        "import_s": IMPORT_S, "defs_s": defs_s, "run_s": run_s, "success": result.success,
        "run_id": result.run_id, "steps": steps,
        "materializations": len(materializations),
        "materialized_assets": sorted({e.asset_key.to_user_string() for e in materializations}),
        "checks": len(checks), "checks_passed": sum(1 for c in checks if c.passed),
        "range_tags": {k: v for k, v in tags.items() if k in (RANGE_START_TAG, RANGE_END_TAG)},
        "digest_files": sum(1 for _ in out_dir.glob("partition=*/data.parquet")),
        "dagster_version": dagster.__version__, "dagster_dbt_version": dagster_dbt.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
