"""The demo lakehouse end to end on Dask through the CLI: `orch materialize` with ORCH_EXECUTOR=dask
starts a LocalCluster for the run; Python ingest steps and the ONE dbt step (the whole contiguous
segment, one dbt invocation) each run as a task in a worker process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from orchestrator import AssetKey, EventType, InputContext, ParquetIOManager
from orchestrator.storage import open_store
from tests.conftest import FIXTURES

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_lakehouse_runs_on_dask_from_the_cli(tmp_path, dask_dirs):
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    home = tmp_path / "home"
    env = {**os.environ, "ORCH_HOME": str(home), "ORCH_WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
           "LAKEHOUSE_DBT_PROJECT": str(project), "PYTHONPATH": str(REPO), "ORCH_EXECUTOR": "dask"}
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "--defs", str(FIXTURES / "dbt" / "lakehouse_defs.py"),
                             "materialize", "--select", "+revenue_forecast", "--json"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    # the dbt parse imports snowplow_tracker, which configures the root logger before distributed is
    # imported: the LocalCluster's INFO records (scheduler, nannies) must still stay out of stderr
    chatter = [line for line in err.splitlines() if "distributed." in line and ("INFO" in line or "DEBUG" in line)]
    assert not chatter, err
    summary = json.loads(out)
    assert summary["status"] == "succeeded" and set(summary["assets"].values()) == {"succeeded"}

    with open_store(None, home) as store:
        events = store.events(summary["run_id"])
    started = [e for e in events if e.type == EventType.STEP_STARTED]
    assert all(e.data["worker"].startswith("tcp://") and e.data["pid"] != proc.pid for e in started)
    dbt_steps = [e for e in started if e.asset_key is None]
    assert len(dbt_steps) == 1  # the contiguous dbt segment: one task, one invocation
    dbt_models = {k for k in summary["assets"] if k.startswith(("staging/", "marts/"))}
    assert set(dbt_steps[0].data["assets"]) == dbt_models and len(dbt_models) == 4

    forecast = ParquetIOManager(home / "storage").read(InputContext(AssetKey.parse("revenue_forecast")))
    assert forecast.num_rows > 0
