"""The demo lakehouse under the daemon: after an ingest, its eager dbt nodes are ONE automation run
(one dbt build); ingesting identical data again rebuilds nothing (but an Iceberg write is a new
snapshot, so a new data version)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.storage import open_store

ORCH = [sys.executable, "-m", "orchestrator.cli"]


def orch(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([*ORCH, "--home", str(home), *args], capture_output=True, text=True,
                          env={**os.environ, "ORCH_HOME": str(home)}, timeout=600)
    assert not check or done.returncode == 0, done.stderr
    return done


def test_ingest_then_one_eager_dbt_run_then_nothing_for_identical_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    orch(home, "schedules", "stop", "ingest_schedule")  # only what the test does ingests
    orch(home, "materialize", "--select", "group:raw")
    plan = json.loads(orch(home, "automation", "evaluate", "--json").stdout)
    assert len(plan["runs"]) == 1
    wanted = set(plan["runs"][0]["assets"])
    assert {"staging/stg_orders", "marts/fct_orders", "marts/dim_customers", "seeds/country_codes",
            "snapshots/customers_snapshot"} <= wanted
    assert "marts/fct_daily_revenue" not in wanted  # partitioned: left to backfills and schedules

    daemon = subprocess.Popen([*ORCH, "--home", str(home), "daemon", "--automation-interval", "1"],
                              env={**os.environ, "ORCH_HOME": str(home)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        with open_store(None, home) as store:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                runs = [r for r in store.list_runs() if r.launched_by == "automation"]
                if runs and all(r.status.terminal for r in runs):
                    break
                time.sleep(0.5)
            automation_runs = [r for r in store.list_runs() if r.launched_by == "automation"]
    finally:
        daemon.send_signal(signal.SIGINT)
        _, err = daemon.communicate(timeout=60)
    assert len(automation_runs) == 1, err
    assert automation_runs[0].status.value == "succeeded", err
    assert set(map(str, automation_runs[0].asset_keys)) == wanted

    # the same rows again into DuckDB (a content hash) and Parquet (SHA-256): the same data versions
    orch(home, "materialize", "--select", "key:raw/* lake/fx_rates")
    again = json.loads(orch(home, "automation", "evaluate", "--json").stdout)
    assert again["runs"] == []
    # an Iceberg write is a new snapshot, so a new data version, even for the same rows
    orch(home, "materialize", "--select", "lake/marketing_spend")
    iceberg = json.loads(orch(home, "automation", "evaluate", "--json").stdout)
    assert iceberg["runs"] == [{"partition": None, "assets": ["staging/stg_marketing_spend"]}]
    status = {row["asset"]: row for row in json.loads(orch(home, "assets", "status", "--json").stdout)}
    assert status["marts/fct_orders"]["state"] == "fresh" and status["marts/fct_orders"]["freshness"] == "pass"
    assert status["revenue_forecast"]["state"] == "missing"
