"""Web UI benchmark: the 10,000-asset graph page (ours vs Dagster's), API latency over 1M events, and
live-event latency, in headless Chromium.

    .venv/bin/python benchmarks/ui.py                    # everything (first run: generate + dbt parse + Dagster venv)
    .venv/bin/python benchmarks/ui.py --skip-dagster     # ours only
    .venv/bin/python benchmarks/ui.py --only api,live    # parts: graph, dagster, api, live

graph    the generated project (benchmarks/dbt_gen, 10,000 models, seed 0; parsed once) plus 400 Python
         assets: the server layout cold (computed) and cached (memory, and from ORCH_HOME after a
         restart), GET /api/graph, and in Chromium the ms from navigation to the graph drawn and then
         drawn again after a zoom (a fresh browser context each time; best and median of --repeat).
         Target: drawn and zoomed < 3 s.
dagster  the same graph in dagster-webserver (its own venv, benchmarks/.work/dagster-venv), the global
         asset lineage page: navigation to asset nodes drawn ("Show anyway" clicked when it warns), then
         a wheel zoom. Given up after --dagster-timeout (120 s) and reported so.
api      10,000 Python assets (graph_scale.py's graph) and 1,000,000 events in SQLite (built once,
         cached in benchmarks/.work/): p50/p95 of each call the asset page and the runs list make.
         Target: p95 < 200 ms.
live     a run page open in Chromium while events are appended to that store: seconds from each
         event's commit to its row on the page. Target: p95 < 1 s.

Prints a table per part and a final JSON line; never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _ui_browser as browser_tools  # noqa: E402
from _ui_data import STORE_VERSION, build_store, our_definitions, python_graph  # noqa: E402
from _venv import WORK  # noqa: E402

TARGET_GRAPH_MS = 3000.0
TARGET_API_P95_MS = 200.0
TARGET_LIVE_P95_S = 1.0
MODELS = 10_000
EVENTS = 1_000_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# -- graph ---------------------------------------------------------------------------------------

def generated_project() -> Path:
    import dbt_load

    root = dbt_load.ensure_project(MODELS)
    dbt_load.ensure_parsed(root, MODELS)
    os.environ[dbt_load.WAREHOUSE_ENV] = str(dbt_load.warehouse_path(MODELS))
    return root


def measure_graph(root: Path, repeat: int) -> dict[str, Any]:
    import httpx

    from orchestrator.storage.open import open_store
    from orchestrator.web.app import create_app
    from orchestrator.web.layout import layout

    t0 = time.perf_counter()
    defs = our_definitions(root)
    graph = defs.graph
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    layout(graph)
    layout_cold_s = time.perf_counter() - t0
    home = Path(tempfile.mkdtemp(prefix="orch-ui-bench-"))
    store = open_store(None, home)
    found: dict[str, Any] = {"assets": len(graph), "edges": len(graph.edges()), "load_s": load_s,
                             "layout_cold_s": layout_cold_s}
    app = create_app(defs, store, home=home, token="")
    with browser_tools.served(app) as url:
        t0 = time.perf_counter()
        first = httpx.get(url + "/api/graph", headers={"Accept-Encoding": "gzip"}, timeout=120)
        found["api_graph_first_s"] = time.perf_counter() - t0  # computes the layout, writes ORCH_HOME's cache
        found["api_graph_bytes"] = len(first.content)
        found["api_graph_gzip_bytes"] = int(first.headers.get("content-length", 0)) or None
        t0 = time.perf_counter()
        httpx.get(url + "/api/graph", timeout=60)
        found["api_graph_cached_s"] = time.perf_counter() - t0
        with browser_tools.chromium() as browser:
            browser_tools.our_graph_page(browser, url)  # warm-up: the browser's own first start
            pages = [browser_tools.our_graph_page(browser, url) for _ in range(repeat)]
    restarted = create_app(defs, store, home=home, token="").state.ctx
    t0 = time.perf_counter()
    restarted.layout_json()
    found["layout_from_home_s"] = time.perf_counter() - t0
    store.close()
    found["pages"] = pages
    for name in ("drawn_ms", "zoomed_ms"):
        values = [p[name] for p in pages]
        found[f"{name}_best"], found[f"{name}_median"] = min(values), statistics.median(values)
    return found


def measure_dagster(root: Path, timeout: float) -> dict[str, Any]:
    import dbt_load

    python = dbt_load.ensure_dagster_dbt()
    ensure_dagster_webserver(python)
    defs = our_definitions(root)
    marts = sorted(str(a) for a in defs.graph.assets if str(a).startswith("marts/"))
    env = {**os.environ, "UI_BENCH_MANIFEST": str(root / "target" / "manifest.json"), "UI_BENCH_MARTS": ",".join(marts),
           "DAGSTER_DISABLE_TELEMETRY": "1"}
    env.pop("PYTHONPATH", None)
    home = Path(tempfile.mkdtemp(prefix="dagster-ui-bench-"))
    log(f"[dagster] dagster-webserver on {len(defs.graph)} assets (loading the code location ...)")
    with browser_tools.dagster_webserver(python, HERE / "_dagster_ui.py", env, home) as (url, ready_s):
        log(f"[dagster] code location loaded in {ready_s:.1f} s; opening /asset-groups")
        with browser_tools.chromium() as browser:
            page = browser_tools.dagster_graph_page(browser, url, timeout)
    return {"server_ready_s": ready_s, "timeout_s": timeout, **page}


def ensure_dagster_webserver(python: Path) -> None:
    """dagster-webserver 1.13.28 (the newest on PyPI; it pins dagster 1.13.28) beside dagster 1.13.29,
    installed without its pins as dagster-dbt is."""
    import subprocess

    from _venv import installed_version

    if installed_version(python.parent.parent, "dagster_webserver") == "1.13.28":
        return
    log("[setup] adding dagster-webserver 1.13.28 to the Dagster venv ...")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "dagster-graphql==1.13.29", "starlette!=0.36.0", "uvicorn[standard]"], check=True)
    subprocess.run([*pip, "--no-deps", "dagster-webserver==1.13.28"], check=True)


# -- api + live ----------------------------------------------------------------------------------

def events_store(defs: Any) -> Path:
    path = WORK / f"ui_events_{EVENTS}_v{STORE_VERSION}.sqlite"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        log(f"[setup] writing {EVENTS:,} events into {path.name} (once, a few minutes) ...")
        made = build_store(f"sqlite:///{partial}", defs, EVENTS, log=log)
        log(f"[setup] {made}")
        partial.rename(path)
    return path


API_CALLS = (  # (name, path template); {key} an asset with history, {run} a run, {failed} an asset
    ("asset page: definition + state", "/api/assets/{key}"),
    ("asset page: history (500)", "/api/materializations/{key}?limit=500"),
    ("asset page: checks", "/api/checks/{key}"),
    ("asset page: neighbourhood", "/api/neighbourhood/{key}?depth=2"),
    ("runs list", "/api/runs"),
    ("runs list: failed", "/api/runs?status=failed"),
    ("runs list: by asset", "/api/runs?asset={key}"),
    ("runs list: launched by schedule", "/api/runs?launched_by=schedule"),
    ("runs list: a day", "/api/runs?since={day}&until={next_day}"),
    ("run page", "/api/runs/{run}"),
    ("run page: event log", "/api/runs/{run}/events"),
)


def measure_api(samples: int) -> tuple[dict[str, Any], Any, Any]:
    import httpx

    from orchestrator.storage.sql import SqlEventStore
    from orchestrator.web.app import create_app

    defs = python_graph()
    path = events_store(defs)
    store = SqlEventStore(f"sqlite:///{path}")
    found: dict[str, Any] = {"events": store.event_count(), "assets": len(defs.graph)}
    runs = store.runs_page(limit=500)
    rng = random.Random(1)
    keys = [str(k) for k in rng.sample(sorted(defs.graph.assets, key=str), samples)]
    home = Path(tempfile.mkdtemp(prefix="orch-ui-api-"))
    app = create_app(defs, store, home=home, token="")
    rows = []
    with browser_tools.served(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        t0 = time.perf_counter()
        client.get("/api/assets").raise_for_status()
        found["catalog_cold_s"] = time.perf_counter() - t0  # the states snapshot and asset_statuses
        t0 = time.perf_counter()
        client.get("/api/assets").raise_for_status()
        found["catalog_warm_s"] = time.perf_counter() - t0
        for name, template in API_CALLS:
            times = []
            for i in range(samples):
                run = runs[i % len(runs)]
                day = time.strftime("%Y-%m-%d", time.gmtime(run.started_at))
                next_day = time.strftime("%Y-%m-%d", time.gmtime(run.started_at + 86400))
                path_ = template.format(key=keys[i], run=run.run_id, day=day, next_day=next_day)
                t0 = time.perf_counter()
                client.get(path_).raise_for_status()
                times.append((time.perf_counter() - t0) * 1000)
            rows.append({"call": name, "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
                         "max_ms": max(times)})
    found["calls"] = rows
    found["worst_p95_ms"] = max(r["p95_ms"] for r in rows)
    return found, defs, store


def measure_live(defs: Any, store: Any, count: int) -> dict[str, Any]:
    from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, new_run_id
    from orchestrator.web.app import create_app

    run_id = new_run_id()
    key = next(iter(defs.graph.assets))
    store.create_run(RunRecord(run_id, RunStatus.RUNNING, None, (key,), None, time.time(), launched_by="api"))
    store.append([Event(run_id, EventType.RUN_STARTED, time.time(), data={"steps": 1, "assets": 1})])
    home = Path(tempfile.mkdtemp(prefix="orch-ui-live-"))
    try:
        with browser_tools.served(create_app(defs, store, home=home, token="")) as url, \
                browser_tools.chromium() as browser:
            latencies = browser_tools.live_latency(browser, url, store, run_id, count)
    finally:
        store.append([Event(run_id, EventType.RUN_SUCCEEDED, time.time())])
        store.finish_run(run_id, RunStatus.SUCCEEDED, time.time())
    return {"events": count, "received": len(latencies), "p50_s": percentile(latencies, 50),
            "p95_s": percentile(latencies, 95), "max_s": max(latencies)}


# -- report --------------------------------------------------------------------------------------

def report(results: dict[str, Any]) -> None:
    print(f"\nWeb UI benchmark (load average {results['load_average']})")
    graph = results.get("graph")
    if graph:
        print(f"\nGraph page: {graph['assets']:,} assets, {graph['edges']:,} edges (dbt_gen {MODELS:,} models + Python)")
        print(f"  definitions load            {graph['load_s']:8.2f} s  (not part of the page)")
        print(f"  layout cold (computed)      {graph['layout_cold_s']:8.2f} s")
        print(f"  GET /api/graph first        {graph['api_graph_first_s']:8.2f} s  ({graph['api_graph_bytes'] / 1e6:.1f} MB JSON)")
        print(f"  GET /api/graph cached       {graph['api_graph_cached_s']:8.3f} s")
        print(f"  layout from ORCH_HOME cache {graph['layout_from_home_s']:8.3f} s  (after a restart)")
        print(f"  navigation -> drawn         {graph['drawn_ms_best']:8.0f} ms best, {graph['drawn_ms_median']:.0f} ms median")
        ok = "met" if graph["zoomed_ms_median"] < TARGET_GRAPH_MS else "NOT met"
        print(f"  navigation -> zoomed        {graph['zoomed_ms_best']:8.0f} ms best, {graph['zoomed_ms_median']:.0f} ms "
              f"median  (target < {TARGET_GRAPH_MS:.0f} ms: {ok})")
    dagster = results.get("dagster")
    if dagster:
        print(f"\nDagster's global asset lineage page (dagster-webserver; code location loaded in "
              f"{dagster['server_ready_s']:.1f} s, not part of the page)")
        first = dagster.get("first_drawn_ms")
        print("  navigation -> groups drawn  " + (f"{first:8.0f} ms ({dagster.get('groups_drawn')} collapsed group boxes)"
                                                  if first else f"nothing within {dagster['timeout_s']:.0f} s"))
        if dagster.get("drawn_ms") is None:
            print(f"  every asset drawn: not within {dagster['timeout_s']:.0f} s of navigation (expand all groups; "
                  f"'Show anyway' clicked: {dagster['clicked_show_anyway']}; {dagster['nodes_drawn']} nodes drawn)")
        else:
            print(f"  navigation -> all drawn     {dagster['drawn_ms']:8.0f} ms ({dagster['nodes_drawn']} nodes; "
                  f"'Show anyway' clicked: {dagster['clicked_show_anyway']})")
            zoom = dagster.get("zoomed_ms")
            print("  navigation -> zoomed        " + (f"{zoom:8.0f} ms" if zoom else "no zoom seen"))
            if graph and zoom:
                print(f"  ratio Dagster / ours (zoomed, median) {zoom / graph['zoomed_ms_median']:.1f}x")
        if graph and first:
            print(f"  ratio Dagster's first drawing / our whole graph drawn (median) {first / graph['drawn_ms_median']:.1f}x")
    api = results.get("api")
    if api:
        print(f"\nAPI over {api['events']:,} events, {api['assets']:,} assets (SQLite); catalog cold "
              f"{api['catalog_cold_s']:.2f} s, warm {api['catalog_warm_s']:.2f} s")
        for row in api["calls"]:
            print(f"  {row['call']:<34} p50 {row['p50_ms']:7.1f} ms   p95 {row['p95_ms']:7.1f} ms   max {row['max_ms']:7.1f} ms")
        ok = "met" if api["worst_p95_ms"] < TARGET_API_P95_MS else "NOT met"
        print(f"  worst p95 {api['worst_p95_ms']:.1f} ms (target < {TARGET_API_P95_MS:.0f} ms: {ok})")
    live = results.get("live")
    if live:
        ok = "met" if live["p95_s"] < TARGET_LIVE_P95_S else "NOT met"
        print(f"\nLive events: {live['received']}/{live['events']} events from commit to the run page: "
              f"p50 {live['p50_s'] * 1000:.0f} ms, p95 {live['p95_s'] * 1000:.0f} ms, max {live['max_s'] * 1000:.0f} ms "
              f"(target p95 < {TARGET_LIVE_P95_S * 1000:.0f} ms: {ok})")
    print(json.dumps(results, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="graph,dagster,api,live", help="comma-separated parts")
    parser.add_argument("--skip-dagster", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="graph page loads (fresh browser context each)")
    parser.add_argument("--samples", type=int, default=40, help="requests per API call")
    parser.add_argument("--live-events", type=int, default=200)
    parser.add_argument("--dagster-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if args.skip_dagster:
        parts.discard("dagster")
    results: dict[str, Any] = {"load_average": load_average()}
    if parts & {"graph", "dagster"}:
        root = generated_project()
        if "graph" in parts:
            log("[graph] ours ...")
            results["graph"] = measure_graph(root, args.repeat)
        if "dagster" in parts:
            results["dagster"] = measure_dagster(root, args.dagster_timeout)
    if parts & {"api", "live"}:
        log("[api] ...")
        api, defs, store = measure_api(args.samples)
        if "api" in parts:
            results["api"] = api
        if "live" in parts:
            log("[live] ...")
            results["live"] = measure_live(defs, store, args.live_events)
        store.close()
    results["load_average_after"] = load_average()
    report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
