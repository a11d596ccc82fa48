"""The dagster-dbt side of dbt_load.py and dbt_subset.py; runs in benchmarks/.work/dagster-venv.

Prints one JSON line (last). Two commands:

    load         --manifest PATH --model MART
                 times @dbt_assets(manifest=PATH) (load), Definitions(assets=[...],
                 resources={"dbt": DbtCliResource(...)}) + defs.resolve_asset_graph() (graph: the
                 repository and its asset graph are built),
                 AssetSelection.assets(<MART's key>).upstream().resolve(asset_graph) (select);
                 peak RSS is this process's ru_maxrss.
    materialize  --manifest PATH --project-dir DIR --models m1,m2,... [--tmpdir DIR]
                 dagster.materialize([dbt assets], selection=AssetSelection.assets(<the models' keys>),
                 resources={"dbt": DbtCliResource(project_dir=DIR, dbt_executable=<this venv's dbt>)},
                 instance=DagsterInstance.local_temp(tmp)): the standard SQLite instance; the asset
                 body is `yield from dbt.cli(["build"], context=context).stream()`.
                 The console logger is set to ERROR (only spares Dagster terminal writes).
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations at runtime.
import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

T0 = time.perf_counter()
warnings.filterwarnings("ignore")  # the dagster-dbt 0.29.27 vs dagster 1.13.29 library-version warning

import dagster  # noqa: E402
import dagster_dbt  # noqa: E402
from dagster import AssetExecutionContext, AssetSelection, DagsterInstance, Definitions  # noqa: E402
from dagster_dbt import DbtCliResource, dbt_assets, get_asset_key_for_model  # noqa: E402

IMPORT_S = time.perf_counter() - T0
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except OSError:
        return None


def make_assets(manifest: Path) -> Any:
    @dbt_assets(manifest=manifest)
    def bench_dbt(context: AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    return bench_dbt


def dbt_resource(project_dir: Path) -> DbtCliResource:
    return DbtCliResource(project_dir=os.fspath(project_dir),
                          dbt_executable=os.fspath(Path(sys.executable).parent / "dbt"))


def load(manifest: Path, model: str) -> dict[str, Any]:
    rss_import = current_rss_mb()
    t0 = time.perf_counter()
    assets = make_assets(manifest)
    t1 = time.perf_counter()
    # a dbt resource is required for the repository to resolve; the project is manifest's ../..
    defs = Definitions(assets=[assets], resources={"dbt": dbt_resource(manifest.parent.parent)})
    asset_graph = defs.resolve_asset_graph()
    n_assets = len(asset_graph.get_all_asset_keys())
    n_checks = len(asset_graph.asset_check_keys)
    t2 = time.perf_counter()
    key = get_asset_key_for_model([assets], model)  # a scan of the manifest: outside the timing
    t3 = time.perf_counter()
    selected = AssetSelection.assets(key).upstream().resolve(asset_graph)
    t4 = time.perf_counter()
    return {"import_s": IMPORT_S, "load_s": t1 - t0, "graph_s": t2 - t1, "select_s": t4 - t3,
            "total_s": (t1 - t0) + (t2 - t1) + (t4 - t3), "peak_rss_mb": peak_rss_mb(),
            "rss_after_import_mb": rss_import, "assets": n_assets, "checks": n_checks,
            "selected": len(selected), "dagster_version": dagster.__version__,
            "dagster_dbt_version": dagster_dbt.__version__}


def materialize(manifest: Path, project_dir: Path, models: list[str], tmpdir: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    assets = make_assets(manifest)
    keys = [get_asset_key_for_model([assets], m) for m in models]
    dbt = dbt_resource(project_dir)
    load_s = time.perf_counter() - t0
    home = Path(tempfile.mkdtemp(prefix="dagster-dbt-bench-", dir=tmpdir))
    try:
        t0 = time.perf_counter()
        with DagsterInstance.local_temp(str(home)) as instance:
            result = dagster.materialize([assets], selection=AssetSelection.assets(*keys),
                                         resources={"dbt": dbt}, instance=instance, run_config=QUIET,
                                         raise_on_error=False)
            run_s = time.perf_counter() - t0
            materialized = sorted({e.asset_key.to_user_string()
                                   for e in result.get_asset_materialization_events()})
            checks = result.get_asset_check_evaluations()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {"import_s": IMPORT_S, "load_s": load_s, "run_s": run_s, "success": result.success,
            "materialized": materialized, "checks": len(checks),
            "checks_passed": sum(1 for c in checks if c.passed), "keys": [k.to_user_string() for k in keys],
            "peak_rss_mb": peak_rss_mb(), "dagster_version": dagster.__version__,
            "dagster_dbt_version": dagster_dbt.__version__}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_load = sub.add_parser("load")
    p_load.add_argument("--manifest", type=Path, required=True)
    p_load.add_argument("--model", required=True)
    p_mat = sub.add_parser("materialize")
    p_mat.add_argument("--manifest", type=Path, required=True)
    p_mat.add_argument("--project-dir", type=Path, required=True)
    p_mat.add_argument("--models", required=True, help="comma-separated dbt model names")
    p_mat.add_argument("--tmpdir", default=None)
    args = parser.parse_args(argv)
    if args.command == "load":
        out = load(args.manifest, args.model)
    else:
        out = materialize(args.manifest, args.project_dir, args.models.split(","), args.tmpdir)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
