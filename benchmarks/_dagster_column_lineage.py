"""The dagster-dbt side of column_lineage.py; runs in benchmarks/.work/dagster-venv.

    build --manifest PATH --project-dir DIR [--columns] [--edges-out FILE] [--tmpdir DIR]

dagster.materialize() of every dbt asset of the manifest (@dbt_assets, SQLite instance), the asset
body being `dbt.cli(["build"], context=context).stream()`, with `.fetch_column_metadata()` when
--columns. With DuckDB, dagster-dbt first lets dbt finish (DuckDB allows one writer), then, in a
thread pool, asks the warehouse for the columns of each built model and of its parents and runs
sqlglot on its compiled SQL (`dagster/column_lineage` metadata). `dbt_s` is when dbt's events were
exhausted, `columns_s` the time after that: the column metadata part. The edges found are written
to --edges-out as `[source unique_id, column, target unique_id, column]`, for scoring. Prints one
JSON line (last).
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations at runtime.
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore")  # the dagster-dbt 0.29.27 vs dagster 1.13.29 library-version warning

import dagster  # noqa: E402
import dagster_dbt  # noqa: E402
from dagster import AssetExecutionContext, DagsterInstance  # noqa: E402
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets  # noqa: E402
from dagster_dbt.core.dbt_event_iterator import DbtEventIterator  # noqa: E402

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
LINEAGE_KEY = "dagster/column_lineage"
MARKS: dict[str, float] = {}


def make_assets(manifest: Path, columns: bool) -> Any:
    @dbt_assets(manifest=manifest)
    def bench_dbt(context: AssetExecutionContext, dbt: DbtCliResource):
        invocation = dbt.cli(["build"], context=context)
        events = invocation.stream()
        if not columns:
            yield from events
            return

        def dbt_events():
            yield from events
            MARKS["dbt_done"] = time.perf_counter()

        yield from DbtEventIterator(dbt_events(), invocation).fetch_column_metadata()

    return bench_dbt


def unique_ids(manifest: Path) -> dict[str, str]:
    """Dagster asset key (user string) -> dbt unique_id, with dagster-dbt's default translator."""
    data = json.loads(manifest.read_text())
    translator = DagsterDbtTranslator()
    found = {}
    for uid, props in (*data["nodes"].items(), *data["sources"].items()):
        if props["resource_type"] in ("model", "seed", "snapshot", "source"):
            found[translator.get_asset_key(props).to_user_string()] = uid
    return found


def build(manifest: Path, project_dir: Path, columns: bool, edges_out: Path | None,
          tmpdir: str | None) -> dict[str, Any]:
    assets = make_assets(manifest, columns)
    dbt = DbtCliResource(project_dir=os.fspath(project_dir),
                         dbt_executable=os.fspath(Path(sys.executable).parent / "dbt"))
    home = Path(tempfile.mkdtemp(prefix="dagster-cll-bench-", dir=tmpdir))
    try:
        t0 = time.perf_counter()
        with DagsterInstance.local_temp(str(home)) as instance:
            result = dagster.materialize([assets], resources={"dbt": dbt}, instance=instance, run_config=QUIET,
                                         raise_on_error=False)
            run_s = time.perf_counter() - t0
            events = result.get_asset_materialization_events()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    by_key = unique_ids(manifest)
    edges, with_lineage = [], 0
    for event in events:
        lineage = event.materialization.metadata.get(LINEAGE_KEY)
        if lineage is None:
            continue
        with_lineage += 1
        target = by_key.get(event.asset_key.to_user_string())
        for column, deps in lineage.value.deps_by_column.items():
            for dep in deps:
                edges.append([by_key.get(dep.asset_key.to_user_string()), dep.column_name, target, column])
    if edges_out is not None:
        edges_out.write_text(json.dumps(edges))
    dbt_s = MARKS["dbt_done"] - t0 if "dbt_done" in MARKS else None
    return {"run_s": run_s, "dbt_s": dbt_s, "columns_s": None if dbt_s is None else run_s - dbt_s,
            "success": result.success, "materialized": len(events), "with_lineage": with_lineage,
            "edges": len(edges), "dagster_version": dagster.__version__,
            "dagster_dbt_version": dagster_dbt.__version__}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--columns", action="store_true", help="with .fetch_column_metadata()")
    parser.add_argument("--edges-out", type=Path, default=None)
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args(argv)
    print(json.dumps(build(args.manifest, args.project_dir, args.columns, args.edges_out, args.tmpdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
