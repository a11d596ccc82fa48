"""ParquetIOManager: Arrow tables, pandas/polars frames and record-batch streams as Parquet.

One folder per asset (`<base>/<key path>/`), partitions as hive-style `partition=<key>` folders.
Files appear atomically (see io/files.py). Record-batch iterators are written batch by batch, in
bounded memory. The data version is the SHA-256 of the file's bytes (`sha256sum data.parquet`),
computed while writing (io/digest.py). Local files are read memory-mapped. The default IO manager
pickles values that are not tables; `pickle_fallback=False` refuses them.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.errors import IOManagerError
from orchestrator.io.base import InputContext, IOManager, OutputContext, not_materialized
from orchestrator.io.files import Sink, files_at
from orchestrator.keys import AssetKey

PARQUET_FILE = "data.parquet"
PICKLE_FILE = "data.pickle"
IN_MEMORY_BYTES = 8 << 20
"""Tables up to this many Arrow bytes are encoded in memory and written in one go: a file follower
(a hashing thread per write) costs more than the write itself for small tables."""


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


def as_batches(key: AssetKey, value: Any) -> tuple[pa.Schema, Iterator[pa.RecordBatch]] | None:
    """(schema, batches) for a RecordBatchReader or an iterator of RecordBatches, else None."""
    if isinstance(value, pa.RecordBatchReader):
        return value.schema, iter(value)
    if not isinstance(value, Iterator):
        return None
    first = next(value, None)
    if first is None:
        raise IOManagerError(f"Asset '{key}' yielded no record batches: there is nothing to store.")
    if not isinstance(first, pa.RecordBatch):
        raise IOManagerError(f"Asset '{key}' yielded a {type(first).__name__}; expected pyarrow.RecordBatch.")

    def chain() -> Iterator[pa.RecordBatch]:
        yield first
        for batch in value:
            if batch.schema != first.schema:
                raise IOManagerError(f"Asset '{key}' yielded batches with different schemas.")
            yield batch

    return first.schema, chain()


def schema_metadata(schema: pa.Schema) -> list[list[str]]:
    return [[f.name, str(f.type)] for f in schema]


def convert_table(table: pa.Table, expected_type: Any) -> Any:
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


class ParquetIOManager(IOManager):
    """Parquet files under a local folder or an fsspec URL (`s3://bucket/lake`, `memory://x`)."""

    def __init__(self, base_dir: str | Path, pickle_fallback: bool = True, **storage_options: Any) -> None:
        self.files = files_at(base_dir, **storage_options)
        self.pickle_fallback = pickle_fallback

    def _folder(self, key: AssetKey, partition: str | None) -> str:
        parts = [*key.path, f"partition={partition}"] if partition is not None else list(key.path)
        return self.files.path(*parts)

    def write(self, context: OutputContext, value: Any) -> Mapping[str, Any]:
        folder = self._folder(context.asset_key, context.partition)
        table = as_arrow(value)
        if table is not None:
            return self._write_parquet(folder, table.schema, lambda writer: _write_table(writer, table),
                                       in_memory=table.nbytes <= IN_MEMORY_BYTES)
        stream = as_batches(context.asset_key, value)
        if stream is not None:
            schema, batches = stream
            return self._write_parquet(folder, schema, lambda writer: _write_all(writer, batches))
        if not self.pickle_fallback:
            raise IOManagerError(
                f"Asset '{context.asset_key}' returned a {type(value).__name__}; this IO manager "
                "stores tables only (pyarrow Table or RecordBatches, pandas or polars DataFrame)."
            )
        return self._write_pickle(context.asset_key, folder, value)

    def _write_parquet(self, folder: str, schema: pa.Schema, fill: Any, in_memory: bool = False) -> dict[str, Any]:
        target = f"{folder}/{PARQUET_FILE}"
        rows = 0

        def write(sink: Sink | pa.BufferOutputStream) -> None:
            nonlocal rows
            with pq.ParquetWriter(sink, schema) as writer:
                rows = fill(writer)

        if in_memory:  # small: encode in memory, hash the bytes, one file write (no follower thread)
            buffer = pa.BufferOutputStream()
            write(buffer)
            size, digest = self.files.write_bytes_atomic(target, buffer.getvalue())
        else:
            size, digest = self.files.write_atomic(target, write)
        self.files.remove(f"{folder}/{PICKLE_FILE}")
        return {"rows": rows, "bytes": size, "schema": schema_metadata(schema), "location": target,
                "data_version": digest}

    def _write_pickle(self, key: AssetKey, folder: str, value: Any) -> dict[str, Any]:
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise IOManagerError(
                f"Asset '{key}' returned a {type(value).__name__} that cannot be stored: it is "
                f"neither a table nor picklable ({exc})."
            ) from exc
        target = f"{folder}/{PICKLE_FILE}"
        size, digest = self.files.write_bytes_atomic(target, payload)
        self.files.remove(f"{folder}/{PARQUET_FILE}")
        return {"bytes": size, "location": target, "data_version": digest}

    def read(self, context: InputContext) -> Any:
        folder = self._folder(context.asset_key, context.partition)
        parquet = f"{folder}/{PARQUET_FILE}"
        if self.files.exists(parquet):
            columns = list(context.columns) if context.columns else None
            table = pq.read_table(parquet, columns=columns, filesystem=self.files.filesystem,
                                  memory_map=self.files.local)  # no copy of the file into the heap
            return convert_table(table, context.expected_type)
        pickled = f"{folder}/{PICKLE_FILE}"
        if self.files.exists(pickled):
            return pickle.loads(self.files.read_bytes(pickled))
        many = self._read_partitions(context)
        if many is not None:
            return convert_table(many, context.expected_type) if isinstance(many, pa.Table) else many
        raise not_materialized(context.asset_key, context.partition, folder)

    def _read_partitions(self, context: InputContext) -> Any:
        """A range `start...end` of partitions, or all of them when no partition is named: tables
        are concatenated; other values come back as {partition: value}."""
        stored = self.partitions(context.asset_key)
        if context.partition is not None:
            first, sep, last = context.partition.partition("...")
            if not sep:
                return None
            stored = [k for k in stored if first <= k <= last]
        if not stored:
            return None
        values = {k: self.read(InputContext(context.asset_key, k, None, context.columns)) for k in stored}
        if all(isinstance(v, pa.Table) for v in values.values()):
            return pa.concat_tables(list(values.values()), promote_options="default")
        return values

    def has(self, asset_key: AssetKey, partition: str | None = None) -> bool:
        folder = self._folder(asset_key, partition)
        return self.files.exists(f"{folder}/{PARQUET_FILE}") or self.files.exists(f"{folder}/{PICKLE_FILE}")

    def partitions(self, asset_key: AssetKey) -> list[str]:
        """The partition keys stored for an asset."""
        return [name.split("=", 1)[1] for name in self.files.listdir(self.files.path(*asset_key.path))
                if name.startswith("partition=")]


def _write_table(writer: pq.ParquetWriter, table: pa.Table) -> int:
    writer.write_table(table)
    return table.num_rows


def _write_all(writer: pq.ParquetWriter, batches: Iterable[pa.RecordBatch]) -> int:
    rows = 0
    for batch in batches:
        writer.write_batch(batch)
        rows += batch.num_rows
    return rows
