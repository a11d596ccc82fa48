"""Concurrent writers both land (threads and processes); a writer killed mid-write leaves no trace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from integrations.iceberg import IcebergIOManager
from orchestrator.errors import IOManagerError
from orchestrator.keys import AssetKey
from tests.integrations.iceberg.conftest import DAILY, counts_by_day, day_rows, read, write

REPO = Path(__file__).resolve().parents[3]
WRITER = "tests.integrations.iceberg._writer"


def test_two_threads_overwriting_different_partitions_and_appending_lose_nothing(make_io):
    io = make_io()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(days: list[str]) -> None:
        try:
            start.wait()
            for day in days:
                write(io, "raw/events", day_rows(day, 50), day, DAILY)
                write(io, "raw/appended", day_rows(day, 10), metadata={"write_mode": "append"})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(days,)) for days in
               (["2024-01-01", "2024-01-02", "2024-01-03"], ["2024-01-04", "2024-01-05", "2024-01-06"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert counts_by_day(read(io, "raw/events")) == {f"2024-01-0{i}": 50 for i in range(1, 7)}
    assert read(io, "raw/appended").num_rows == 60


def test_two_threads_overwriting_the_same_partition_leave_one_writers_rows(make_io):
    io = make_io()
    write(io, "raw/events", day_rows("2024-01-01", 5), "2024-01-01", DAILY)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(first_id: int) -> None:
        try:
            start.wait()
            write(io, "raw/events", day_rows("2024-01-01", 20, start=first_id), "2024-01-01", DAILY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(first,)) for first in (1000, 2000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    ids = sorted(read(io, "raw/events")["id"].to_pylist())
    assert ids in (list(range(1000, 1020)), list(range(2000, 2020)))  # the last commit wins, whole


def test_writers_opening_a_new_catalog_at_once_all_get_it(tmp_path):
    # pyiceberg creates its tables on a catalog's first open: simultaneous first opens race to
    # create them, and the losers must open the catalog the winner made, not fail.
    for round_ in range(8):
        url = f"sqlite:///{tmp_path / f'catalog{round_}.db'}"
        start = threading.Barrier(4)
        errors: list[BaseException] = []

        def opener() -> None:
            try:
                start.wait()
                IcebergIOManager(url, tmp_path / "warehouse", catalog_name="race").catalog()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=opener) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors


def _spawn(catalog: dict, *args: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", WRITER, catalog["catalog_url"], str(catalog["warehouse"]),
            catalog["catalog_name"], *args]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextmanager
def _processes(*procs: subprocess.Popen) -> Iterator[list[subprocess.Popen]]:
    """Yield the processes; on the way out kill any still running, and fail with their stderr."""
    try:
        yield list(procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    errors = [proc.communicate()[1] for proc in procs if proc.returncode not in (0, -signal.SIGKILL)]
    assert not errors, "\n".join(errors)


def _wait_until(condition, procs: list[subprocess.Popen], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        dead = [p.communicate()[1] for p in procs if p.poll() is not None]
        assert not dead, "a writer died before it was released:\n" + "\n".join(dead)
        assert time.monotonic() < deadline, "the writers did not get ready"
        time.sleep(0.01)


def test_two_processes_overwriting_different_partitions_and_appending_lose_nothing(catalog, make_io, tmp_path):
    barrier = tmp_path / "go"
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    with _processes(
        _spawn(catalog, "both", str(ready[0]), str(barrier), "2024-01-01", "2024-01-02", "2024-01-03"),
        _spawn(catalog, "both", str(ready[1]), str(barrier), "2024-01-04", "2024-01-05", "2024-01-06"),
    ) as procs:
        _wait_until(lambda: all(r.exists() for r in ready), procs)  # imported and connected
        barrier.touch()  # released at once
        for proc in procs:
            proc.wait(timeout=60)

    io = make_io()
    assert counts_by_day(read(io, "raw/events")) == {f"2024-01-0{i}": 100 for i in range(1, 7)}
    assert read(io, "raw/appended").num_rows == 60


def _kill_midway(proc: subprocess.Popen, marker: Path) -> None:
    _wait_until(marker.exists, [proc])
    time.sleep(0.3)  # several data files written, the commit far away
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def test_a_writer_killed_mid_write_leaves_the_previous_snapshot_and_the_next_run_succeeds(catalog, make_io, tmp_path):
    io = make_io()
    big = AssetKey.parse("raw/big")
    first_marker, second_marker, go = tmp_path / "first", tmp_path / "second", tmp_path / "go"
    with _processes(_spawn(catalog, "stream", "400", str(first_marker)),
                    _spawn(catalog, "stream", "400", str(second_marker), str(go))) as (first, second):
        _kill_midway(first, first_marker)  # the very first write: no table appears at all
        assert not io.has(big)
        with pytest.raises(IOManagerError, match="has not been materialized"):
            read(io, "raw/big")
        data_dir = Path(catalog["warehouse"]) / "raw" / "big" / "data"
        assert data_dir.exists() and any(data_dir.iterdir())  # orphan files, referenced by nothing

        before = write(io, "raw/big", day_rows("2024-01-01", 7))
        go.touch()
        _kill_midway(second, second_marker)  # a later write: the table stays at the previous snapshot
        assert io.table("raw/big").current_snapshot().snapshot_id == before["snapshot_id"]
        assert read(io, "raw/big").num_rows == 7

    again = write(io, "raw/big", day_rows("2024-01-02", 9))
    assert read(io, "raw/big").num_rows == 9
    assert again["snapshot_id"] != before["snapshot_id"]
