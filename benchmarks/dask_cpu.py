"""Where the CPU of a Dask run goes, per step and per process: the run's process, the scheduler, the workers.

    .venv/bin/python benchmarks/dask_cpu.py                    # chain, fan-in, CPU-bound, bare Dask
    .venv/bin/python benchmarks/dask_cpu.py chain fan_in       # some of them

A 2-worker LocalCluster (1 thread each) runs in a process of its own, so this process holds only
the run (its driver, its client, its event writer). For each graph of dask_scale.py (`chain` and
`fan_in`: `--trivial-assets` trivial assets; `cpu`: `--cpu-assets` assets of `--work-ms` pure-Python
work; `bare`: the same work as bare `client.submit` calls), it prints the wall time and the CPU
seconds per step of this process, of the cluster's process (scheduler and nannies) and of the two
worker processes (from /proc), after a warm-up run. CPU time is steadier than wall time on a shared
machine, and it shows what a larger cluster would run out of first (the scheduler and the run's
process are one process each, however many workers there are). Prints the load average and a
final JSON line. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dask_scale import _namespace, calibrate, cpu_assets, start_child_cluster, trivial_assets  # noqa: E402
from distributed import Client  # noqa: E402

from orchestrator import materialize, open_store  # noqa: E402
from orchestrator.execution.executors.dask import DaskExecutor  # noqa: E402

GRAPHS = ("chain", "fan_in", "cpu", "bare")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(client: Client, cluster_pid: int, steps: int, work: Callable[[], str]) -> dict[str, Any]:
    workers = sorted(client.run(os.getpid).values())
    before = time.process_time(), cpu_seconds(cluster_pid), sum(cpu_seconds(p) for p in workers)
    t0 = time.perf_counter()
    status = work()
    wall = time.perf_counter() - t0
    after = time.process_time(), cpu_seconds(cluster_pid), sum(cpu_seconds(p) for p in workers)
    per_step = [(a - b) * 1000 / steps for a, b in zip(after, before, strict=True)]
    return {"steps": steps, "wall_s": wall, "ms_per_step": wall * 1000 / steps, "run_process_cpu_ms": per_step[0],
            "scheduler_cpu_ms": per_step[1], "workers_cpu_ms": per_step[2], "status": status}


def ours(assets: list[Any], executor: DaskExecutor, tmpdir: str) -> Callable[[], str]:
    def run() -> str:
        home = Path(tempfile.mkdtemp(prefix="orch-dask-cpu-", dir=tmpdir))
        store = open_store(None, home)
        try:
            return materialize(assets, home=home, store=store, executor=executor).status.value
        finally:
            store.close()
            shutil.rmtree(home, ignore_errors=True)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("graphs", nargs="*", help=f"some of {', '.join(GRAPHS)} (default: all)")
    parser.add_argument("--trivial-assets", type=int, default=1000)
    parser.add_argument("--cpu-assets", type=int, default=200)
    parser.add_argument("--work-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    args.graphs = args.graphs or list(GRAPHS)
    unknown = set(args.graphs) - set(GRAPHS)
    if unknown:
        parser.error(f"unknown graphs {sorted(unknown)}; choose from {', '.join(GRAPHS)}")
    load_before = os.getloadavg()
    tmpdir = tempfile.mkdtemp(prefix="orch-dask-cpu-")
    cluster, address = start_child_cluster(str(Path(tmpdir) / "dask"), 2)
    rows: dict[str, dict[str, Any]] = {}
    try:
        client = Client(address, set_as_default=False)
        executor = DaskExecutor(address=address)
        ours(trivial_assets("fan_in", 8), executor, tmpdir)()  # warm-up: workers import their libraries
        loops = work_s = None
        if {"cpu", "bare"} & set(args.graphs):
            loops, work_s = calibrate(args.work_ms)
        for graph in args.graphs:
            if graph in ("chain", "fan_in"):
                run = ours(trivial_assets(graph, args.trivial_assets), executor, tmpdir)
                rows[graph] = measure(client, cluster.pid, args.trivial_assets, run)
            elif graph == "cpu":
                rows[graph] = measure(client, cluster.pid, args.cpu_assets,
                                      ours(cpu_assets(args.cpu_assets, loops), executor, tmpdir))
            else:
                fn = _namespace("bench_bare")["cpu_work"]
                client.submit(fn, 1, pure=False).result()
                rows[graph] = measure(client, cluster.pid, args.cpu_assets, lambda: (client.gather(
                    [client.submit(fn, loops, pure=False) for _ in range(args.cpu_assets)]), "succeeded")[1])
        client.close()
    finally:
        cluster.close()
        shutil.rmtree(tmpdir, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"CPU per step on a 2-worker LocalCluster (its own process); load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after" + (f"; cpu work {work_s * 1000:.1f} ms" if work_s else ""))
    print()
    header = f"{'graph':<8} {'steps':>6} {'wall s':>7} {'ms/step':>8} {'run process':>12} {'scheduler':>10} {'workers':>8}  (CPU ms/step)"
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        print(f"{name:<8} {r['steps']:>6} {r['wall_s']:>7.2f} {r['ms_per_step']:>8.2f} {r['run_process_cpu_ms']:>12.2f} "
              f"{r['scheduler_cpu_ms']:>10.2f} {r['workers_cpu_ms']:>8.2f}  {r['status']}")
    print()
    print(json.dumps({"benchmark": "dask_cpu", "loadavg": [load_before, load_after],
                      "work_ms": work_s * 1000 if work_s else None, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
