"""The Dagster side of overhead.py; runs in benchmarks/.work/dagster-venv, prints one JSON line.

Builds the same graphs as overhead.py (chain and fan-in of trivial assets, parameter names are the
wiring, functions generated with exec) and times one run per mode, after a 3-asset warm-up run in
that mode so one-time imports are not counted. The console logger is set to ERROR (see QUIET):

    memory     dagster.materialize_to_memory(assets): ephemeral instance, mem_io_manager
    ephemeral  dagster.materialize(assets): ephemeral instance, default fs_io_manager (pickles under
               the instance's temp dir)
    sqlite     dagster.materialize(assets, instance=DagsterInstance.local_temp(tmp)): the standard
               SQLite instance (what DAGSTER_HOME without dagster.yaml gives), fs_io_manager
               pickling under tmp/storage
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from typing import Any

import dagster
from dagster import DagsterInstance, asset, materialize, materialize_to_memory

MODES = {
    "memory": "dagster.materialize_to_memory(assets): ephemeral instance, in-memory IO manager",
    "ephemeral": "dagster.materialize(assets): ephemeral instance, default fs_io_manager (pickles under tmp)",
    "sqlite": "dagster.materialize(assets, instance=DagsterInstance.local_temp(tmp)): SQLite "
              "run/event storage under tmp, fs_io_manager pickles under tmp",
}


# Dagster's console logger prints every event at DEBUG; raising its level keeps the events (they are
# still stored) but spares Dagster the terminal writes, which only makes it faster: a fair default.
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def asset_sources(shape: str, n: int) -> list[str]:
    """The same source text as overhead.asset_sources (kept in sync by hand: no shared import)."""
    names = [f"a_{i:04d}" for i in range(n)]
    if shape == "chain":
        sources = [f"def {names[0]}():\n    return 0\n"]
        sources += [f"def {names[i]}({names[i - 1]}):\n    return {names[i - 1]} + 1\n" for i in range(1, n)]
        return sources
    if shape == "fan_in":
        sources = [f"def {name}():\n    return {i}\n" for i, name in enumerate(names[:-1])]
        sources.append(f"def {names[-1]}({', '.join(names[:-1])}):\n    return 0\n")
        return sources
    raise ValueError(shape)


def build(shape: str, n: int) -> list[Any]:
    namespace: dict[str, Any] = {"__name__": f"bench_{shape}"}
    definitions = []
    for source in asset_sources(shape, n):
        exec(source, namespace)  # noqa: S102 - generated benchmark code
        definitions.append(asset(namespace[source[4 : source.index("(")]]))
    return definitions


def run(assets: list[Any], mode: str, tmpdir: str | None = None) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="dagster-bench-", dir=tmpdir)
    try:
        # ephemeral(tempdir=...): in-memory storages, local artifacts (fs_io_manager files) in tmp
        instance = DagsterInstance.local_temp(tmp) if mode == "sqlite" else DagsterInstance.ephemeral(tmp)
        t0 = time.perf_counter()
        if mode == "memory":
            result = materialize_to_memory(assets, instance=instance, run_config=QUIET)
        else:
            result = materialize(assets, instance=instance, run_config=QUIET)
        wall = time.perf_counter() - t0
        events = len(instance.all_logs(result.run_id))
        instance.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"n": len(assets), "wall_s": wall, "ms_per_asset": wall * 1000 / len(assets),
            "events": events, "status": "succeeded" if result.success else "failed"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--shapes", default="chain,fan_in")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--tmpdir", default=None, help="where temporary instances live")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    results: dict[str, Any] = {}
    for shape in args.shapes.split(","):
        t0 = time.perf_counter()
        assets = build(shape, args.assets)
        decorate_s = time.perf_counter() - t0
        for mode in args.modes.split(","):
            run(build("chain", 3), mode, args.tmpdir)  # warm-up: imports and caches, not counted
            print(f"[dagster] {shape}/{mode} ({args.assets} assets) ...", file=sys.stderr, flush=True)
            results[f"{shape}/{mode}"] = {**run(assets, mode, args.tmpdir), "decorate_s": decorate_s}
            print(f"[dagster] {shape}/{mode}: {results[f'{shape}/{mode}']['ms_per_asset']:.1f} ms/asset",
                  file=sys.stderr, flush=True)
    print(json.dumps({"dagster_version": dagster.__version__, "modes": MODES, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
