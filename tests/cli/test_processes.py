"""Real `orch` processes: Ctrl-C cancels cleanly; two processes share one store safely."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.storage import open_store
from orchestrator.storage.events import EventType, RunStatus
from tests.conftest import FIXTURES

SHOP = str(FIXTURES / "defs" / "shop.py")
ORCH = [sys.executable, "-m", "orchestrator.cli"]


def _orch(home: Path, storage_url: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [*ORCH, "--defs", SHOP, "--home", str(home), "--storage", storage_url, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )


def _wait_for_running_run(storage_url: str, home: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open_store(storage_url, home) as store:
            started = [r for r in store.list_runs() if r.status == RunStatus.STARTED]
        if started:
            return started[0].run_id
        time.sleep(0.1)
    raise AssertionError("the run never started")


def test_ctrl_c_marks_the_run_canceled_and_leaves_nothing_half_written(tmp_path, storage_url):
    home = tmp_path / "home"
    proc = _orch(home, storage_url, "materialize", "--select", "+slow_mart", "--json",
                 env={"SHOP_SLOW_SECONDS": "60"})
    try:
        run_id = _wait_for_running_run(storage_url, home)
        time.sleep(0.5)  # let the slow step begin
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 15
    assert json.loads(out)["status"] == "canceled"
    with open_store(storage_url, home) as store:
        run = store.get_run(run_id)
        events = store.events(run_id)
    types = [e.type for e in events]
    assert run.status == RunStatus.CANCELED and run.ended_at is not None
    assert EventType.RUN_CANCELED in types
    slow = [e.type for e in events if str(e.asset_key) == "slow_mart"]
    assert EventType.STEP_CANCELED in slow and EventType.MATERIALIZATION not in slow
    storage = home / "storage"
    leftovers = [p for p in storage.rglob("*") if p.is_file()] if storage.exists() else []
    assert not [p for p in leftovers if "slow_mart" in str(p)]


def test_two_processes_materializing_into_one_store_both_complete(tmp_path, storage_url):
    procs = [_orch(tmp_path / f"home{i}", storage_url, "materialize", "--select", "+report", "--json")
             for i in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    run_ids = [json.loads(out)["run_id"] for out, _ in outputs]
    with open_store(storage_url, tmp_path) as store:
        for run_id in run_ids:
            assert store.get_run(run_id).status == RunStatus.SUCCEEDED
            events = store.events(run_id)
            materialized = {str(e.asset_key) for e in events if e.type == EventType.MATERIALIZATION}
            assert materialized == {"orders", "customers", "revenue_by_customer", "report"}
            assert events[0].type == EventType.RUN_STARTED and events[-1].type == EventType.RUN_SUCCEEDED
