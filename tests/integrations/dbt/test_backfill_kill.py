"""A backfill killed with SIGKILL at random moments, resumed each time, ends with exactly the data of
a clean run: the partitioned dbt model (one dbt invocation per range) and a partitioned Python asset
on Iceberg (one overwrite commit per range)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from integrations.iceberg import IcebergIOManager
from orchestrator import AssetKey, InputContext
from orchestrator.storage import open_store
from orchestrator.storage.backfills import ChunkStatus
from tests.conftest import FIXTURES

REPO = Path(__file__).resolve().parents[3]
DEFS = str(FIXTURES / "dbt" / "lakehouse_defs.py")
SELECT = "marts/fct_daily_revenue revenue_digest"
FROM, TO = "2024-03-01", "2024-03-20"
KILLS = 10


def _env(home: Path, project: Path) -> dict[str, str]:
    return {**os.environ, "ORCH_HOME": str(home), "ORCH_WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
            "LAKEHOUSE_DBT_PROJECT": str(project), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO),
            "LAKEHOUSE_CHUNK_DAYS": "4"}  # 5 dbt invocations and 5 Iceberg commits to interrupt


def _orch(home: Path, project: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "--defs", DEFS, *args],
                            env=_env(home, project), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)


def _ok(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    return out


def _revenue(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select * exclude (dbt_invocation_id) from marts.fct_daily_revenue "
            f"where order_date between '{FROM}' and '{TO}' order by order_date").fetchall()


def _digests(home: Path) -> list[dict]:
    """The partitioned Iceberg asset, every row, in date order."""
    table = IcebergIOManager(home=home).read(InputContext(AssetKey.parse("revenue_digest")))
    return table.sort_by("order_date").to_pylist()


def _chunks_running(home: Path, backfill_id: str, since: float) -> list:
    """Chunks marked running by a process launched at `since` (not stale marks of a killed one)."""
    with open_store(None, home) as store:
        return [c for c in store.backfills.chunks(backfill_id)
                if c.status == ChunkStatus.RUNNING and (c.updated_at or 0) >= since]


def _wait_for_chunk(home: Path, backfill_id: str, proc: subprocess.Popen, since: float) -> bool:
    """True once `proc` runs a chunk; False when it exits first."""
    while proc.poll() is None:
        if _chunks_running(home, backfill_id, since):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def prepared(lakehouse_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the raw data and every unpartitioned model built (the test's clean run goes on in it)."""
    home = tmp_path_factory.mktemp("prepared")
    _ok(_orch(home, lakehouse_root, "materialize", "--select", "+marts/fct_daily_revenue", "--json"))
    return home


def test_sigkill_at_random_moments_then_resume_gives_the_clean_runs_data(prepared, lakehouse_root, tmp_path):
    killed = tmp_path / "killed"
    shutil.copytree(prepared, killed)
    # The clean run goes on in the prepared home itself (this module's only test uses it): the dbt
    # project was parsed for that home already, and each other ORCH_HOME costs a full re-parse.
    clean = prepared
    _ok(_orch(clean, lakehouse_root, "backfill", "--select", SELECT, "--from", FROM, "--to", TO, "--json"))

    rng = random.Random(20241121)
    launched = time.time()
    proc = _orch(killed, lakehouse_root, "backfill", "--select", SELECT, "--from", FROM, "--to", TO)
    first_line = proc.stdout.readline()
    backfill_id = first_line.split()[1].rstrip(":")
    kills, mid_chunk = 0, 0
    while kills < KILLS:
        # Kill at a random moment once this process has started a chunk: a fixed clock would mostly
        # hit interpreter start-up, or a backfill that already finished, as builds got faster.
        if not _wait_for_chunk(killed, backfill_id, proc, launched):
            break  # it finished: nothing left to interrupt
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
            proc.wait()
            mid_chunk += bool(_chunks_running(killed, backfill_id, launched))
        proc.wait()
        launched = time.time()
        proc = _orch(killed, lakehouse_root, "backfill", "resume", backfill_id, "--json")
    summary = json.loads(_ok(proc))
    assert summary["status"] == "succeeded", summary
    print(f"{mid_chunk} of {kills} kills landed inside a chunk")
    assert mid_chunk >= 3, f"only {mid_chunk} of {kills} kills landed inside a chunk"

    assert _revenue(killed) == _revenue(clean) and len(_revenue(clean)) == 20
    assert _digests(killed) == _digests(clean) and len(_digests(clean)) == 20
    shown = json.loads(_ok(_orch(killed, lakehouse_root, "backfill", "show", backfill_id, "--json")))
    assert {c["status"] for c in shown["chunk_list"]} == {"succeeded"}
