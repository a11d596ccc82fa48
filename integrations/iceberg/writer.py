"""An asset's value as Arrow chunks, and the Iceberg data files written from them.

A table (Arrow, pandas, polars) is one chunk and can be written again; an iterator of record batches
(or a RecordBatchReader) is buffered into chunks of about `chunk_bytes` and written chunk by chunk,
IN_FLIGHT at a time, so memory stays bounded, but only once. Data files are written before the commit and reused when a
commit is retried against a table whose schema and spec did not change.
"""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.table.metadata import TableMetadata

from orchestrator.errors import IOManagerError
from orchestrator.io.parquet import as_arrow, schema_metadata
from orchestrator.keys import AssetKey

from integrations.iceberg.schema import normalize, normalize_schema

CHUNK_BYTES = 128 << 20
IN_FLIGHT = 2
"""Chunks written at once, each to its own data files: one is written while the next is built and
written, so a stream uses two cores like pyiceberg's own append; memory holds about two chunks."""
ACCEPTED = ("a pyarrow Table or RecordBatch, a pandas or polars DataFrame, "
            "an iterator of RecordBatches, or a RecordBatchReader")


class Source:
    """The value of one materialization, as normalized Arrow chunks."""

    def __init__(self, asset: AssetKey, schema: pa.Schema, chunks: Iterator[pa.Table] | None,
                 table: pa.Table | None) -> None:
        self.asset = asset
        self.schema = normalize_schema(schema)
        self.replayable = table is not None
        self._table = table
        self._chunks = chunks
        self.rows = 0

    @classmethod
    def of(cls, asset: AssetKey, value: Any, chunk_bytes: int = CHUNK_BYTES) -> Source:
        table = as_arrow(value)
        if table is not None:
            return cls(asset, table.schema, None, table)
        if isinstance(value, pa.RecordBatchReader):
            return cls(asset, value.schema, _buffered(asset, value.schema, iter(value), chunk_bytes), None)
        if isinstance(value, (Iterator, list, tuple)) and not isinstance(value, (str, bytes)):
            batches = iter(value)
            first = next(batches, None)
            if not isinstance(first, (pa.RecordBatch, pa.Table)) and isinstance(value, Iterator):
                what = "no record batches" if first is None else f"a {type(first).__name__}"
                raise IOManagerError(
                    f"Asset '{asset}' returned an iterator that yielded {what}; IcebergIOManager "
                    "needs record batches to know the table's schema. Yield pyarrow.RecordBatch "
                    "values (an empty one is fine), or return a pyarrow.RecordBatchReader."
                )
            if isinstance(first, (pa.RecordBatch, pa.Table)):
                stream = itertools.chain([first], batches)
                return cls(asset, first.schema, _buffered(asset, first.schema, stream, chunk_bytes), None)
        raise IOManagerError(
            f"Asset '{asset}' returned a {type(value).__name__}, which IcebergIOManager cannot store: "
            f"it stores tables only ({ACCEPTED})."
        )

    def chunks(self) -> Iterator[pa.Table]:
        if self._table is not None:
            yield normalize(self._table, self.schema)
            return
        if self._chunks is None:
            raise IOManagerError(
                f"Asset '{self.asset}': the table changed under a concurrent writer after this write's "
                "record batches were consumed, so they cannot be written again. Run it again."
            )
        chunks, self._chunks = self._chunks, None
        for chunk in chunks:
            yield normalize(chunk, self.schema)


def _buffered(asset: AssetKey, schema: pa.Schema, batches: Iterable[Any], chunk_bytes: int) -> Iterator[pa.Table]:
    """Tables of about `chunk_bytes` each from a stream of record batches (or tables) of one schema."""
    buffer: list[pa.RecordBatch] = []
    size = 0
    for item in batches:
        parts = item.to_batches() if isinstance(item, pa.Table) else [item]
        for batch in parts:
            if not isinstance(batch, pa.RecordBatch):
                raise IOManagerError(f"Asset '{asset}' yielded a {type(batch).__name__} among its record batches.")
            if not batch.schema.equals(schema):
                raise IOManagerError(
                    f"Asset '{asset}': a record batch has schema {schema_metadata(batch.schema)}, "
                    f"unlike the first batch's {schema_metadata(schema)}. Nothing was written."
                )
            buffer.append(batch)
            size += batch.nbytes
            if size >= chunk_bytes:
                yield pa.Table.from_batches(buffer, schema)
                buffer, size = [], 0
    if buffer:
        yield pa.Table.from_batches(buffer, schema)


class DataFiles:
    """Writes a source's data files for a table's metadata; reuses them while schema and spec hold."""

    def __init__(self, source: Source, io: FileIO | None = None) -> None:
        self.source = source
        self.io = io
        self.rows = 0
        self._files: list[DataFile] | None = None
        self._written_for: Any = None
        self._uuid = uuid.uuid4()
        self._counter = itertools.count()

    def for_metadata(self, metadata: TableMetadata, check: Callable[[pa.Table], None] | None) -> list[DataFile]:
        layout = (metadata.schema().fields, metadata.spec().spec_id, metadata.spec().fields)
        if self._files is not None and layout == self._written_for:
            return self._files
        assert self.io is not None, "set DataFiles.io to the table's FileIO first"
        files: list[DataFile] = []
        rows = 0
        pending: deque[Future[list[DataFile]]] = deque()
        with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="orch-iceberg-write") as pool:
            try:
                for chunk in self.source.chunks():
                    if check is not None:
                        check(chunk)
                    rows += chunk.num_rows
                    if chunk.num_rows:
                        pending.append(pool.submit(self._write, metadata, chunk))
                    while len(pending) >= IN_FLIGHT:  # before the next chunk is built: memory stays bounded
                        files.extend(pending.popleft().result())
                while pending:
                    files.extend(pending.popleft().result())
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        self._files, self._written_for, self.rows = files, layout, rows
        return files

    def _write(self, metadata: TableMetadata, chunk: pa.Table) -> list[DataFile]:
        return list(_dataframe_to_data_files(table_metadata=metadata, df=chunk, io=self.io,
                                             write_uuid=self._uuid, counter=self._counter))
