"""ParquetIOManager: Arrow tables and pandas frames as Parquet files, other values pickled.

Files are written to a temporary name beside the target and renamed into place, so a crash never
leaves a half-written file visible.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.errors import IOManagerError
from orchestrator.io.base import InputContext, IOManager, OutputContext, not_materialized
from orchestrator.keys import AssetKey

PARQUET_FILE = "data.parquet"
PICKLE_FILE = "data.pickle"


def as_arrow(value: Any) -> pa.Table | None:
    """An Arrow table for table-like values (Arrow, pandas, polars), else None."""
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ == "DataFrame":
        return pa.Table.from_pandas(value, preserve_index=False)
    if module.startswith("polars") and type(value).__name__ == "DataFrame":
        return value.to_arrow()
    return None


def atomic_write(target: Path, write: Any) -> None:
    """Call `write(tmp_path)`, then rename the file onto `target` in one step.

    The temporary name is unique per process and thread, beside the target (same filesystem)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(str(tmp))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_bytes(path: str, payload: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(payload)


def _file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def schema_metadata(schema: pa.Schema) -> list[list[str]]:
    return [[f.name, str(f.type)] for f in schema]


class ParquetIOManager(IOManager):
    """One directory per asset under `base_dir`; partitions as hive-style `partition=KEY` folders."""

    def __init__(self, base_dir: str | Path, pickle_fallback: bool = True) -> None:
        self.base_dir = Path(base_dir)
        self.pickle_fallback = pickle_fallback
        self._made: set[Path] = set()

    def _dir(self, key: AssetKey, partition: str | None) -> Path:
        folder = self.base_dir.joinpath(*key.path)
        return folder / f"partition={partition}" if partition is not None else folder

    def _ensure(self, folder: Path) -> Path:
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)
        return folder

    def _replace(self, target: Path, write: Any) -> None:
        try:
            atomic_write(target, write)
        except FileNotFoundError:  # the folder was removed since this process made it
            self._made.discard(target.parent)
            atomic_write(self._ensure(target.parent) / target.name, write)

    def write(self, context: OutputContext, value: Any) -> Mapping[str, Any]:
        folder = self._ensure(self._dir(context.asset_key, context.partition))
        table = as_arrow(value)
        if table is not None:
            target = folder / PARQUET_FILE
            self._replace(target, lambda tmp: pq.write_table(table, tmp))
            (folder / PICKLE_FILE).unlink(missing_ok=True)
            return {
                "rows": table.num_rows,
                "bytes": target.stat().st_size,
                "schema": schema_metadata(table.schema),
                "location": str(target),
                "data_version": _file_digest(target),
            }
        if not self.pickle_fallback:
            raise IOManagerError(
                f"Asset '{context.asset_key}' returned a {type(value).__name__}; "
                "this IO manager stores tables only (pyarrow.Table, pandas or polars DataFrame)."
            )
        target = folder / PICKLE_FILE
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise IOManagerError(
                f"Asset '{context.asset_key}' returned a {type(value).__name__} that cannot be "
                f"stored: it is neither a table nor picklable ({exc})."
            ) from exc
        self._replace(target, lambda tmp: _write_bytes(tmp, payload))
        (folder / PARQUET_FILE).unlink(missing_ok=True)
        return {
            "bytes": len(payload),
            "location": str(target),
            "data_version": hashlib.blake2b(payload, digest_size=16).hexdigest(),
        }

    def read(self, context: InputContext) -> Any:
        folder = self._dir(context.asset_key, context.partition)
        parquet = folder / PARQUET_FILE
        if parquet.exists():
            table = pq.read_table(parquet, columns=list(context.columns) if context.columns else None)
            return _convert(table, context.expected_type)
        pickled = folder / PICKLE_FILE
        if pickled.exists():
            return pickle.loads(pickled.read_bytes())
        raise not_materialized(context.asset_key, context.partition, str(folder))

    def has(self, asset_key: AssetKey, partition: str | None = None) -> bool:
        folder = self._dir(asset_key, partition)
        return (folder / PARQUET_FILE).exists() or (folder / PICKLE_FILE).exists()


def _convert(table: pa.Table, expected_type: Any) -> Any:
    """Return the table as the type the consuming parameter is annotated with."""
    if isinstance(expected_type, str):  # an unresolved annotation such as "pd.DataFrame"
        module, _, name = expected_type.rpartition(".")
        module = {"pd": "pandas", "pl": "polars"}.get(module, module)
    else:
        name = getattr(expected_type, "__name__", "")
        module = getattr(expected_type, "__module__", "")
    if name == "DataFrame" and module.startswith("pandas"):
        return table.to_pandas()
    if name == "DataFrame" and module.startswith("polars"):
        import polars  # optional: only when the user annotated a polars frame

        return polars.from_arrow(table)
    return table
