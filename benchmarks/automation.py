"""Automation at scale: one declarative-automation evaluation, queue throughput and launch latency,
and the daemon's memory.

    .venv/bin/python benchmarks/automation.py                  # everything (first run builds the 1M-event store)
    .venv/bin/python benchmarks/automation.py --skip-dagster   # ours only
    .venv/bin/python benchmarks/automation.py --only evaluation|queue|memory

- evaluation: 10,000 Python assets (100 layers x 100, each reading 2-3 of the layer before, all
  `eager()`) and a SQLite store of 1,000,000 events (50 runs materializing every asset: step start +
  materialization each, stamped with code and input versions), where the last run changed 10 root
  assets' data. One evaluation = reading the snapshot (latest materializations, runs in progress,
  checks, automation state) + evaluating every condition + grouping the requests; timed cold (the
  first in the process) and warm (best of 3), and the daemon's full tick (with its commit). Target
  < 1 s. Dagster: `evaluate_automation_conditions` on the same graph with AutomationCondition.eager(),
  in its own venv, on an instance holding one materialization per asset (reporting 1M events
  through Dagster's API is not feasible: the rate is printed).
- queue: 1,000 trivial runs queued at once through one `orch daemon` (runs/s), and the launch
  latency (enqueue -> the run's first step) of 40 runs queued one at a time on an idle daemon
  (p50 / p95; target p50 < 0.5 s).
- memory: peak RSS of `orch daemon` (and its fork server) on the 10,000-asset definitions for 20 s
  of ticking; target < 300 MB.
Prints a table per part and a final JSON line; never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _venv import WORK, ensure_venv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DAGSTER_VERSION = "1.13.29"
LAYERS, WIDTH, RUNS, CHANGED_ROOTS = 100, 100, 50, 10


def name(layer: int, i: int) -> str:
    return f"l{layer:03d}_{i:03d}"


def graph_spec(seed: int = 0) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    spec = []
    for layer in range(LAYERS):
        for i in range(WIDTH):
            parents = [] if layer == 0 else [name(layer - 1, p) for p in rng.sample(range(WIDTH), rng.choice((2, 3)))]
            spec.append((name(layer, i), parents))
    return spec


def write_defs(path: Path, spec: list[tuple[str, list[str]]]) -> None:
    lines = ["from orchestrator import AutomationCondition, Definitions, asset", "EAGER = AutomationCondition.eager()", ""]
    for asset_name, parents in spec:
        lines += ["@asset(automation=EAGER, code_version='1')", f"def {asset_name}({', '.join(parents)}):", "    return None", ""]
    lines.append(f"defs = Definitions(assets=[{', '.join(n for n, _ in spec)}])")
    path.write_text("\n".join(lines) + "\n")


def build_store(db: Path, spec: list[tuple[str, list[str]]]) -> None:
    """50 runs over every asset: 1,000,000 events, the last run with new data at 10 roots."""
    from orchestrator import AssetKey
    from orchestrator.storage import open_store
    from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus

    tmp = db.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    store = open_store(f"sqlite:///{tmp}", tmp.parent)
    keys = {n: AssetKey.parse(n) for n, _ in spec}
    started = time.perf_counter()
    for run in range(RUNS):
        run_id = f"run{run:04d}" + "0" * 25
        store.create_run(RunRecord(run_id, RunStatus.SUCCEEDED, "*", (), None, 1_700_000_000.0 + run * 3600,
                                   ended_at=1_700_000_000.0 + run * 3600 + 600, launched_by="api"))
        changed = {name(0, i) for i in range(CHANGED_ROOTS)} if run == RUNS - 1 else set()
        batch = []
        for position, (asset_name, parents) in enumerate(spec):
            stamp = 1_700_000_000.0 + run * 3600 + position * 0.01
            version = f"{asset_name}:v{run if asset_name in changed else 0}"
            inputs = {p: f"{p}:v0" for p in parents}
            batch.append(Event(run_id, EventType.STEP_STARTED, stamp, step_key=asset_name, asset_key=keys[asset_name]))
            batch.append(Event(run_id, EventType.MATERIALIZATION, stamp + 0.005, step_key=asset_name,
                               asset_key=keys[asset_name],
                               data={"metadata": {"data_version": version}, "code_version": "1",
                                     "input_versions": inputs}))
            if len(batch) >= 10_000:
                store.append(batch)
                batch = []
        store.append(batch)
        print(f"  [store] run {run + 1}/{RUNS}: {store.event_count():,} events "
              f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    store.close()
    tmp.rename(db)


def evaluation_part(skip_dagster: bool) -> dict:
    spec = graph_spec()
    WORK.mkdir(exist_ok=True)
    defs_path = WORK / "automation_defs_10k.py"
    if not defs_path.exists():
        write_defs(defs_path, spec)
    db = WORK / "automation_1m.db"
    if not db.exists():
        print("[setup] building the 1,000,000-event store (first run only, a few minutes) ...", file=sys.stderr)
        build_store(db, spec)
    code = f"""
import json, shutil, sys, time, tempfile
from pathlib import Path
t0 = time.perf_counter()
from orchestrator.definitions import load_definitions
from orchestrator.storage import open_store
from orchestrator.automation.automation_tick import evaluate_now, run_automation
defs = load_definitions({str(defs_path)!r}); graph = defs.graph
loaded = time.perf_counter() - t0
import gc; gc.freeze()  # as the daemon does once its definitions are loaded
copy = Path(tempfile.mkdtemp()) / "store.db"; shutil.copy({str(db)!r}, copy)
store = open_store(f"sqlite:///{{copy}}", copy.parent)
now = 1_700_000_000.0 + {RUNS} * 3600
t = time.perf_counter(); evaluation, snapshot = evaluate_now(defs, store, now); cold = time.perf_counter() - t
warm = []
for _ in range(3):
    t = time.perf_counter(); evaluate_now(defs, store, now); warm.append(time.perf_counter() - t)
t = time.perf_counter(); first = run_automation(defs, store, now, "bench"); tick_first = time.perf_counter() - t
t = time.perf_counter(); run_automation(defs, store, now + 30, "bench"); tick_again = time.perf_counter() - t
import resource
print(json.dumps({{"assets": len(graph), "events": store.event_count(), "load_defs_s": loaded, "cold_s": cold,
                  "warm_s": min(warm), "tick_first_s": tick_first, "tick_again_s": tick_again,
                  "requested": len(evaluation.requested), "runs": len(evaluation.runs),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    ours = json.loads(out.stdout.strip().splitlines()[-1])
    dagster = None
    if not skip_dagster:
        python = ensure_venv("dagster-venv", f"dagster=={DAGSTER_VERSION}", "dagster", DAGSTER_VERSION)
        spec_path = WORK / "automation_spec.json"
        spec_path.write_text(json.dumps(spec))
        run = subprocess.run([str(python), str(Path(__file__).with_name("_dagster_automation.py")), str(spec_path)],
                             capture_output=True, text=True, timeout=3600)
        dagster = json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 else {"error": run.stderr[-2000:]}
    print(f"\nevaluation: {ours['assets']:,} assets, {ours['events']:,} events (SQLite)")
    print(f"  ours cold  {ours['cold_s']:.3f} s   warm {ours['warm_s']:.3f} s   (target < 1 s: "
          f"{'met' if ours['cold_s'] < 1 else 'NOT MET'})")
    print(f"  ours daemon tick with its commit: first {ours['tick_first_s']:.3f} s (stores 10,000 states), "
          f"then {ours['tick_again_s']:.3f} s")
    print(f"  requested {ours['requested']:,} assets in {ours['runs']} run(s); defs load {ours['load_defs_s']:.2f} s;"
          f" peak RSS {ours['peak_rss_mb']:.0f} MB")
    if dagster:
        if "error" in dagster:
            print(f"  dagster: failed: {dagster['error'][-400:]}")
        else:
            print(f"  dagster {DAGSTER_VERSION}: evaluate_automation_conditions {dagster['evaluate_s']:.2f} s "
                  f"on {dagster['events']:,} events ({dagster['requested']:,} requested); reporting events "
                  f"{dagster['report_rate']:.0f}/s, so 1M events would take {1e6 / dagster['report_rate'] / 3600:.1f} h")
            print(f"  ratio dagster / ours (cold): {dagster['evaluate_s'] / ours['cold_s']:.0f}x")
    return {"ours": ours, "dagster": dagster}


QUEUE_DEFS = '''from orchestrator import Definitions, asset

@asset
def trivial():
    return 1

defs = Definitions(assets=[trivial])
'''


def queue_part(runs: int = 1000, probes: int = 40) -> dict:
    from orchestrator.definitions import load_definitions
    from orchestrator.launch.queue import enqueue_run
    from orchestrator.storage import open_store
    from orchestrator.storage.events import EventType

    home = Path(tempfile.mkdtemp(prefix="orch-bench-queue-"))
    defs_path = home / "defs.py"
    defs_path.write_text(QUEUE_DEFS)
    env = {**os.environ, "ORCH_HOME": str(home / "home"), "ORCH_DEFS": str(defs_path)}
    store = open_store(None, home / "home")
    defs = load_definitions(str(defs_path))
    daemon = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "daemon"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # the fork server is up
        latencies = []
        for _ in range(probes):
            run = enqueue_run(store, defs, selection="trivial")
            while not store.get_run(run.run_id).status.terminal:
                time.sleep(0.01)
            first = store.events(run.run_id, types=[EventType.STEP_STARTED])[0]
            latencies.append(first.timestamp - run.enqueued_at)
        started = time.perf_counter()
        ids = [enqueue_run(store, defs, selection="trivial").run_id for _ in range(runs)]
        enqueued = time.perf_counter() - started
        while any(not r.status.terminal for r in store.list_runs(limit=runs + probes + 10)):
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        daemon.terminate()
        daemon.wait()
    statuses = {store.get_run(i).status.value for i in ids}
    latencies.sort()
    result = {"runs": runs, "seconds": elapsed, "runs_per_s": runs / elapsed, "enqueue_s": enqueued,
              "statuses": sorted(statuses), "latency_p50_s": statistics.median(latencies),
              "latency_p95_s": latencies[int(0.95 * (len(latencies) - 1))]}
    print(f"\nqueue: {runs:,} trivial runs through one daemon in {elapsed:.1f} s = {result['runs_per_s']:.1f} runs/s "
          f"(statuses {', '.join(result['statuses'])}; queuing them took {enqueued:.1f} s)")
    print(f"  launch latency, enqueue -> first step, idle daemon: p50 {result['latency_p50_s'] * 1000:.0f} ms, "
          f"p95 {result['latency_p95_s'] * 1000:.0f} ms (target p50 < 500 ms: "
          f"{'met' if result['latency_p50_s'] < 0.5 else 'NOT MET'})")
    return result


def _memory_mb(pid: int) -> dict[str, float]:
    """Resident (RSS, peak), proportional (PSS: shared pages split between the processes sharing
    them) and private memory of a process, MB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        rollup[key] = int(value.split()[0]) / 1024
    return {"rss": int(status["VmRSS"].split()[0]) / 1024, "peak": int(status["VmHWM"].split()[0]) / 1024,
            "pss": rollup.get("Pss", 0.0),
            "private": rollup.get("Private_Clean", 0.0) + rollup.get("Private_Dirty", 0.0)}


def memory_part(seconds: float = 20.0) -> dict:
    spec = graph_spec()
    WORK.mkdir(exist_ok=True)
    defs_path = WORK / "automation_defs_10k.py"
    if not defs_path.exists():
        write_defs(defs_path, spec)
    home = Path(tempfile.mkdtemp(prefix="orch-bench-mem-"))
    env = {**os.environ, "ORCH_HOME": str(home), "ORCH_DEFS": str(defs_path)}
    daemon = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "daemon", "--automation-interval", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak, worst = 0.0, {"daemon_pss": 0.0, "server_pss": 0.0, "daemon_private": 0.0, "server_private": 0.0}
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.5)
            ours = _memory_mb(daemon.pid)
            peak = max(peak, ours["peak"])
            worst["daemon_pss"] = max(worst["daemon_pss"], ours["pss"])
            worst["daemon_private"] = max(worst["daemon_private"], ours["private"])
            for child in Path(f"/proc/{daemon.pid}/task/{daemon.pid}/children").read_text().split():
                try:
                    server = _memory_mb(int(child))
                except FileNotFoundError:
                    continue
                worst["server_pss"] = max(worst["server_pss"], server["pss"])
                worst["server_private"] = max(worst["server_private"], server["private"])
    finally:
        daemon.terminate()
        daemon.wait()
    total = worst["daemon_pss"] + worst["server_pss"]
    print(f"\nmemory: `orch daemon` on {len(spec):,} assets, {seconds:.0f} s of ticking: peak RSS {peak:.0f} MB; "
          f"daemon + its fork server together (PSS, shared pages counted once) {total:.0f} MB "
          f"(daemon {worst['daemon_pss']:.0f}, fork server {worst['server_pss']:.0f}; private "
          f"{worst['daemon_private']:.0f} + {worst['server_private']:.0f}); target < 300 MB: "
          f"{'met' if total < 300 else 'NOT MET'}")
    return {"daemon_peak_rss_mb": peak, "total_pss_mb": total, **{f"{k}_mb": v for k, v in worst.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-dagster", action="store_true")
    parser.add_argument("--only", choices=["evaluation", "queue", "memory"])
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args(argv)
    print(f"load average: {os.getloadavg()[0]:.1f}")
    result: dict = {"benchmark": "automation", "load_average": os.getloadavg()[0]}
    if args.only in (None, "evaluation"):
        result["evaluation"] = evaluation_part(args.skip_dagster)
    if args.only in (None, "queue"):
        result["queue"] = queue_part(args.runs)
    if args.only in (None, "memory"):
        result["memory"] = memory_part()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
