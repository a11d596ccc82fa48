"""Per-asset orchestration overhead: ours (SQLite store / in memory) against Dagster.

    .venv/bin/python benchmarks/overhead.py                  # everything (first run installs Dagster)
    .venv/bin/python benchmarks/overhead.py --skip-dagster   # ours only, a few seconds

Two graph shapes of trivial Python assets: a chain (a_i depends on a_{i-1}) and a fan-in (N-1
independent assets feeding one final asset). Per-asset overhead = wall time of one run / number of
assets; nothing is subtracted (the assets do nothing but return a small int). Ours: best of
--repeat runs, each with a fresh home. Dagster runs once per mode (it is slow), in its own
virtualenv under benchmarks/.work/, on --dagster-assets assets (fewer than ours by default).

Prints a table, whether the targets are met, and a final JSON line. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _venv import ensure_venv  # noqa: E402

import orchestrator  # noqa: E402
from orchestrator import MemoryEventStore, asset, materialize, open_store  # noqa: E402

DAGSTER_VERSION = "1.13.29"  # the version these numbers were taken with; bump deliberately
DAGSTER_SCRIPT = HERE / "_dagster_overhead.py"
SHAPES = ("chain", "fan_in")
TARGET_MS_PER_ASSET = 1.0  # ours with the SQLite store
TARGET_RATIO = 50.0  # Dagster (SQLite instance) / ours (SQLite store)


# -- the graphs -------------------------------------------------------------------------------


def asset_sources(shape: str, n: int) -> list[str]:
    """Source text of the N asset functions; parameter names are the wiring (as in Dagster)."""
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


def build_ours(shape: str, n: int) -> list[Any]:
    # exec'd functions take __module__ from the namespace's __name__ (@asset needs one)
    namespace: dict[str, Any] = {"__name__": f"bench_{shape}"}
    definitions = []
    for source in asset_sources(shape, n):
        exec(source, namespace)  # noqa: S102 - generated benchmark code
        name = source[4 : source.index("(")]
        definitions.append(asset(namespace[name]))
    return definitions


# -- ours -------------------------------------------------------------------------------------


def run_ours(definitions: list[Any], mode: str, repeat: int, tmpdir: str | None) -> dict[str, Any]:
    """Best of `repeat` runs; each SQLite run gets a fresh home (new orch.db, new pickles)."""
    best: dict[str, Any] = {}
    walls = []
    for _ in range(repeat):
        home = Path(tempfile.mkdtemp(prefix="orch-bench-", dir=tmpdir))
        try:
            t0 = time.perf_counter()
            store = open_store(None, home) if mode == "sqlite" else MemoryEventStore()
            open_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            if mode == "sqlite":
                result = materialize(definitions, home=home, store=store)
            else:
                result = materialize(definitions, store=store)
            wall = time.perf_counter() - t0
            events = store.event_count()
            store.close()
        finally:
            shutil.rmtree(home, ignore_errors=True)
        walls.append(wall)
        if not best or wall < best["wall_s"]:
            best = {"wall_s": wall, "store_open_s": open_s, "events": events,
                    "status": result.status.value}
    best["n"] = len(definitions)
    best["ms_per_asset"] = best["wall_s"] * 1000 / len(definitions)
    best["all_walls_s"] = [round(w, 4) for w in walls]
    return best


# -- Dagster ----------------------------------------------------------------------------------


def run_dagster(n: int, tmpdir: str | None) -> dict[str, Any]:
    python = ensure_venv("dagster-venv", f"dagster=={DAGSTER_VERSION}", "dagster", DAGSTER_VERSION)
    print(f"[dagster] running {DAGSTER_SCRIPT.name} with {n} assets per shape "
          f"(expect ~{n * 0.2 * len(SHAPES):.0f} s) ...", file=sys.stderr, flush=True)
    command = [str(python), str(DAGSTER_SCRIPT), "--assets", str(n)]
    done = subprocess.run(command + (["--tmpdir", tmpdir] if tmpdir else []),
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"{DAGSTER_SCRIPT.name} exited with {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- report -----------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=1000, help="assets per graph for ours (1000)")
    parser.add_argument("--dagster-assets", type=int, default=200,
                        help="assets per graph for Dagster (200: Dagster takes ~0.1 s per asset)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours; the best counts (3)")
    parser.add_argument("--skip-dagster", action="store_true", help="run ours only")
    parser.add_argument("--tmpdir", default=None,
                        help="where both tools make their temporary homes (default: the system temp "
                             "dir; /dev/shm takes the disk's file-creation cost out)")
    args = parser.parse_args(argv)

    ours: dict[str, dict[str, Any]] = {}
    for shape in SHAPES:
        t0 = time.perf_counter()
        definitions = build_ours(shape, args.assets)
        decorate_s = time.perf_counter() - t0
        for mode in ("sqlite", "memory"):
            ours[f"{shape}/{mode}"] = {**run_ours(definitions, mode, args.repeat, args.tmpdir),
                                       "decorate_s": decorate_s}

    dagster: dict[str, Any] = {}
    if not args.skip_dagster:
        dagster = run_dagster(args.dagster_assets, args.tmpdir)

    rows = []
    for shape in SHAPES:
        for mode in ("sqlite", "memory"):
            r = ours[f"{shape}/{mode}"]
            rows.append((shape, f"ours {mode}", r["n"], r["wall_s"], r["ms_per_asset"], r["events"],
                         r["status"]))
        for mode in ("sqlite", "memory", "ephemeral"):  # ephemeral: extra, not in the ratios
            d = dagster.get("results", {}).get(f"{shape}/{mode}")
            if d:
                rows.append((shape, f"dagster {mode}", d["n"], d["wall_s"], d["ms_per_asset"],
                             d.get("events"), d["status"]))

    print()
    print("Per-asset orchestration overhead: wall time of one run / assets (nothing subtracted).")
    print(f"ours: orchestrator {getattr(orchestrator, '__version__', '(editable)')}, best of "
          f"{args.repeat}, fresh home each run; Python {platform.python_version()}, "
          f"{platform.machine()}; homes under {args.tmpdir or tempfile.gettempdir()}")
    if dagster:
        print(f"dagster {dagster['dagster_version']}: 1 run per mode after a 3-asset warm-up, "
              f"{args.dagster_assets} assets per graph"
              + (" (fewer than ours; per-asset numbers are compared)"
                 if args.dagster_assets != args.assets else ""))
    print()
    header = f"{'shape':<7} {'engine':<17} {'assets':>6} {'wall s':>9} {'ms/asset':>9} {'events':>7}  status"
    print(header)
    print("-" * len(header))
    for shape, engine, n, wall, per, events, status in rows:
        print(f"{shape:<7} {engine:<17} {n:>6} {wall:>9.3f} {per:>9.3f} "
              f"{events if events is not None else '-':>7}  {status}")
    print()
    print("ours sqlite = materialize(assets, home=tmp, store=open_store(None, tmp)): events in "
          "tmp/orch.db, values pickled under tmp/storage.")
    print("ours memory = materialize(assets): in-memory event store and values.")
    print("ours decorate (not in the table's times): "
          + ", ".join(f"{shape} {ours[f'{shape}/sqlite']['decorate_s'] * 1000:.0f} ms" for shape in SHAPES)
          + f" for {args.assets} @asset calls")
    if dagster:
        for mode, text in dagster.get("modes", {}).items():
            print(f"dagster {mode} = {text}")

    summary: dict[str, Any] = {"benchmark": "overhead", "assets": args.assets,
                               "tmpdir": args.tmpdir or tempfile.gettempdir(),
                               "dagster_assets": args.dagster_assets if dagster else None,
                               "dagster_version": dagster.get("dagster_version"), "shapes": {}}
    print()
    verdicts = []
    for shape in SHAPES:
        s = {
            "ours_sqlite_ms": ours[f"{shape}/sqlite"]["ms_per_asset"],
            "ours_memory_ms": ours[f"{shape}/memory"]["ms_per_asset"],
            "ours_sqlite_events": ours[f"{shape}/sqlite"]["events"],
            "dagster_memory_ms": dagster.get("results", {}).get(f"{shape}/memory", {}).get("ms_per_asset"),
            "dagster_sqlite_ms": dagster.get("results", {}).get(f"{shape}/sqlite", {}).get("ms_per_asset"),
            "dagster_ephemeral_ms": dagster.get("results", {}).get(f"{shape}/ephemeral", {}).get("ms_per_asset"),
        }
        s["dagster_sqlite / ours_sqlite"] = _ratio(s["dagster_sqlite_ms"], s["ours_sqlite_ms"])
        s["dagster_memory / ours_memory"] = _ratio(s["dagster_memory_ms"], s["ours_memory_ms"])
        s["target_under_1ms_met"] = s["ours_sqlite_ms"] < TARGET_MS_PER_ASSET
        ratio = s["dagster_sqlite / ours_sqlite"]
        s["target_50x_met"] = None if ratio is None else ratio >= TARGET_RATIO
        summary["shapes"][shape] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()}
        verdicts.append(s)
        ratios = "  ".join(
            f"{name} = {value:.1f}x" for name, value in
            (("dagster_sqlite / ours_sqlite", ratio),
             ("dagster_memory / ours_memory", s["dagster_memory / ours_memory"]))
            if value is not None
        )
        print(f"{shape:<7} {ratios or '(Dagster skipped)'}")
        print(f"{'':<7} target ours sqlite < {TARGET_MS_PER_ASSET:g} ms/asset: "
              f"{'MET' if s['target_under_1ms_met'] else 'NOT MET'} ({s['ours_sqlite_ms']:.3f} ms)")
        print(f"{'':<7} target Dagster sqlite >= {TARGET_RATIO:g}x ours: "
              + ("not measured (--skip-dagster)" if ratio is None
                 else f"{'MET' if s['target_50x_met'] else 'NOT MET'} ({ratio:.1f}x)"))
    print()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
