"""What benchmarks/ui.py measures on: the generated 10,000-asset graph (dbt_gen models + Python assets)
and a store of 1,000,000 events (cached under benchmarks/.work/)."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

PYTHON_ASSETS = 400  # beside dbt_gen's models, sources and seeds: ~10,400 assets in all
STORE_VERSION = 1  # bump when the generated history changes shape


def python_specs(marts: list[str], count: int = PYTHON_ASSETS, seed: int = 0) -> list[tuple[str, list[str]]]:
    """(name, upstream marts) of the Python assets downstream of the dbt project: both tools get these."""
    rng = random.Random(seed)
    return [(f"py_{i:04d}", rng.sample(marts, rng.choice((1, 2)))) for i in range(count)]


def our_definitions(root: Path) -> Any:
    """Our Definitions of the generated project: dbt_assets + the Python assets, from the cached parse."""
    from integrations.dbt import DbtProject, dbt_assets
    from orchestrator import Definitions, asset

    dbt = dbt_assets(DbtProject(root, reparse="never"))
    marts = sorted(str(a.key) for a in dbt if hasattr(a, "key") and str(a.key).startswith("marts/"))
    python = []
    namespace: dict[str, Any] = {"__name__": "bench_ui"}
    for name, parents in python_specs(marts):
        params = [f"p{i}" for i in range(len(parents))]
        exec(f"def {name}({', '.join(params)}):\n    return None\n", namespace)  # noqa: S102
        python.append(asset(namespace[name], group="python", ins=dict(zip(params, parents))))
    return Definitions(assets=[*dbt, *python])


def python_graph(layers: int = 100, width: int = 100) -> Any:
    """10,000 Python assets (graph_scale.py's graph), for the store benchmark."""
    from graph_scale import decorate

    from orchestrator import Definitions

    return Definitions(assets=decorate(layers, width))


def build_store(url: str, defs: Any, events: int, seed: int = 0, log: Any = print) -> dict[str, Any]:
    """A history of `events` events over `defs`'s assets: runs of 30 assets each (run and step events,
    materializations with metadata, logs, check results), 8% failing, 1 minute apart."""
    from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus
    from orchestrator.storage.sql import SqlEventStore

    T = EventType
    rng = random.Random(seed)
    keys = sorted(defs.graph.assets, key=str)
    store = SqlEventStore(url)
    written = runs = 0
    t0 = time.perf_counter()
    start = time.time() - events / 100 * 60 / 30
    batch: list[Any] = []
    launchers = ("cli", "ui", "schedule", "sensor", "automation")
    while written < events:
        run_id = f"{runs:08d}{rng.getrandbits(96):024x}"
        began = start + runs * 60.0
        chosen = rng.sample(keys, 30)
        failed = rng.random() < 0.08
        status = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
        store.create_run(RunRecord(run_id, RunStatus.RUNNING, None, tuple(chosen), None, began,
                                   launched_by=launchers[runs % len(launchers)]))
        batch.append(Event(run_id, T.RUN_STARTED, began, data={"steps": 30, "assets": 30}))
        for i, key in enumerate(chosen):
            at = began + i
            batch.append(Event(run_id, T.STEP_STARTED, at, step_key=str(key), asset_key=key))
            batch.append(Event(run_id, T.LOG, at + 0.1, step_key=str(key), asset_key=key, message="working",
                               data={"level": "info"}))
            if failed and i == 29:
                batch.append(Event(run_id, T.STEP_FAILED, at + 0.5, step_key=str(key), asset_key=key,
                                   message="RuntimeError: boom",
                                   data={"error": {"type": "RuntimeError", "message": "boom", "traceback": "..."}}))
                continue
            batch.append(Event(run_id, T.MATERIALIZATION, at + 0.5, step_key=str(key), asset_key=key,
                               data={"metadata": {"rows": rng.randrange(10_000), "bytes": rng.randrange(10**7),
                                                  "data_version": f"{rng.getrandbits(128):032x}"}}))
            if i % 5 == 0:
                batch.append(Event(run_id, T.CHECK_RESULT, at + 0.6, step_key=str(key), asset_key=key,
                                   data={"check": "not_null", "passed": rng.random() > 0.05, "blocking": False}))
            batch.append(Event(run_id, T.STEP_SUCCEEDED, at + 0.7, step_key=str(key), asset_key=key))
        batch.append(Event(run_id, T.RUN_FAILED if failed else T.RUN_SUCCEEDED, began + 31))
        store.finish_run(run_id, status, began + 31)
        runs += 1
        if len(batch) >= 20_000:
            store.append(batch)
            written += len(batch)
            batch = []
            if runs % 2000 < 200:
                log(f"[setup] {written:,} events, {runs:,} runs ({time.perf_counter() - t0:.0f} s)")
    if batch:
        store.append(batch)
        written += len(batch)
    store.close()
    return {"events": written, "runs": runs, "seconds": round(time.perf_counter() - t0, 1)}
