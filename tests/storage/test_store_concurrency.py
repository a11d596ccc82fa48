"""Two OS processes opening one brand-new SQL store at the same moment, then appending to it at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from orchestrator.keys import AssetKey
from orchestrator.storage import Event, EventType, RunStatus, SqlEventStore, new_run_id
from orchestrator.storage.sql import HEAD

WORKER = Path(__file__).with_name("store_worker.py")
ROOT = Path(__file__).parents[2]


def run_in_step(argvs: Sequence[Sequence[str]], phases: int) -> None:
    """One worker per argv; each phase starts in all workers at once, after all said "ready"."""
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": pythonpath},
        )
        for argv in argvs
    ]
    try:
        for _ in range(phases):
            for p in procs:
                if p.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
                    raise AssertionError(p.communicate(timeout=30)[1])
            for p in procs:
                p.stdin.write("go\n")  # type: ignore[union-attr]
                p.stdin.flush()  # type: ignore[union-attr]
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0 and out.strip() == "done", err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_two_processes_open_a_new_store_and_append_at_once(fresh_sql_url: str) -> None:
    runs = [new_run_id(), new_run_id()]
    run_in_step([[fresh_sql_url, run_id, "2000", "50"] for run_id in runs], phases=2)

    with SqlEventStore(fresh_sql_url) as store:
        engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:  # migrated exactly once
            versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
            assert versions.all() == [HEAD]
        engine.dispose()

        assert store.event_count() == 4000
        materializations = []
        for run_id in runs:
            events = store.events(run_id)
            assert [e.data["i"] for e in events] == list(range(2000))
            ids = [e.id for e in events]
            assert ids == sorted(ids) and len(set(ids)) == 2000
            assert store.get_run(run_id).status == RunStatus.SUCCEEDED
            materializations += [e for e in events if e.type == EventType.MATERIALIZATION]

        newest = {}
        for e in sorted(materializations, key=lambda e: e.id):  # type: ignore[arg-type, return-value]
            newest[(e.asset_key, e.partition)] = e
        assert store.latest_materializations() == newest


def test_an_older_materialization_committed_later_does_not_win(postgres_store_url: str) -> None:
    """Writer A gets the smaller event id but commits after writer B: B's event stays the latest."""
    blocker, key = AssetKey.parse("a/blocker"), AssetKey.parse("b/key")
    store = SqlEventStore(postgres_store_url)
    store.append([Event("setup", EventType.MATERIALIZATION, 0.0, asset_key=blocker)])
    engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    with engine.connect() as lock:
        # hold the blocker's row, so A stops after inserting its events, before its upserts
        lock.exec_driver_sql("SELECT 1 FROM asset_latest WHERE asset_key = 'a/blocker' FOR UPDATE")
        a = [Event("a", EventType.MATERIALIZATION, 1.0, asset_key=k) for k in (blocker, key)]
        writer = threading.Thread(target=store.append, args=(a,))
        writer.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        deadline = time.monotonic() + 10
        while not _scalar(engine, waiting):  # a new connection: stats are per-transaction snapshots
            assert time.monotonic() < deadline, "writer A never waited for the row lock"
            time.sleep(0.01)
        store.append([Event("b", EventType.MATERIALIZATION, 2.0, asset_key=key)])  # B commits
        lock.rollback()
    writer.join(timeout=10)
    engine.dispose()

    latest = store.latest_materializations([key])[(key, None)]
    assert (latest.run_id, latest.id) == ("b", store.events("b")[0].id)
    assert store.events("a")[1].id < latest.id  # A's event was older, though committed later
    store.close()


def _scalar(engine: sa.Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar()
