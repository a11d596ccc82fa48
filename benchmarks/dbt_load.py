"""Loading a large dbt project: ours (cold and from the cache) against dagster-dbt and json.load.

    .venv/bin/python benchmarks/dbt_load.py                          # 1,000 / 5,000 / 10,000 models
    .venv/bin/python benchmarks/dbt_load.py --sizes 1000 --skip-dagster
    .venv/bin/python benchmarks/dbt_load.py --sizes 10000 --profile  # + cProfile of ours cold, warm

Projects come from benchmarks/dbt_gen (seed 0), cached under benchmarks/.work/dbt_gen_<N>/ and
`dbt parse`d once with this venv's dbt (not timed). Every measurement is a FRESH child process,
so imports and memory are honest; peak RSS is the child's own `ru_maxrss`:

    ours cold    target/orch_nodes.* and target/orch_manifest.stamp deleted first, then
                 DbtProject(root, reparse="never") + dbt_assets(project)   (load)
                 Definitions(assets=...).graph                             (graph: build + validate)
                 resolve("+<last mart>", graph)                            (select)
    ours warm    the same with the caches the cold run wrote
    dagster-dbt  @dbt_assets(manifest=path) (load), Definitions(assets=[...]) +
                 defs.resolve_asset_graph() (graph), AssetSelection.assets(mart).upstream()
                 .resolve(asset_graph) (select); in benchmarks/.work/dagster-venv (_dagster_dbt.py)
    json.load    of manifest.json (reference); orjson.loads (extra: what ours parses with)

"total" = load + graph + select; imports are reported apart ("import"), and "process" is the
child's whole wall time seen from the parent (interpreter start, imports, everything). Each row is
the best of --repeat children (dagster-dbt: --dagster-repeat). Prints a table per size, the
ratios, the targets (10,000 models: < 3 s cold, < 0.5 s from the cache, less memory than
dagster-dbt) and a final JSON line. Never asserts.

dbt_subset.py imports the project, venv and child helpers from here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO))  # benchmarks.dbt_gen

from _venv import WORK, ensure_venv, installed_version  # noqa: E402

DAGSTER_VERSION = "1.13.29"  # the Dagster of overhead.py; same venv
# dagster-dbt 0.29.27 is the newest on PyPI and pins dagster==1.13.27 (no 0.29.29 exists yet), so it
# is installed with --no-deps beside dagster 1.13.29 and its own requirements are listed here.
# Dagster only warns about the library version mismatch.
DAGSTER_DBT_VERSION = "0.29.27"
DAGSTER_DBT_DEPS = ("gitpython", "jinja2", "networkx", "orjson", "packaging", "requests", "rich",
                    "sqlglot[rs]", "typer>=0.9.0")
DBT_PINS = ("dbt-core==1.11.16", "dbt-duckdb==1.11.1", "duckdb==1.5.5")  # the same dbt as ours
DAGSTER_SCRIPT = HERE / "_dagster_dbt.py"
WAREHOUSE_ENV = "BENCH_WAREHOUSE_PATH"
DEFAULT_SIZES = (1000, 5000, 10000)
TARGET_COLD_S = 3.0  # 10,000 models
TARGET_WARM_S = 0.5  # 10,000 models, from the cache
TARGET_SIZE = 10000
MB = 1024 * 1024


# -- shared with dbt_subset.py ----------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bin_of(python: Path, name: str) -> Path:
    """An executable beside a venv's python (dbt, orch), without resolving the venv's symlink."""
    return python.parent / name


OUR_PYTHON = Path(sys.executable)


def warehouse_path(models: int) -> Path:
    """The warehouse of the generated project of `models` models, for every tool and every dbt call.

    dbt's partial parsing hashes the profile's connection info (the DuckDB path included): one
    fixed path keeps the parse state valid across dbt_load, dbt_subset, the dbt CLI and Dagster.
    """
    return WORK / f"dbt_gen_{models}.warehouse.duckdb"


def dbt_env(models: int) -> dict[str, str]:
    return {**os.environ, WAREHOUSE_ENV: str(warehouse_path(models)),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def project_root(models: int) -> Path:
    return WORK / f"dbt_gen_{models}"


def ensure_project(models: int) -> Path:
    """benchmarks/.work/dbt_gen_<N>: generated once (seed 0), reused as is afterwards."""
    root = project_root(models)
    if (root / "lineage_truth.json").exists() and (root / "dbt_project.yml").exists():
        return root
    from benchmarks.dbt_gen.generate import generate_project

    log(f"[setup] generating {models} models into {root} ...")
    t0 = time.perf_counter()
    generate_project(root, models=models, seed=0)
    log(f"[setup] generated in {time.perf_counter() - t0:.1f} s")
    return root


def manifest_is_fresh(root: Path) -> bool:
    from integrations.dbt import DbtProject

    return not DbtProject(root, reparse="never").is_stale()


def ensure_parsed(root: Path, models: int) -> Path:
    """target/manifest.json, written once by `dbt parse` with this venv's dbt (not timed)."""
    manifest = root / "target" / "manifest.json"
    # Our in-process parses (dbt_subset's runs) record the environment they parsed under, and a
    # different ORCH_HOME then makes the manifest stale. These manifests come from the dbt CLI,
    # which the record does not describe: drop it so reparse="never" loads what is there.
    (root / "target" / "orch_parse_env.json").unlink(missing_ok=True)
    if manifest.exists() and manifest_is_fresh(root):
        return manifest
    log(f"[setup] dbt parse of {root.name} (once; 40 s at 1,000 models, ~3 min at 10,000) ...")
    t0 = time.perf_counter()
    done = subprocess.run([str(bin_of(OUR_PYTHON, "dbt")), "parse", "--quiet"], cwd=root,
                          env=dbt_env(models), capture_output=True, text=True)
    if done.returncode != 0 or not manifest.exists():
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise RuntimeError(f"dbt parse of {root} failed ({done.returncode})")
    log(f"[setup] parsed in {time.perf_counter() - t0:.1f} s")
    return manifest


def ensure_dagster_dbt() -> Path:
    """The python of benchmarks/.work/dagster-venv (overhead.py's) with dagster-dbt and our dbt added."""
    python = ensure_venv("dagster-venv", f"dagster=={DAGSTER_VERSION}", "dagster", DAGSTER_VERSION)
    env_dir = python.parent.parent
    wanted = {"dagster_dbt": DAGSTER_DBT_VERSION, "dbt.version": "1.11.16", "duckdb": "1.5.5"}
    if all(installed_version(env_dir, m) == v for m, v in wanted.items()):
        return python
    log(f"[setup] adding dagster-dbt {DAGSTER_DBT_VERSION} and {' '.join(DBT_PINS)} to {env_dir} ...")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, f"dagster=={DAGSTER_VERSION}", *DBT_PINS, *DAGSTER_DBT_DEPS], check=True)
    subprocess.run([*pip, "--no-deps", f"dagster-dbt=={DAGSTER_DBT_VERSION}"], check=True)
    found = {m: installed_version(env_dir, m) for m in wanted}
    if found != wanted:
        raise RuntimeError(f"{env_dir}: expected {wanted} after install, found {found}")
    return python


def run_child(command: list[str], *, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> tuple[dict[str, Any], float]:
    """Run a child that prints one JSON line last; its parsed line and its wall time."""
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-6000:])
        raise RuntimeError(f"{' '.join(command[:3])} ... exited with {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB
    except OSError:
        return None


def versions(dagster_python: Path | None) -> dict[str, Any]:
    from importlib.metadata import version

    found: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                             "orchestrator": version("orchestrator"), "dbt-core": version("dbt-core"),
                             "dbt-duckdb": version("dbt-duckdb"), "duckdb": version("duckdb")}
    if dagster_python is not None:
        env_dir = dagster_python.parent.parent
        found["dagster"] = installed_version(env_dir, "dagster")
        found["dagster-dbt"] = installed_version(env_dir, "dagster_dbt")
        found["dagster venv dbt-core"] = installed_version(env_dir, "dbt.version")
    return found


# -- the children -----------------------------------------------------------------------------


def child_ours(root: str, selection: str, profile: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    from orchestrator import Definitions, resolve
    from integrations.dbt import DbtProject, dbt_assets

    import_s = time.perf_counter() - t0
    rss_import = current_rss_mb()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    project = DbtProject(root, reparse="never")
    definitions = dbt_assets(project)
    t1 = time.perf_counter()
    graph = Definitions(assets=definitions).graph
    t2 = time.perf_counter()
    keys = resolve(selection, graph)
    t3 = time.perf_counter()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    return {"import_s": import_s, "load_s": t1 - t0, "graph_s": t2 - t1, "select_s": t3 - t2,
            "total_s": t3 - t0, "peak_rss_mb": peak_rss_mb(), "rss_after_import_mb": rss_import,
            "assets": len(graph), "checks": len(graph.checks), "edges": len(graph.edges()),
            "selected": len(keys)}


def child_json(manifest: str, parser: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    if parser == "orjson":
        import orjson

        import_s = time.perf_counter() - t0
        rss_import = current_rss_mb()
        t0 = time.perf_counter()
        with open(manifest, "rb") as f:
            data = orjson.loads(f.read())
    else:
        import_s = time.perf_counter() - t0
        rss_import = current_rss_mb()
        t0 = time.perf_counter()
        with open(manifest, "rb") as f:
            data = json.load(f)
    total = time.perf_counter() - t0
    return {"import_s": import_s, "load_s": total, "graph_s": None, "select_s": None, "total_s": total,
            "peak_rss_mb": peak_rss_mb(), "rss_after_import_mb": rss_import,
            "nodes": len(data["nodes"])}


# -- the parent -------------------------------------------------------------------------------


def last_mart(root: Path) -> str:
    """The mart with the highest number: deep in the DAG, so `+mart` is a real upstream walk."""
    marts = [p.stem for p in (root / "models" / "marts").glob("*.sql")]
    return max(marts, key=lambda name: int(name.rsplit("_", 1)[1]))


def clear_our_caches(root: Path) -> None:
    target = root / "target"
    for path in [*target.glob("orch_nodes.*"), target / "orch_manifest.stamp"]:
        path.unlink(missing_ok=True)


def cache_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "target").glob("orch_nodes.*"))


def best_of(runs: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    """The run with the lowest total; every total, wall and peak RSS kept beside it."""
    result, wall = min(runs, key=lambda r: r[0]["total_s"])
    return {**result, "process_s": wall, "runs": len(runs),
            "all_total_s": [round(r["total_s"], 4) for r, _ in runs],
            "all_process_s": [round(w, 3) for _, w in runs],
            "all_peak_rss_mb": [round(r["peak_rss_mb"], 1) for r, _ in runs]}


def measure_size(models: int, args: argparse.Namespace, dagster_python: Path | None) -> dict[str, Any]:
    root = ensure_project(models)
    manifest = ensure_parsed(root, models)
    mart = last_mart(root)
    me = [str(OUR_PYTHON), str(Path(__file__).resolve())]
    rows: dict[str, dict[str, Any]] = {}

    log(f"[{models}] ours cold x{args.repeat} ...")
    runs = []
    for _ in range(args.repeat):
        clear_our_caches(root)
        runs.append(run_child([*me, "--child", "ours", "--root", str(root), "--selection", f"+{mart}"]))
    rows["ours cold"] = best_of(runs)
    rows["ours cold"]["cache_mb"] = cache_bytes(root) / MB

    log(f"[{models}] ours warm x{args.repeat} ...")
    rows["ours warm"] = best_of([
        run_child([*me, "--child", "ours", "--root", str(root), "--selection", f"+{mart}"])
        for _ in range(args.repeat)
    ])

    if dagster_python is not None:
        log(f"[{models}] dagster-dbt x{args.dagster_repeat} ...")
        rows["dagster-dbt"] = best_of([
            run_child([str(dagster_python), str(DAGSTER_SCRIPT), "load", "--manifest", str(manifest),
                       "--model", mart])
            for _ in range(args.dagster_repeat)
        ])

    for parser in ("json", "orjson"):
        log(f"[{models}] {parser} x{args.repeat} ...")
        rows[f"{parser}.load" if parser == "json" else "orjson.loads"] = best_of([
            run_child([*me, "--child", parser, "--manifest", str(manifest)]) for _ in range(args.repeat)
        ])

    return {"models": models, "root": str(root), "manifest_mb": manifest.stat().st_size / MB,
            "selection": f"+{mart}", "rows": rows}


def profile_ours(models: int, top: int, cold: bool) -> dict[str, list[dict[str, Any]]]:
    """cProfile of one ours child, cold or warm (timed region only): the top cumulative functions of
    orchestrator/ and integrations/, and the top functions of any origin by own time."""
    import pstats

    root = ensure_project(models)
    ensure_parsed(root, models)
    if cold:
        clear_our_caches(root)
    out = Path(tempfile.mkdtemp(prefix="orch-dbt-load-")) / "ours.pstats"
    try:
        run_child([str(OUR_PYTHON), str(Path(__file__).resolve()), "--child", "ours", "--root",
                   str(root), "--selection", f"+{last_mart(root)}", "--profile-out", str(out)])
        stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    ours, everything = [], []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.items():
        where = Path(filename)
        try:
            where = where.resolve().relative_to(REPO)
        except ValueError:
            pass
        row = {"function": f"{where}:{line}({name})" if line else name, "calls": calls,
               "tottime_s": round(tottime, 4), "cumtime_s": round(cumtime, 4)}
        everything.append(row)
        if where.parts and where.parts[0] in ("orchestrator", "integrations"):
            ours.append(row)
    ours.sort(key=lambda r: -r["cumtime_s"])
    everything.sort(key=lambda r: -r["tottime_s"])
    return {"ours_by_cumtime": ours[:top], "all_by_tottime": everything[:top // 2]}


def git_state() -> dict[str, Any]:
    """The commit measured and whether the working tree differed from it (others edit concurrently)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "orchestrator", "integrations")
             .splitlines() if len(line) > 3]
    return {"commit": git("rev-parse", "--short", "HEAD").strip() or None, "dirty_files": dirty,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _fmt(value: float | None, width: int, digits: int = 3) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def report(size: dict[str, Any]) -> dict[str, Any]:
    rows = size["rows"]
    cold, warm, dagster, js = rows["ours cold"], rows["ours warm"], rows.get("dagster-dbt"), rows["json.load"]
    first = cold
    print()
    print(f"== {size['models']:,} models: {first['assets']:,} assets, {first['checks']:,} checks, "
          f"{first['edges']:,} edges; manifest.json {size['manifest_mb']:.1f} MB; "
          f"selection {size['selection']} -> {first['selected']} assets (ours)"
          + (f", {dagster['selected']} (dagster-dbt)" if dagster else ""))
    header = (f"{'row':<13} {'import s':>8} {'load s':>8} {'graph s':>8} {'select s':>8} {'total s':>8} "
              f"{'process s':>9} {'peak MB':>8} {'MB@import':>9}  runs")
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        print(f"{name:<13} {_fmt(r['import_s'], 8)} {_fmt(r['load_s'], 8)} {_fmt(r['graph_s'], 8)} "
              f"{_fmt(r['select_s'], 8, 4)} {_fmt(r['total_s'], 8)} {_fmt(r['process_s'], 9, 2)} "
              f"{_fmt(r['peak_rss_mb'], 8, 0)} {_fmt(r['rss_after_import_mb'], 9, 0)}  {r['runs']}")
    print(f"ours cache (orch_nodes pickle): {cold['cache_mb']:.1f} MB")
    ratios = {
        "dagster / ours cold (total)": _ratio(dagster and dagster["total_s"], cold["total_s"]),
        "dagster / ours warm (total)": _ratio(dagster and dagster["total_s"], warm["total_s"]),
        "dagster / ours cold (process)": _ratio(dagster and dagster["process_s"], cold["process_s"]),
        "dagster / ours warm (process)": _ratio(dagster and dagster["process_s"], warm["process_s"]),
        "ours cold / json.load": _ratio(cold["total_s"], js["total_s"]),
        "ours warm / json.load": _ratio(warm["total_s"], js["total_s"]),
        "ours cold peak MB / dagster peak MB": _ratio(cold["peak_rss_mb"], dagster and dagster["peak_rss_mb"]),
        "ours warm peak MB / dagster peak MB": _ratio(warm["peak_rss_mb"], dagster and dagster["peak_rss_mb"]),
    }
    print("ratios: " + "; ".join(f"{k} = {v:.2f}" for k, v in ratios.items() if v is not None))
    targets = {
        "cold_under_3s": cold["total_s"] < TARGET_COLD_S,
        "warm_under_0.5s": warm["total_s"] < TARGET_WARM_S,
        "less_memory_than_dagster": None if dagster is None else (
            cold["peak_rss_mb"] < dagster["peak_rss_mb"] and warm["peak_rss_mb"] < dagster["peak_rss_mb"]),
    }
    label = "targets" if size["models"] == TARGET_SIZE else f"targets (set for {TARGET_SIZE:,}; shown here too)"
    print(f"{label}: cold < {TARGET_COLD_S:g} s: {'MET' if targets['cold_under_3s'] else 'NOT MET'} "
          f"({cold['total_s']:.2f} s); warm < {TARGET_WARM_S:g} s: "
          f"{'MET' if targets['warm_under_0.5s'] else 'NOT MET'} ({warm['total_s']:.2f} s); "
          "peak memory below dagster-dbt: "
          + ("not measured" if targets["less_memory_than_dagster"] is None else
             f"{'MET' if targets['less_memory_than_dagster'] else 'NOT MET'} "
             f"({cold['peak_rss_mb']:.0f} / {warm['peak_rss_mb']:.0f} vs {dagster['peak_rss_mb']:.0f} MB)"))

    def slim(r: dict[str, Any]) -> dict[str, Any]:
        keep = ("import_s", "load_s", "graph_s", "select_s", "total_s", "process_s", "peak_rss_mb",
                "rss_after_import_mb", "selected", "all_total_s", "all_peak_rss_mb", "cache_mb")
        return {k: (round(r[k], 4) if isinstance(r[k], float) else r[k]) for k in keep if k in r}

    return {"models": size["models"], "assets": first["assets"], "checks": first["checks"],
            "manifest_mb": round(size["manifest_mb"], 2), "selection": size["selection"],
            "rows": {name: slim(r) for name, r in rows.items()},
            "ratios": {k: (None if v is None else round(v, 3)) for k, v in ratios.items()},
            "targets": targets}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated model counts (1000,5000,10000)")
    parser.add_argument("--repeat", type=int, default=3, help="children per row of ours and json; best counts")
    parser.add_argument("--dagster-repeat", type=int, default=2, help="children per size for dagster-dbt")
    parser.add_argument("--skip-dagster", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile ours cold and warm at the largest size; print the top functions")
    parser.add_argument("--child", choices=("ours", "json", "orjson"), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--selection", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "ours":
        print(json.dumps(child_ours(args.root, args.selection, args.profile_out)))
        return 0
    if args.child in ("json", "orjson"):
        print(json.dumps(child_json(args.manifest, args.child)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    dagster_python = None if args.skip_dagster else ensure_dagster_dbt()
    results = [measure_size(n, args, dagster_python) for n in sizes]
    found = versions(dagster_python)
    code = git_state()

    print()
    print("Loading a generated dbt project (benchmarks/dbt_gen, seed 0): each row is the best of "
          f"{args.repeat} fresh child processes (dagster-dbt: {args.dagster_repeat}).")
    print("total = load + graph + select (imports apart); process = the child's whole wall time; "
          "peak MB = the child's ru_maxrss; MB@import = its RSS right after the imports.")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    print(f"code: commit {code['commit']}"
          + (f", working tree differs in {', '.join(code['dirty_files'])}" if code["dirty_files"] else "")
          + f"; load average at the end {code['load_average']} on {os.cpu_count()} cores")
    summary: dict[str, Any] = {"benchmark": "dbt_load", "versions": found, "code": code, "repeat": args.repeat,
                               "dagster_repeat": None if dagster_python is None else args.dagster_repeat,
                               "sizes": [report(size) for size in results]}
    if args.profile:
        largest = max(sizes)
        titles = {"ours_by_cumtime": "top cumulative in orchestrator/ and integrations/",
                  "all_by_tottime": "top own time, any origin"}
        summary["profile"] = {"models": largest}
        for mode in ("cold", "warm"):  # warm second: it reuses the caches the cold child wrote
            top = profile_ours(largest, 30, cold=mode == "cold")
            summary["profile"][mode] = top
            for name, rows in top.items():
                print()
                print(f"cProfile of ours {mode} at {largest:,} models (timed region only), {titles[name]}:")
                print(f"{'cum s':>8} {'tot s':>8} {'calls':>9}  function")
                for row in rows:
                    print(f"{row['cumtime_s']:>8.3f} {row['tottime_s']:>8.3f} {row['calls']:>9}  "
                          f"{row['function']}")
    print()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
