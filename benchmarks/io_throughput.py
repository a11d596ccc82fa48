"""IO throughput: our IO managers against the library calls they wrap, and streaming memory.

    .venv/bin/python benchmarks/io_throughput.py                    # 10 million rows, a few minutes
    .venv/bin/python benchmarks/io_throughput.py --rows 1000000     # quicker
    .venv/bin/python benchmarks/io_throughput.py --skip-memory      # throughput only

One realistic mixed-type table (int64 id, timestamp, date, ~50-value string category, float64 amount,
decimal(12,2) price, bool flag, ~20-char string text) is generated once with numpy, in chunks, and
written then read back through ours and the raw reference:

    parquet         ParquetIOManager.write / .read     pq.write_table / pq.read_table
    parquet_stream  ParquetIOManager.write(iterator)   pq.ParquetWriter + write_batch per batch
    iceberg         IcebergIOManager.write / .read     catalog.create_table + table.append /
                    (SQL catalog on SQLite)            catalog.load_table().scan().to_arrow()
    iceberg_stream  IcebergIOManager.write(iterator)   create_table + append(RecordBatchReader)
    duckdb          DuckDBIOManager.write / .read      duckdb.connect + CREATE TABLE AS / SELECT * .arrow()

The *_stream pairs write the table as an iterator of record batches of CHUNK_ROWS rows (write only).

Each timing is the best of --repeat (ours and raw interleaved, alternating which goes first), every
repetition into a fresh folder; opening a catalog is outside the timed region for both sides, creating the table inside it.
Throughput is rows/s; ratio = ours / raw (target >= 0.90); the CPU seconds of the same runs (all
threads) are printed beside, as a check on load from elsewhere: cpu ratio = raw CPU / ours CPU. Peak memory (ru_maxrss) of streaming --rows rows as record
batches through Parquet and Iceberg is measured in a fresh subprocess per case, against a baseline
that only generates the batches. Prints tables, whether targets are met, and a final JSON line.
Never asserts.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TARGET_RATIO = 0.90
CHUNK_ROWS = 500_000
CATEGORIES = [f"category_{i:02d}" for i in range(50)]
EPOCH_2024_US = 1_704_067_200_000_000
MEMORY_CASES = ("baseline", "parquet_raw", "parquet_ours", "iceberg_raw", "iceberg_ours")


# -- the data -----------------------------------------------------------------------------------


def _text_pool(rng: np.random.Generator, size: int = 20_000) -> pa.Array:
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz      ", dtype="S1")
    codes = rng.integers(0, len(letters), size=(size, 20))
    return pa.array([letters[row].tobytes().decode() for row in codes])


def make_batch(start: int, n: int, rng: np.random.Generator, text_pool: pa.Array) -> pa.RecordBatch:
    """n rows with ids start..start+n-1: one year of timestamps, 50 categories, 20-char texts."""
    ts = EPOCH_2024_US + rng.integers(0, 366 * 86_400 * 1_000_000, size=n, dtype=np.int64)
    cents = rng.integers(0, 10**10, size=n, dtype=np.int64)  # up to 99,999,999.99: fits decimal(12,2)
    decimal_words = np.zeros((n, 2), dtype=np.int64)  # 128-bit little endian: low word, high word 0
    decimal_words[:, 0] = cents
    return pa.record_batch({
        "id": pa.array(np.arange(start, start + n, dtype=np.int64)),
        "ts": pa.array(ts, pa.timestamp("us")),
        "day": pa.array((ts // 86_400_000_000).astype(np.int32), pa.date32()),
        "category": pa.array(CATEGORIES).take(pa.array(rng.integers(0, len(CATEGORIES), size=n))),
        "amount": pa.array(rng.gamma(2.0, 50.0, size=n)),
        "price": pa.Array.from_buffers(pa.decimal128(12, 2), n, [None, pa.py_buffer(decimal_words)]),
        "flag": pa.array(rng.random(n) < 0.3),
        "text": text_pool.take(pa.array(rng.integers(0, len(text_pool), size=n))),
    })


def batches(rows: int, chunk_rows: int = CHUNK_ROWS, seed: int = 0) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    pool = _text_pool(rng)
    for start in range(0, rows, chunk_rows):
        yield make_batch(start, min(chunk_rows, rows - start), rng, pool)


# -- timing -------------------------------------------------------------------------------------


Timing = tuple[float, float]
"""(wall seconds, CPU seconds of this process, all its threads)."""


def _timed(setup: Callable[[], Any], run: Callable[[Any], Any]) -> tuple[Timing, Any]:
    state = setup()
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    result = run(state)
    return (time.perf_counter() - start, time.process_time() - cpu), result


def compare(repeat: int, ours: tuple[Callable[[], Any], Callable[[Any], Any]],
            raw: tuple[Callable[[], Any], Callable[[Any], Any]]) -> tuple[Timing, Any, Timing, Any]:
    """Best (by wall time) timings of ours and raw, `run(setup())` each (setup untimed), interleaved
    so that load from elsewhere on the machine hits both alike, the one going first alternating (the
    first pays for memory the other then reuses); also the last result of each. A side's previous
    result is dropped before it runs again, so both run with the same memory held."""
    best: dict[str, Timing] = {"ours": (float("inf"), 0.0), "raw": (float("inf"), 0.0)}
    results: dict[str, Any] = {"ours": None, "raw": None}
    sides = {"ours": ours, "raw": raw}
    for i in range(repeat):
        for side in ("ours", "raw") if i % 2 == 0 else ("raw", "ours"):
            results[side] = None
            timing, results[side] = _timed(*sides[side])
            best[side] = min(best[side], timing)
    return best["ours"], results["ours"], best["raw"], results["raw"]


class Workdir:
    """Fresh subfolders of one temporary folder, removed at the end."""

    def __init__(self, parent: str | None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="orch-io-bench-", dir=parent))
        self.n = 0

    def fresh(self, name: str) -> Path:
        self.n += 1
        path = self.root / f"{name}-{self.n}"
        path.mkdir()
        return path

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# -- the pairs ----------------------------------------------------------------------------------


def bench_parquet(table: pa.Table, work: Workdir, repeat: int) -> dict[str, Timing]:
    from orchestrator.io.base import InputContext, OutputContext
    from orchestrator.io.parquet import ParquetIOManager
    from orchestrator.keys import AssetKey

    key = AssetKey.parse("bench/table")
    ours_w, io, raw_w, path = compare(
        repeat,
        (lambda: ParquetIOManager(work.fresh("parquet-ours")), lambda io: (io.write(OutputContext(key), table), io)[1]),
        (lambda: work.fresh("parquet-raw") / "data.parquet", lambda path: (pq.write_table(table, path), path)[1]))
    ours_r, _, raw_r, _ = compare(repeat, (lambda: io, lambda io: io.read(InputContext(key))),
                                  (lambda: path, pq.read_table))
    return {"ours_write": ours_w, "raw_write": raw_w, "ours_read": ours_r, "raw_read": raw_r}


def bench_parquet_stream(table: pa.Table, work: Workdir, repeat: int) -> dict[str, Timing]:
    from orchestrator.io.base import OutputContext
    from orchestrator.io.parquet import ParquetIOManager
    from orchestrator.keys import AssetKey

    key = AssetKey.parse("bench/stream")

    def raw_write(path: Path) -> None:
        with pq.ParquetWriter(path, table.schema) as writer:
            for batch in table.to_batches(CHUNK_ROWS):
                writer.write_batch(batch)

    ours_w, _, raw_w, _ = compare(
        repeat,
        (lambda: ParquetIOManager(work.fresh("parquet-stream-ours")),
         lambda io: io.write(OutputContext(key), iter(table.to_batches(CHUNK_ROWS)))),
        (lambda: work.fresh("parquet-stream-raw") / "data.parquet", raw_write))
    return {"ours_write": ours_w, "raw_write": raw_w}


def _iceberg_setups(work: Workdir) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Fresh (ours, raw) catalogs, opened outside the timed region."""
    from pyiceberg.catalog.sql import SqlCatalog

    from integrations.iceberg import IcebergIOManager

    def ours_setup() -> IcebergIOManager:
        folder = work.fresh("iceberg-ours")
        io = IcebergIOManager(f"sqlite:///{folder / 'catalog.db'}", folder / "warehouse")
        io.catalog()
        return io

    def raw_setup() -> SqlCatalog:
        folder = work.fresh("iceberg-raw")
        (folder / "warehouse").mkdir()
        catalog = SqlCatalog("raw", uri=f"sqlite:///{folder / 'catalog.db'}",
                             warehouse=(folder / "warehouse").as_uri())
        catalog.create_namespace("bench")
        return catalog

    return ours_setup, raw_setup


def bench_iceberg_stream(table: pa.Table, work: Workdir, repeat: int) -> dict[str, Timing]:
    from orchestrator.io.base import OutputContext
    from orchestrator.keys import AssetKey

    key = AssetKey.parse("bench/stream")
    ours_setup, raw_setup = _iceberg_setups(work)

    def raw_write(catalog: Any) -> None:
        reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(CHUNK_ROWS))
        catalog.create_table("bench.stream", schema=table.schema).append(reader)

    ours_w, _, raw_w, _ = compare(
        repeat, (ours_setup, lambda io: io.write(OutputContext(key), iter(table.to_batches(CHUNK_ROWS)))),
        (raw_setup, raw_write))
    return {"ours_write": ours_w, "raw_write": raw_w}


def bench_iceberg(table: pa.Table, work: Workdir, repeat: int) -> dict[str, Timing]:
    from orchestrator.io.base import InputContext, OutputContext
    from orchestrator.keys import AssetKey

    key = AssetKey.parse("bench/table")
    ours_setup, raw_setup = _iceberg_setups(work)

    def raw_write(catalog: Any) -> Any:
        catalog.create_table("bench.table", schema=table.schema).append(table)
        return catalog

    ours_w, io, raw_w, catalog = compare(
        repeat, (ours_setup, lambda io: (io.write(OutputContext(key), table), io)[1]), (raw_setup, raw_write))
    ours_r, _, raw_r, _ = compare(
        repeat, (lambda: io, lambda io: io.read(InputContext(key))),
        (lambda: catalog, lambda c: c.load_table("bench.table").scan().to_arrow()))
    return {"ours_write": ours_w, "raw_write": raw_w, "ours_read": ours_r, "raw_read": raw_r}


def bench_duckdb(table: pa.Table, work: Workdir, repeat: int) -> dict[str, Timing]:
    import duckdb

    from orchestrator.io.base import InputContext, OutputContext
    from orchestrator.io.duckdb import DuckDBIOManager
    from orchestrator.keys import AssetKey

    key = AssetKey.parse("bench/table")

    def raw_write(path: Path) -> Path:
        with duckdb.connect(str(path)) as con:
            con.register("source", table)
            con.execute("CREATE SCHEMA bench")
            con.execute('CREATE TABLE bench."table" AS SELECT * FROM source')
        return path

    def raw_read(path: Path) -> pa.Table:
        with duckdb.connect(str(path)) as con:
            return con.execute('SELECT * FROM bench."table"').to_arrow_table()

    ours_w, io, raw_w, path = compare(
        repeat,
        (lambda: DuckDBIOManager(work.fresh("duckdb-ours") / "warehouse.duckdb"),
         lambda io: (io.write(OutputContext(key), table), io)[1]),
        (lambda: work.fresh("duckdb-raw") / "warehouse.duckdb", raw_write))
    ours_r, _, raw_r, _ = compare(repeat, (lambda: io, lambda io: io.read(InputContext(key))),
                                  (lambda: path, raw_read))
    return {"ours_write": ours_w, "raw_write": raw_w, "ours_read": ours_r, "raw_read": raw_r}


PAIRS = {"parquet": bench_parquet, "parquet_stream": bench_parquet_stream, "iceberg": bench_iceberg,
         "iceberg_stream": bench_iceberg_stream, "duckdb": bench_duckdb}


# -- streaming memory (each case in a fresh process) ---------------------------------------------


def memory_case(case: str, rows: int, folder: Path) -> dict[str, Any]:
    """Stream `rows` rows as record batches through one case; runs inside the child process."""
    from orchestrator.io.base import OutputContext
    from orchestrator.keys import AssetKey

    key, note = AssetKey.parse("bench/stream"), ""
    stream = batches(rows)
    first = next(stream)
    schema = first.schema

    def all_batches() -> Iterator[pa.RecordBatch]:
        yield first
        yield from stream

    start = time.perf_counter()
    if case == "baseline":  # generating the batches, nothing else
        for _ in all_batches():
            pass
    elif case == "parquet_raw":
        with pq.ParquetWriter(folder / "data.parquet", schema) as writer:
            for batch in all_batches():
                writer.write_batch(batch)
    elif case == "parquet_ours":
        from orchestrator.errors import IOManagerError
        from orchestrator.io.parquet import ParquetIOManager

        io = ParquetIOManager(folder)
        try:
            io.write(OutputContext(key), all_batches())
        except IOManagerError as exc:  # no streaming: measure what a user must do instead
            note = f"iterator refused ({str(exc)[:70]}...); measured with the batches collected into a table"
            io.write(OutputContext(key), pa.Table.from_batches(list(all_batches()), schema))
    elif case == "iceberg_raw":
        from pyiceberg.catalog.sql import SqlCatalog

        (folder / "warehouse").mkdir()
        catalog = SqlCatalog("raw", uri=f"sqlite:///{folder / 'catalog.db'}", warehouse=(folder / "warehouse").as_uri())
        catalog.create_namespace("bench")
        catalog.create_table("bench.stream", schema=schema).append(
            pa.RecordBatchReader.from_batches(schema, all_batches()))
    elif case == "iceberg_ours":
        from integrations.iceberg import IcebergIOManager

        io = IcebergIOManager(f"sqlite:///{folder / 'catalog.db'}", folder / "warehouse")
        io.write(OutputContext(key), all_batches())
    else:
        raise SystemExit(f"unknown memory case {case}")
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"case": case, "peak_mb": peak_kb / 1024, "hwm_mb": _vm_hwm_kb() / 1024 if _vm_hwm_kb() else None,
            "seconds": seconds, "note": note}


def _vm_hwm_kb() -> int | None:
    """Peak RSS of this process image (Linux VmHWM; unlike ru_maxrss, not inherited over fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def run_memory_cases(rows: int, work: Workdir) -> list[dict[str, Any]]:
    results = []
    for case in MEMORY_CASES:
        folder = work.fresh(f"mem-{case}")
        proc = subprocess.run([sys.executable, __file__, "--memory-child", case, "--rows", str(rows),
                               "--workdir", str(folder)], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[1])
        if proc.returncode != 0:
            results.append({"case": case, "peak_mb": None, "hwm_mb": None, "seconds": None,
                            "note": f"failed: {proc.stderr.strip().splitlines()[-1:]}"})
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


# -- report -------------------------------------------------------------------------------------


def report(rows: int, nbytes: int, repeat: int, timings: dict[str, dict[str, float]],
           memory: list[dict[str, Any]], load: tuple[float, ...]) -> dict[str, Any]:
    print()
    print(f"IO throughput: {rows:,} rows, {nbytes / 2**20:,.0f} MiB in Arrow; best of {repeat}; "
          f"Python {platform.python_version()}, pyarrow {pa.__version__}")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} "
          "at the end (other work on the machine makes the ratios noisy)")
    print()
    header = (f"{'pair':<15} {'op':<6} {'ours rows/s':>14} {'raw rows/s':>14} {'ours s':>8} {'raw s':>8} "
              f"{'ratio':>7}  {'target':<7} {'ours cpu':>8} {'raw cpu':>8} {'cpu ratio':>9}")
    print(header)
    print("-" * len(header))
    summary: dict[str, Any] = {"rows": rows, "arrow_mib": round(nbytes / 2**20, 1), "repeat": repeat,
                               "load_average": [round(load[0], 1), round(os.getloadavg()[0], 1)]}
    met_all = True
    for pair, t in timings.items():
        for op in ("write", "read"):
            if f"ours_{op}" not in t:
                continue
            (ours, ours_cpu), (raw, raw_cpu) = t[f"ours_{op}"], t[f"raw_{op}"]
            ratio = raw / ours  # throughput ratio ours/raw = time ratio raw/ours
            met = ratio >= TARGET_RATIO
            met_all &= met
            print(f"{pair:<15} {op:<6} {rows / ours:>14,.0f} {rows / raw:>14,.0f} {ours:>8.2f} {raw:>8.2f} "
                  f"{ratio:>7.2f}  {'met' if met else 'NOT met':<7} {ours_cpu:>8.2f} {raw_cpu:>8.2f} "
                  f"{raw_cpu / ours_cpu:>9.2f}")
            summary[f"{pair}_{op}_ratio"] = round(ratio, 3)
            summary[f"{pair}_{op}_cpu_ratio"] = round(raw_cpu / ours_cpu, 3)
            summary[f"{pair}_{op}_rows_per_s"] = round(rows / ours)
    print("-" * len(header))
    print(f"all ratios >= {TARGET_RATIO:.2f}: {'yes' if met_all else 'no'}")
    summary["targets_met"] = met_all
    if memory:
        print()
        print(f"Peak memory streaming {rows:,} rows as record batches of {CHUNK_ROWS:,}, each case in a fresh "
              "process (ru_maxrss; VmHWM as a cross-check):")
        print(f"{'case':<14} {'peak MiB':>9} {'VmHWM':>7} {'seconds':>8}  note")
        for m in memory:
            peak = f"{m['peak_mb']:>9.0f}" if m["peak_mb"] is not None else f"{'-':>9}"
            hwm = f"{m['hwm_mb']:>7.0f}" if m.get("hwm_mb") is not None else f"{'-':>7}"
            seconds = f"{m['seconds']:>8.1f}" if m["seconds"] is not None else f"{'-':>8}"
            print(f"{m['case']:<14} {peak} {hwm} {seconds}  {m['note']}")
            summary[f"memory_{m['case']}_mib"] = round(m["peak_mb"]) if m["peak_mb"] is not None else None
    print()
    print(json.dumps(summary))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--pairs", nargs="+", choices=sorted(PAIRS), default=list(PAIRS))
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--workdir", help="parent folder for the files written (default: the system temp)")
    parser.add_argument("--memory-child", choices=MEMORY_CASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere: integrations/

    if args.memory_child:
        print(json.dumps(memory_case(args.memory_child, args.rows, Path(args.workdir))))
        return

    work = Workdir(args.workdir)
    load = os.getloadavg()
    try:
        # first, while this process is small: a child inherits the parent's ru_maxrss on Linux
        memory = [] if args.skip_memory else run_memory_cases(args.rows, work)
        started = time.perf_counter()
        table = pa.Table.from_batches(list(batches(args.rows)))
        print(f"generated {table.num_rows:,} rows in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        timings = {}
        for pair in args.pairs:
            print(f"benchmarking {pair}...", file=sys.stderr)
            timings[pair] = PAIRS[pair](table, work, args.repeat)
        report(args.rows, table.nbytes, args.repeat, timings, memory, load)
    finally:
        work.close()


if __name__ == "__main__":
    main()
