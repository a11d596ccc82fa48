"""Running a 10-model subset of a 1,000-model dbt project: ours against the dbt CLI and dagster-dbt.

    .venv/bin/python benchmarks/dbt_subset.py              # first run builds the warehouse (~4 min)
    .venv/bin/python benchmarks/dbt_subset.py --skip-dagster

The project is benchmarks/dbt_gen's (1,000 models, seed 0), shared with dbt_load.py under
benchmarks/.work/dbt_gen_1000/. Its warehouse is benchmarks/.work/dbt_gen_1000.warehouse.duckdb
(BENCH_WAREHOUSE_PATH, the same for every tool), BUILT once (raw tables + a full `dbt build`) and
reused while its marker file says so. The subset: the mart with the highest number that has 9
non-ephemeral model ancestors reachable through non-ephemeral models, and its 9 nearest such
ancestors (breadth first), so the 10 models are connected.

Every run is a fresh process from the parent, timed from the parent (wall clock, everything in):

    dbt CLI      `dbt build --select m1 ... m10` with cwd = the project (this venv's dbt): builds the
                 models and runs their tests (dbt's default, eager indirect selection); partial
                 parsing as a user has it (target/partial_parse.msgpack from earlier parses).
    ours         `orch --defs <defs.py> materialize --select "<the 10 keys>" --json` (this venv),
                 defs.py = Definitions(assets=dbt_assets(DbtProject(root))), ORCH_HOME one temp dir
                 for all our runs (SQLite store; a user has one home, and our parse records
                 ORCH_HOME, so another value would re-parse). One `dbt build` in process on the
                 cached parsed manifest, tests included as checks. One untimed warm-up first: the
                 dbt CLI rewrote target/manifest.json, so our caches (keyed by its checksum) are
                 refreshed once, as `orch dbt parse` would.
    dagster-dbt  _dagster_dbt.py materialize in benchmarks/.work/dagster-venv: @dbt_assets on the
                 same manifest, dagster.materialize(selection=the 10 keys) on a SQLite instance,
                 DbtCliResource(project_dir) running `dbt.cli(["build"], context=context).stream()`.

DuckDB allows one writer per file: the tools run one after another. Each row is the best of
--repeat runs. Prints the runs, the ratios (targets: ours faster than the dbt CLI, and at least 3x
faster than dagster-dbt) and a final JSON line. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dbt_load import (  # noqa: E402
    DAGSTER_SCRIPT,
    OUR_PYTHON,
    bin_of,
    dbt_env,
    ensure_dagster_dbt,
    ensure_parsed,
    ensure_project,
    git_state,
    log,
    versions,
    warehouse_path,
)

MODELS = 1000
SUBSET = 10
TARGET_VS_DAGSTER = 3.0  # dagster-dbt / ours
DEFS_TEMPLATE = """\
from orchestrator import Definitions
from integrations.dbt import DbtProject, dbt_assets

defs = Definitions(assets=dbt_assets(DbtProject({root!r})))
"""


# -- the project ------------------------------------------------------------------------------


def run_results(root: Path, elapsed: bool = False) -> dict[str, Any]:
    """target/run_results.json of the last dbt CLI run: counts by resource type and status
    (and dbt's own elapsed_time, when asked)."""
    counts: dict[str, Any] = {}
    path = root / "target" / "run_results.json"
    if not path.exists():
        return counts
    data = json.loads(path.read_text())
    if elapsed:
        counts["elapsed_time"] = data.get("elapsed_time")
    for result in data["results"]:
        kind = result["unique_id"].split(".", 1)[0]
        counts.setdefault(kind, {})
        counts[kind][result["status"]] = counts[kind].get(result["status"], 0) + 1
    return counts


def ensure_built(root: Path, models: int) -> dict[str, Any]:
    """The warehouse with raw tables and a full `dbt build`, once; its marker records the build."""
    warehouse = warehouse_path(models)
    marker = warehouse.with_name(warehouse.name + ".built.json")
    if warehouse.exists() and marker.exists():
        return {**json.loads(marker.read_text()), "reused": True}
    from benchmarks.dbt_gen import create_raw_tables

    marker.unlink(missing_ok=True)
    log(f"[setup] raw tables + full `dbt build` into {warehouse} (once; ~4 min for 1,000 models) ...")
    create_raw_tables(warehouse)
    t0 = time.perf_counter()
    done = subprocess.run([str(bin_of(OUR_PYTHON, "dbt")), "build", "--quiet"], cwd=root,
                          env=dbt_env(models), capture_output=True, text=True)
    built = {"seconds": round(time.perf_counter() - t0, 1), "returncode": done.returncode,
             "results": run_results(root)}
    log(f"[setup] built in {built['seconds']} s: {built['results']}")
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        log("[setup] the full build had failures; the benchmark goes on (see the counts)")
    marker.write_text(json.dumps(built))
    return {**built, "reused": False}


def pick_subset(manifest_path: Path, size: int) -> list[dict[str, str]]:
    """A mart and its nearest size-1 non-ephemeral model ancestors, walking only through those."""
    nodes = json.loads(manifest_path.read_text())["nodes"]
    models = {uid: n for uid, n in nodes.items()
              if n["resource_type"] == "model" and n["config"].get("materialized") != "ephemeral"}
    marts = sorted((uid for uid, n in models.items() if n["fqn"][1] == "marts"),
                   key=lambda uid: int(models[uid]["name"].rsplit("_", 1)[1]), reverse=True)
    for mart in marts:
        chosen, queue = [mart], deque([mart])
        while queue and len(chosen) < size:
            for parent in models[queue.popleft()]["depends_on"]["nodes"]:
                if parent in models and parent not in chosen and len(chosen) < size:
                    chosen.append(parent)
                    queue.append(parent)
        if len(chosen) == size:
            return [{"name": models[u]["name"], "key": "/".join(models[u]["fqn"][1:]),
                     "materialized": models[u]["config"]["materialized"]} for u in chosen]
    raise RuntimeError(f"no mart with {size - 1} non-ephemeral model ancestors in {manifest_path}")


# -- the three tools --------------------------------------------------------------------------


def timed(command: list[str], **kwargs: Any) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    return done, time.perf_counter() - t0


def run_dbt_cli(root: Path, names: list[str]) -> dict[str, Any]:
    done, wall = timed([str(bin_of(OUR_PYTHON, "dbt")), "build", "--select", *names], cwd=root,
                       env=dbt_env(MODELS))
    counts = run_results(root, elapsed=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:])
    return {"wall_s": wall, "ok": done.returncode == 0, "dbt_elapsed_s": counts.pop("elapsed_time", None),
            "models": sum(counts.get("model", {}).values()),
            "tests": sum(counts.get("test", {}).values()),
            "tests_passed": counts.get("test", {}).get("pass", 0), "counts": counts}


def _json_out(stdout: str) -> dict[str, Any]:
    start = stdout.find("\n{")
    return json.loads(stdout if stdout.startswith("{") else stdout[start + 1:])


def run_ours(root: Path, defs_file: Path, keys: list[str], home: Path) -> dict[str, Any]:
    orch = str(bin_of(OUR_PYTHON, "orch"))
    env = {**dbt_env(MODELS), "ORCH_HOME": str(home)}
    done, wall = timed([orch, "--defs", str(defs_file), "materialize", "--select", " ".join(keys),
                        "--json"], cwd=root, env=env)
    try:
        summary = _json_out(done.stdout)
    except (ValueError, json.JSONDecodeError):
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        return {"wall_s": wall, "ok": False, "status": f"exit {done.returncode}, no JSON"}
    detail_run = subprocess.run([orch, "--defs", str(defs_file), "runs", "show", summary["run_id"],
                                 "--json"], cwd=root, env=env, capture_output=True, text=True)
    detail = _json_out(detail_run.stdout) if detail_run.returncode == 0 else {}
    checks = detail.get("checks", [])
    if summary["status"] != "succeeded":
        sys.stderr.write(json.dumps(summary.get("errors"))[:3000] + "\n")
    return {"wall_s": wall, "ok": summary["status"] == "succeeded", "status": summary["status"],
            "models": len(detail.get("materializations", [])), "tests": len(checks),
            "tests_passed": sum(1 for c in checks if c["data"].get("passed")),
            "assets": summary["assets"]}


def run_dagster(python: Path, root: Path, names: list[str], tmpdir: str | None) -> dict[str, Any]:
    command = [str(python), str(DAGSTER_SCRIPT), "materialize", "--manifest",
               str(root / "target" / "manifest.json"), "--project-dir", str(root),
               "--models", ",".join(names)]
    done, wall = timed(command + (["--tmpdir", tmpdir] if tmpdir else []), cwd=root, env=dbt_env(MODELS))
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-4000:])
        return {"wall_s": wall, "ok": False}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "ok": bool(out["success"]), "models": len(out["materialized"]),
            "tests": out["checks"], "tests_passed": out["checks_passed"], "load_s": out["load_s"],
            "run_s": out["run_s"], "import_s": out["import_s"], "peak_rss_mb": out["peak_rss_mb"],
            "keys": out["keys"]}


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    chosen = min(runs, key=lambda r: r["wall_s"] if r["ok"] else float("inf"))
    return {**chosen, "all_wall_s": [round(r["wall_s"], 2) for r in runs],
            "all_ok": [r["ok"] for r in runs]}


# -- report -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the best counts (3)")
    parser.add_argument("--skip-dagster", action="store_true")
    parser.add_argument("--tmpdir", default=None, help="where ORCH_HOME and Dagster's instances go")
    args = parser.parse_args(argv)

    root = ensure_project(MODELS)
    manifest = ensure_parsed(root, MODELS)
    dagster_python = None if args.skip_dagster else ensure_dagster_dbt()
    build = ensure_built(root, MODELS)
    subset = pick_subset(manifest, SUBSET)
    names, keys = [m["name"] for m in subset], [m["key"] for m in subset]
    log("[subset] " + ", ".join(f"{m['key']} ({m['materialized']})" for m in subset))

    rows: dict[str, dict[str, Any]] = {}
    log(f"[dbt CLI] x{args.repeat} ...")
    rows["dbt CLI"] = best([run_dbt_cli(root, names) for _ in range(args.repeat)])

    # One ORCH_HOME (a temp dir) for the warm-up and the timed runs, as a user has one home: our
    # parse records ORCH_HOME among the variables it parsed under, and another value re-parses.
    home = Path(tempfile.mkdtemp(prefix="orch-dbt-subset-", dir=args.tmpdir))
    defs_file = home / "bench_defs.py"
    defs_file.write_text(DEFS_TEMPLATE.format(root=str(root)))
    try:
        log("[ours] warm-up (refreshes the caches after the dbt CLI rewrote manifest.json) ...")
        warmup = run_ours(root, defs_file, keys, home)
        log(f"[ours] x{args.repeat} ...")
        rows["ours"] = best([run_ours(root, defs_file, keys, home) for _ in range(args.repeat)])
    finally:
        shutil.rmtree(home, ignore_errors=True)

    if dagster_python is not None:
        before = {p.name for p in (root / "target").iterdir() if p.is_dir()}
        log(f"[dagster-dbt] x{args.repeat} ...")
        try:
            rows["dagster-dbt"] = best([run_dagster(dagster_python, root, names, args.tmpdir)
                                        for _ in range(args.repeat)])
        finally:  # dagster-dbt leaves one target/<step>-<run>-<id>/ per invocation
            for p in (root / "target").iterdir():
                if p.is_dir() and p.name not in before:
                    shutil.rmtree(p, ignore_errors=True)

    found = versions(dagster_python)
    code = git_state()
    ours, cli, dag = rows["ours"], rows["dbt CLI"], rows.get("dagster-dbt")
    print()
    print(f"A {SUBSET}-model subset of the generated {MODELS:,}-model project (benchmarks/dbt_gen, seed 0), "
          f"warehouse {warehouse_path(MODELS).name} "
          + ("(reused)" if build.get("reused") else f"(built now in {build['seconds']} s)") + ":")
    for m in subset:
        print(f"  {m['key']:<22} {m['materialized']}")
    print(f"Wall time of a fresh process from the parent; best of {args.repeat}.")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    print(f"code: commit {code['commit']}"
          + (f", working tree differs in {', '.join(code['dirty_files'])}" if code["dirty_files"] else "")
          + f"; load average at the end {code['load_average']} on {os.cpu_count()} cores")
    print()
    header = f"{'tool':<12} {'wall s':>8} {'models':>7} {'tests':>6} {'passed':>7}  ok    all runs (s)"
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        print(f"{name:<12} {r['wall_s']:>8.2f} {r.get('models', '-'):>7} {r.get('tests', '-'):>6} "
              f"{r.get('tests_passed', '-'):>7}  {str(r['ok']):<5} {r['all_wall_s']}")
    if cli.get("dbt_elapsed_s") is not None:
        print(f"dbt CLI's own elapsed_time (run_results.json, after its parse): {cli['dbt_elapsed_s']:.2f} s")
    print(f"ours warm-up (not in the table): {warmup['wall_s']:.2f} s, {warmup.get('status')}")
    if dag:
        print(f"dagster-dbt inside its process: import {dag['import_s']:.2f} s, load {dag['load_s']:.2f} s, "
              f"materialize {dag['run_s']:.2f} s, peak {dag['peak_rss_mb']:.0f} MB")
    print("tests: dbt CLI = its test results (eager indirect selection); ours = check results "
          "(`--indirect-selection buildable`); dagster-dbt = asset check evaluations.")

    cli_over_ours = cli["wall_s"] / ours["wall_s"] if ours["ok"] and cli["ok"] else None
    dag_over_ours = dag["wall_s"] / ours["wall_s"] if dag and dag["ok"] and ours["ok"] else None
    targets = {"faster_than_dbt_cli": None if cli_over_ours is None else cli_over_ours > 1,
               "3x_faster_than_dagster": None if dag_over_ours is None else dag_over_ours >= TARGET_VS_DAGSTER}
    print()
    if cli_over_ours is not None:
        print(f"dbt CLI / ours = {cli_over_ours:.2f}x: target ours faster than the dbt CLI: "
              f"{'MET' if targets['faster_than_dbt_cli'] else 'NOT MET'}")
    if dag_over_ours is not None:
        print(f"dagster-dbt / ours = {dag_over_ours:.2f}x: target >= {TARGET_VS_DAGSTER:g}x: "
              f"{'MET' if targets['3x_faster_than_dagster'] else 'NOT MET'}")
    if not ours["ok"]:
        print(f"ours did not succeed: {ours.get('status')}")

    def slim(r: dict[str, Any]) -> dict[str, Any]:
        keep = ("wall_s", "ok", "models", "tests", "tests_passed", "all_wall_s", "dbt_elapsed_s", "import_s",
                "load_s", "run_s", "peak_rss_mb")
        return {k: (round(r[k], 3) if isinstance(r[k], float) else r[k]) for k in keep if k in r}

    summary = {"benchmark": "dbt_subset", "models": MODELS, "subset": keys, "repeat": args.repeat,
               "build": build, "versions": found, "code": code,
               "rows": {name: slim(r) for name, r in rows.items()},
               "ours_warmup_s": round(warmup["wall_s"], 3),
               "ratios": {"dbt_cli / ours": None if cli_over_ours is None else round(cli_over_ours, 3),
                          "dagster_dbt / ours": None if dag_over_ours is None else round(dag_over_ours, 3)},
               "targets": targets}
    print()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
