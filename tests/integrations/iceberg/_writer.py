"""A separate process writing through IcebergIOManager: concurrent writers and the SIGKILL test.

    python -m tests.integrations.iceberg._writer CATALOG_URL WAREHOUSE CATALOG_NAME MODE ARG...

`both READY BARRIER DAY...`: touch READY, wait for BARRIER, then for each day overwrite that daily
partition of `raw/events` (100 rows) and append 10 rows to `raw/appended`.
`stream BATCHES MARKER [GO]`: (once GO exists) stream BATCHES record batches into `raw/big`, touching
MARKER after the first few and then going on slowly, to be killed midway.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from integrations.iceberg import IcebergIOManager
from orchestrator.io.base import OutputContext
from orchestrator.keys import AssetKey
from tests.integrations.iceberg.data import DAILY, day_rows


def _stream(batches: int, marker: Path) -> Iterator[pa.RecordBatch]:
    for i in range(batches):
        yield pa.record_batch({"id": pa.array(range(i * 10_000, (i + 1) * 10_000), pa.int64()),
                               "text": pa.array([f"row {j:012d}" for j in range(10_000)])})
        if i == 5:
            marker.touch()
        if i >= 5:
            time.sleep(0.02)


def main(url: str, warehouse: str, name: str, mode: str, *args: str) -> None:
    io = IcebergIOManager(url, warehouse, catalog_name=name)
    io.catalog()  # connect before the barrier
    if mode == "both":
        ready, barrier, days = Path(args[0]), Path(args[1]), args[2:]
        ready.touch()
        while not barrier.exists():
            time.sleep(0.002)
        for day in days:
            io.write(OutputContext(AssetKey.parse("raw/events"), day, None, DAILY), day_rows(day, 100))
            io.write(OutputContext(AssetKey.parse("raw/appended"), None, None, {"write_mode": "append"}),
                     day_rows(day, 10))
    elif mode == "stream":
        if len(args) > 2:  # started early, to overlap its start-up with other work: wait for GO
            while not Path(args[2]).exists():
                time.sleep(0.002)
        io.chunk_bytes = 1 << 20  # many small data files: the kill lands between them
        io.write(OutputContext(AssetKey.parse("raw/big"), None, None, {}), _stream(int(args[0]), Path(args[1])))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(*sys.argv[1:])
