"""`orch dev`: the daemon (and UI) in one command; Ctrl-C stops everything, its runs included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.definitions import load_definitions
from orchestrator.launch.queue import enqueue_run
from orchestrator.storage import open_store
from orchestrator.storage.events import RunStatus
from tests.launch.test_daemon import QUEUE, wait_for


def test_ctrl_c_stops_the_daemon_and_cancels_its_runs(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "ORCH_HOME": str(tmp_path / "home"), "QUEUE_MARKS": str(marks)}
    store = open_store(None, tmp_path / "home")
    run = enqueue_run(store, load_definitions(QUEUE), selection="slow")
    dev = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "--defs", QUEUE, "dev", "--no-ui"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (marks / "slow-started").exists(), what="the run to start")
        time.sleep(0.3)
        stopped_at = time.monotonic()
        dev.send_signal(signal.SIGINT)
        _, err = dev.communicate(timeout=30)
    finally:
        dev.kill()
    assert dev.returncode == 0, err
    assert time.monotonic() - stopped_at < 15
    assert "stopped" in err
    assert store.get_run(run.run_id).status is RunStatus.CANCELED
    assert store.triggers.states()["quick_job_schedule"].last_tick_at is not None  # it ticked schedules too
