"""The Dagster side of dask_scale.py; runs in benchmarks/.work/dagster-dask-venv, prints one JSON line.

The same graph as dask_scale.py: BENCH_ASSETS independent assets, each running `cpu_work` for
BENCH_LOOPS iterations of pure Python (calibrated by dask_scale.py to ~50 ms). Dagster's
`dagster_dask.dask_executor` runs each step as a Dask task; like ours, it is timed on a LocalCluster
started beforehand (2 worker processes, 1 thread each) and given by address (`existing`), after a
warm-up run; the instance is the standard SQLite one (DagsterInstance.local_temp), which the Dask
executor needs (its workers read the run from storage). `--with-cluster` times one run that starts its
own cluster (`local`), as a run without an address does.

The module is its own code location: dask workers re-import it (reconstructable), so the graph is
built from environment variables, not arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from typing import Any

import dagster
from dagster import AssetKey, DagsterInstance, Definitions, asset, define_asset_job, execute_job, reconstructable
from dagster_dask import dask_executor

N = int(os.environ.get("BENCH_ASSETS", "200"))
LOOPS = int(os.environ.get("BENCH_LOOPS", "1"))
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def cpu_work(loops: int) -> int:
    """The same loop as dask_scale.cpu_work (kept in sync by hand: no shared import)."""
    x = 0
    for i in range(loops):
        x = (x * 31 + i) % 1_000_003
    return x


def _make(i: int) -> Any:
    @asset(name=f"a_{i:04d}")
    def work() -> int:
        return cpu_work(LOOPS)

    return work


defs = Definitions(assets=[_make(i) for i in range(N)],
                   jobs=[define_asset_job("all", executor_def=dask_executor)])


def get_job() -> Any:
    return defs.get_job_def("all")


def run_once(cluster: dict[str, Any], tmpdir: str | None, only: int | None = None) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="dagster-dask-", dir=tmpdir)
    try:
        with DagsterInstance.local_temp(tmp) as instance:
            config = {**QUIET, "execution": {"config": {"cluster": cluster}}}
            t0 = time.perf_counter()
            selection = None if only is None else [AssetKey(f"a_{i:04d}") for i in range(only)]
            result = execute_job(reconstructable(get_job), instance=instance, run_config=config,
                                 asset_selection=selection)
            wall = time.perf_counter() - t0
            events = len(instance.all_logs(result.run_id))
            return {"n": only or N, "wall_s": wall, "events": events, "status": "succeeded" if result.success else "failed"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--with-cluster", action="store_true", help="also one run that starts its own cluster")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from distributed import LocalCluster

    local = {"local": {"n_workers": args.workers, "threads_per_worker": 1, "dashboard_address": ":0"}}
    out: dict[str, Any] = {"dagster_version": dagster.__version__,
                           "dagster_dask_version": __import__("dagster_dask").__version__}
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      local_directory=args.tmpdir) as cluster:
        existing = {"existing": {"address": cluster.scheduler_address}}
        print("[dagster] warm-up run on the cluster (4 assets) ...", file=sys.stderr, flush=True)
        out["warmup"] = run_once(existing, args.tmpdir, only=4)
        print(f"[dagster] timed run ({N} assets) ...", file=sys.stderr, flush=True)
        out["existing"] = run_once(existing, args.tmpdir)
    if args.with_cluster:
        print("[dagster] a run that starts its own LocalCluster ...", file=sys.stderr, flush=True)
        out["local"] = run_once(local, args.tmpdir)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
