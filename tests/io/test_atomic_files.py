"""Local files of the Parquet IO manager: the content hash of what was written, and the temporary
files of writers that died swept by the next write, never those of writers still at work."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator import AssetKey, OutputContext, ParquetIOManager
from orchestrator.io.digest import CHUNK
from orchestrator.io.files import HOST

K = AssetKey.parse


def test_a_streamed_write_hashes_every_byte_of_the_file(tmp_path):
    rng = np.random.default_rng(0)

    def batches():  # random floats do not compress: several times the hasher's read chunk
        for _ in range(8):
            yield pa.record_batch({"x": rng.random(200_000), "n": rng.integers(0, 10**9, 200_000)})

    meta = ParquetIOManager(tmp_path).write(OutputContext(K("big")), batches())
    data = (tmp_path / "big" / "data.parquet").read_bytes()
    assert len(data) > 2 * CHUNK and meta["bytes"] == len(data)
    assert meta["data_version"] == hashlib.sha256(data).hexdigest()


def test_a_pickled_value_is_hashed_too(tmp_path):
    meta = ParquetIOManager(tmp_path).write(OutputContext(K("counts")), {"a": 1})
    assert meta["data_version"] == hashlib.sha256((tmp_path / "counts" / "data.pickle").read_bytes()).hexdigest()


def leftover(folder: Path, host: str, pid: int, thread: int = 1, age: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".data.parquet.{host}.{pid}.{thread}.tmp"
    path.write_bytes(b"PAR1 half a file")
    if age:
        os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_the_next_write_sweeps_leftovers_of_writers_that_are_gone(tmp_path):
    folder = tmp_path / "t"
    gone_pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True).stdout)
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait)
    busy.start()
    ended = threading.Thread(target=lambda: None)
    ended.start()
    ended.join()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        files = {
            "process gone": leftover(folder, HOST, gone_pid),
            "process alive": leftover(folder, HOST, alive.pid),
            "this process, thread alive": leftover(folder, HOST, os.getpid(), busy.ident),
            "this process, thread ended": leftover(folder, HOST, os.getpid(), ended.ident),
            "other host, recent": leftover(folder, "elsewhere.example.com", 4242),
            "other host, two days old": leftover(folder, "elsewhere.example.com", 4243, age=2 * 86400),
        }
        other_partition = leftover(folder / "partition=2024-01-02", HOST, gone_pid)
        ParquetIOManager(tmp_path).write(OutputContext(K("t")), pa.table({"x": [1]}))
    finally:
        alive.kill()
        alive.wait()
        stop.set()
        busy.join()
    assert {name for name, path in files.items() if path.exists()} == {
        "process alive", "this process, thread alive", "other host, recent"}
    assert other_partition.exists()  # swept by the next write of that partition, not of another


def test_two_processes_writing_the_same_partition_both_succeed(tmp_path):
    script = textwrap.dedent("""
        import sys
        import pyarrow as pa
        from orchestrator import AssetKey, OutputContext, ParquetIOManager
        lake, n, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "wait"
        def batches():
            for i in range(n):
                yield pa.record_batch({"x": list(range(1000))})
                if i == 0 and wait:
                    print("writing", flush=True)
                    sys.stdin.readline()
        ParquetIOManager(lake).write(OutputContext(AssetKey.parse("t"), partition="2024-01-01"), batches())
    """)
    lake = str(tmp_path / "lake")
    first = subprocess.Popen([sys.executable, "-c", script, lake, "20", "wait"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline().strip() == "writing"  # its temporary file exists now
    second = subprocess.run([sys.executable, "-c", script, lake, "2", "go"], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    first.communicate("go\n")
    assert first.returncode == 0
    folder = tmp_path / "lake" / "t" / "partition=2024-01-01"
    assert pq.read_table(folder / "data.parquet").num_rows == 20_000  # the first one renamed last
    assert [p.name for p in folder.iterdir()] == ["data.parquet"]
