"""Test data shared by the tests and the writer subprocess (no pytest import: it starts faster)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

DAILY = {"partition_column": "day"}


def day_rows(day: str, n: int, start: int = 0, **extra: list[Any]) -> pa.Table:
    """n rows of one day: ids start..start+n-1."""
    return pa.table({"id": pa.array(range(start, start + n), pa.int64()),
                     "day": pa.array([dt.date.fromisoformat(day)] * n, pa.date32()),
                     "amount": pa.array([float(i) for i in range(n)], pa.float64()), **extra})


def counts_by_day(table: pa.Table) -> dict[str, int]:
    grouped = table.group_by("day").aggregate([("id", "count")])
    return {d.isoformat(): n for d, n in zip(grouped["day"].to_pylist(), grouped["id_count"].to_pylist(), strict=True)}
