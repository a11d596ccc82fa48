"""DuckDBIOManager: asset values as tables in the warehouse DuckDB file that dbt (dbt-duckdb) also uses.

Every operation opens its own connection and closes it, so the file is not left locked for a dbt
subprocess that runs next. Connections are plain `duckdb.connect(path)` calls: DuckDB shares one
database instance per file and process only when the configuration matches, and dbt-duckdb may have
the same file open in this process. A write is one transaction: a whole table is replaced with
`CREATE OR REPLACE TABLE`, a partition with `DELETE` + `INSERT`; a failure rolls everything back.

In one process, DuckDB refuses a second database instance of a file whose configuration differs
(dbt-duckdb's, a read-only one), or an ATTACH of a file another instance holds ("Unique file handle
conflict"). So our plain connections share a file, and the in-process dbt invocations and
read-only readers use it alone (`using_files`): a Python step writing the warehouse waits for a
dbt build on it in another thread instead of failing. Other processes are kept out by DuckDB's own
file lock, which `connect()` waits for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from orchestrator.errors import IOManagerError
from orchestrator.io.base import InputContext, IOManager, OutputContext, not_materialized
from orchestrator.io.parquet import as_arrow, convert_table, schema_metadata
from orchestrator.keys import AssetKey

DEFAULT_SCHEMA = "main"
LOCK_TIMEOUT = 10.0
CONFLICT_RETRIES = 5
_GRAINS = {"hour": "hour", "hourly": "hour", "day": "day", "daily": "day",
           "week": "week", "weekly": "week", "month": "month", "monthly": "month"}
_KEY_FORMATS = ("%Y-%m-%d-%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%Y-%m")


class _FileUse:
    """One DuckDB file's users in this process: our connections share it (one configuration, so one
    database instance); an exclusive user (dbt, a read-only or ATTACHing reader) has it alone.
    Exclusive users waiting go first; the thread holding it exclusively may use it again."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._sharers: dict[int, int] = {}
        self._owner: int | None = None
        self._depth = 0
        self._waiting = 0
        self.opening = threading.Lock()
        """Held while a connection opens or closes: DuckDB drops the file's database instance when
        its last connection closes, and a connect racing that drop makes a second instance of the
        still-attached file ("Unique file handle conflict")."""

    @contextmanager
    def shared(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._changed:  # a thread that shares it already goes on: it may nest connections
            while self._owner not in (None, me) or (self._owner is None and self._waiting and me not in self._sharers):
                self._changed.wait()
            self._sharers[me] = self._sharers.get(me, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                self._sharers[me] -= 1
                if not self._sharers[me]:
                    del self._sharers[me]
                self._changed.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._changed:
            self._waiting += 1
            while self._owner not in (None, me) or (self._owner is None and self._sharers):
                self._changed.wait()
            self._waiting -= 1
            self._owner, self._depth = me, self._depth + 1
        try:
            yield
        finally:
            with self._changed:
                self._depth -= 1
                if not self._depth:
                    self._owner = None
                self._changed.notify_all()


_FILE_USES: dict[str, _FileUse] = {}
_FILE_USES_GUARD = threading.Lock()


def _use_of(path: str | Path) -> _FileUse:
    with _FILE_USES_GUARD:
        return _FILE_USES.setdefault(os.path.realpath(path), _FileUse())


@contextmanager
def using_files(paths: Iterable[str | Path]) -> Iterator[None]:
    """Use the DuckDB files in `paths` alone in this process (dbt, a read-only or ATTACHing
    reader), taken in one order so two such users cannot deadlock; waits for our connections."""
    with ExitStack() as held:
        for key in sorted({os.path.realpath(p) for p in paths}):
            held.enter_context(_use_of(key).exclusive())
        yield


def quote(identifier: str) -> str:
    """A DuckDB identifier, quoted.

    >>> quote('my "odd" name')
    '"my ""odd"" name"'
    """
    return '"' + identifier.replace('"', '""') + '"'


@contextmanager
def connect(path: str | Path, lock_timeout: float = LOCK_TIMEOUT,
            on_connect: Callable[[duckdb.DuckDBPyConnection], Any] | None = None,
            ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A plain connection to the DuckDB file at `path`, closed on exit; `on_connect(con)` first.

    While another process holds the file's lock (a dbt run, say), retry for up to `lock_timeout`
    seconds, then raise IOManagerError naming the file. Shares the file with this process's other
    plain connections, not with an exclusive user (`using_files`), until the connection closes.
    """
    use = _use_of(path)
    with use.shared(), _connected(path, lock_timeout, use.opening) as con:
        if on_connect is not None:
            on_connect(con)
        yield con


@contextmanager
def _connected(path: str | Path, lock_timeout: float,
               opening: threading.Lock) -> Iterator[duckdb.DuckDBPyConnection]:
    deadline, pause = time.monotonic() + lock_timeout, 0.02
    while True:
        try:
            with opening:
                con = duckdb.connect(str(path))
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise IOManagerError(f"Cannot open the DuckDB file {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise IOManagerError(
                    f"The DuckDB file {path} is locked by another process (waited {lock_timeout:g}s): "
                    f"{exc}. Wait for that process (a dbt run?) to finish, or close it."
                ) from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        except duckdb.ConnectionException as exc:
            raise IOManagerError(
                f"Cannot open the DuckDB file {path}: {exc}. Something in this process opened it "
                "with other options (read_only, config); DuckDBIOManager connects with none."
            ) from exc
    try:
        yield con
    finally:
        with opening:
            con.close()


def read_table(path: str | Path, relation: str,
               on_connect: Callable[[duckdb.DuckDBPyConnection], Any] | None = None) -> pa.Table:
    """All rows of `relation` (SQL text, e.g. '"warehouse"."marts"."fct_orders"') as an Arrow table."""
    with connect(path, on_connect=on_connect) as con:
        return con.execute(f"SELECT * FROM {relation}").to_arrow_table()


@dataclass(frozen=True, slots=True)
class _Target:
    """Where an asset lives: a table this IO manager owns, or a relation dbt builds."""

    relation: str
    schema: str | None = None
    table: str | None = None

    @property
    def owned(self) -> bool:
        return self.table is not None


class DuckDBIOManager(IOManager):
    """Tables in one DuckDB file: schema from `schema`, else the key's prefix joined by '_', else main.

    Assets whose metadata has a `relation_name` (dbt models) are read from it verbatim and never
    written. Partitioned assets need `partition_column` in their metadata; with `partition_grain`
    ('hour', 'day', 'week', 'month') a key selects the rows of its time window, else the rows equal
    to it. Values: Arrow tables, pandas or polars frames, or an iterator of Arrow record batches
    (streamed into the table batch by batch).

    `on_connect(con)` runs on every new connection: e.g. `integrations.iceberg.autoload_iceberg`,
    so that dbt views over `iceberg_scan(...)` can be read (DuckDB cannot download extensions here).
    """

    def __init__(self, path: str | Path, schema: str | None = None, *,
                 lock_timeout: float = LOCK_TIMEOUT,
                 on_connect: Callable[[duckdb.DuckDBPyConnection], Any] | None = None) -> None:
        self.path = Path(path)
        self.schema = schema
        self.lock_timeout = lock_timeout
        self.on_connect = on_connect
        self._metadata: dict[AssetKey, Mapping[str, Any]] = {}

    # -- where things are -------------------------------------------------------------------------

    def target(self, asset_key: AssetKey, metadata: Mapping[str, Any] | None = None) -> _Target:
        metadata = metadata if metadata is not None else self._metadata.get(asset_key, {})
        if metadata.get("relation_name"):
            return _Target(str(metadata["relation_name"]))
        schema = self.schema or ("_".join(asset_key.prefix) if asset_key.prefix else DEFAULT_SCHEMA)
        return _Target(f"{quote(schema)}.{quote(asset_key.name)}", schema, asset_key.name)

    def location(self, target: _Target) -> str:
        name = f"{target.schema}.{target.table}" if target.owned else target.relation
        return f"duckdb://{self.path}/{name}"

    def _remember(self, asset_key: AssetKey, metadata: Mapping[str, Any]) -> Mapping[str, Any]:
        # has() and RunResult.value() get no metadata: remember what write/read contexts said.
        if metadata:
            self._metadata[asset_key] = metadata
            return metadata
        return self._metadata.get(asset_key, {})

    def _connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return connect(self.path, self.lock_timeout, self.on_connect)

    # -- write ------------------------------------------------------------------------------------

    def write(self, context: OutputContext, value: Any) -> Mapping[str, Any]:
        key, partition = context.asset_key, context.partition
        metadata = self._remember(key, context.metadata)
        target = self.target(key, metadata)
        if not target.owned:
            raise IOManagerError(
                f"Asset '{key}' is the dbt relation {target.relation}: dbt builds it and "
                "DuckDBIOManager only reads it. Drop `relation_name` from the asset's metadata to "
                "store the value as a table of its own."
            )
        if partition is not None:
            _partition_column(key, metadata)  # fail before touching the file
        replayable = as_arrow(value) is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(CONFLICT_RETRIES):
            try:
                with self._connect() as con:
                    self._ensure_schema(con, target.schema or DEFAULT_SCHEMA)
                    schema, rows, digest = self._transaction(con, key, partition, metadata, target, value)
                break
            except duckdb.TransactionException as exc:  # another writer changed the same table
                if not replayable or attempt == CONFLICT_RETRIES - 1 or "conflict" not in str(exc).lower():
                    raise IOManagerError(f"Asset '{key}': writing {target.relation} failed: {exc}") from exc
                time.sleep(0.05 * 2**attempt)
            except duckdb.Error as exc:
                raise IOManagerError(f"Asset '{key}': writing {target.relation} failed: {exc}") from exc
        fingerprint = hashlib.blake2b(repr((rows, schema_metadata(schema), digest)).encode(), digest_size=16)
        return {
            "rows": rows,
            "schema": schema_metadata(schema),
            "location": self.location(target),
            "data_version": fingerprint.hexdigest(),
        }

    def _ensure_schema(self, con: duckdb.DuckDBPyConnection, schema: str) -> None:
        exists = "SELECT 1 FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name = ?"
        for attempt in range(CONFLICT_RETRIES):
            if con.execute(exists, [schema]).fetchone():
                return
            try:  # in its own transaction: concurrent creators of one schema conflict otherwise
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
                return
            except duckdb.TransactionException:
                time.sleep(0.02 * 2**attempt)

    def _transaction(self, con: duckdb.DuckDBPyConnection, key: AssetKey, partition: str | None,
                     metadata: Mapping[str, Any], target: _Target, value: Any) -> tuple[pa.Schema, int, int]:
        """Write every chunk of `value` in one transaction; (schema, rows, sum of row hashes)."""
        relation, rows, digest = target.relation, 0, 0
        chunks = _chunks(key, value)
        first = next(chunks, None)
        if first is None:
            raise IOManagerError(
                f"Asset '{key}' yielded no record batches, so there is no schema to create "
                "the table from. Yield an empty RecordBatch, or return a pyarrow.RecordBatchReader."
            )
        schema, where, params = first.schema, "", []
        column = _partition_column(key, metadata) if partition is not None else ""
        if partition is not None:
            con.register("_orch_chunk", first)
            self._create_partitioned(con, key, column, relation)
        con.execute("BEGIN TRANSACTION")
        try:
            for chunk in itertools.chain([first], chunks):
                if not chunk.schema.equals(schema):
                    raise IOManagerError(
                        f"Asset '{key}': a record batch has schema {schema_metadata(chunk.schema)}, "
                        f"unlike the first batch's {schema_metadata(schema)}."
                    )
                con.register("_orch_chunk", chunk)
                if partition is None:
                    n, h, _, _ = _scan(con)
                    verb = "INSERT INTO {}" if chunk is not first else "CREATE OR REPLACE TABLE {} AS"
                else:
                    if chunk is first:
                        where, params = self._clear_partition(con, key, partition, metadata, relation)
                    n, h, outside, example = _scan(con, where, params, quote(column))
                    if outside:
                        raise IOManagerError(
                            f"Asset '{key}' partition '{partition}': {outside} row(s) do not belong to "
                            f"the partition (e.g. {column} = {example}). Return only the rows of "
                            "the partition."
                        )
                    verb = "INSERT INTO {} BY NAME"
                con.execute(verb.format(relation) + " SELECT * FROM _orch_chunk")
                con.unregister("_orch_chunk")
                rows, digest = rows + n, digest + h
            con.execute("COMMIT")
        except BaseException:
            with suppress(duckdb.Error):  # a failed COMMIT has already rolled back
                con.execute("ROLLBACK")
            raise
        return schema, rows, digest

    def _create_partitioned(self, con: duckdb.DuckDBPyConnection, key: AssetKey, column: str,
                            relation: str) -> None:
        """Create the (empty) table of a partitioned asset on its first write, in its own transaction.

        Concurrent first writes of several partitions would otherwise conflict on creating it.
        """
        data_columns = _describe(con, "SELECT * FROM _orch_chunk")
        if column not in data_columns:
            raise IOManagerError(
                f"Asset '{key}': the data has no partition column '{column}' "
                f"(columns: {', '.join(data_columns)}). Add it, or fix `partition_column`."
            )
        for attempt in range(CONFLICT_RETRIES):
            try:
                con.execute(f"CREATE TABLE IF NOT EXISTS {relation} AS SELECT * FROM _orch_chunk LIMIT 0")
                return
            except duckdb.TransactionException:
                time.sleep(0.02 * 2**attempt)

    def _clear_partition(self, con: duckdb.DuckDBPyConnection, key: AssetKey, partition: str,
                         metadata: Mapping[str, Any], relation: str) -> tuple[str, list[Any]]:
        """Check the data has the table's columns; delete the partition's rows; the partition filter."""
        data_columns = _describe(con, "SELECT * FROM _orch_chunk")
        table_columns = _describe(con, f"SELECT * FROM {relation}")
        if table_columns != data_columns:  # the same names and types, in any order
            raise IOManagerError(
                f"Asset '{key}' partition '{partition}': the data's columns {data_columns} differ "
                f"from those of {relation}, {table_columns}, which the other partitions have. Write "
                f"the same columns, or drop the table to change them (DROP TABLE {relation})."
            )
        column = _partition_column(key, metadata)
        where, params = _partition_filter(key, partition, metadata, column, data_columns[column])
        con.execute(f"DELETE FROM {relation} WHERE {where}", params)
        return where, params

    # -- read -------------------------------------------------------------------------------------

    def read(self, context: InputContext) -> Any:
        key, partition = context.asset_key, context.partition
        metadata = self._remember(key, context.metadata)
        target = self.target(key, metadata)
        if not self.path.exists():
            raise not_materialized(key, partition, self.location(target))
        columns = ", ".join(quote(c) for c in context.columns) if context.columns else "*"
        with self._connect() as con:
            try:
                where, params = self._filter(con, key, partition, metadata, target)
                table = con.execute(f"SELECT {columns} FROM {target.relation}{where}", params).to_arrow_table()
            except duckdb.CatalogException:
                raise not_materialized(key, partition, self.location(target)) from None
            except duckdb.BinderException as exc:
                raise _binder_error(key, target, exc, context.columns) from exc
        return convert_table(table, context.expected_type)

    def _filter(self, con: duckdb.DuckDBPyConnection, key: AssetKey, partition: str | None,
                metadata: Mapping[str, Any], target: _Target) -> tuple[str, list[Any]]:
        if partition is None:
            return "", []
        column = _partition_column(key, metadata)
        types = _describe(con, f"SELECT * FROM {target.relation}")
        if column not in types:
            raise IOManagerError(
                f"Asset '{key}': {target.relation} has no partition column '{column}' "
                f"(columns: {', '.join(types)})."
            )
        where, params = _partition_filter(key, partition, metadata, column, types[column])
        return f" WHERE {where}", params

    def has(self, asset_key: AssetKey, partition: str | None = None) -> bool:
        if not self.path.exists():
            return False
        metadata = self._metadata.get(asset_key, {})
        target = self.target(asset_key, metadata)
        try:
            with self._connect() as con:
                where, params = self._filter(con, asset_key, partition, metadata, target)
                found = con.execute(f"SELECT 1 FROM {target.relation}{where} LIMIT 1", params).fetchone()
                return partition is None or found is not None  # the query ran: the table exists
        except (duckdb.Error, IOManagerError):
            return False


# -- helpers ----------------------------------------------------------------------------------------


def _chunks(key: AssetKey, value: Any) -> Iterator[pa.Table]:
    table = as_arrow(value)
    if table is not None:
        yield table
        return
    if isinstance(value, pa.RecordBatchReader):
        yield pa.Table.from_batches([], value.schema)  # creates the table even when there are no rows
        yield from (pa.Table.from_batches([b]) for b in value)
        return
    if not isinstance(value, Iterator):
        raise IOManagerError(
            f"Asset '{key}' returned a {type(value).__name__}; DuckDBIOManager stores tables: a "
            "pyarrow.Table or RecordBatch, a pandas or polars DataFrame, or an iterator of "
            "pyarrow.RecordBatch."
        )
    for item in value:
        if isinstance(item, pa.RecordBatch):
            yield pa.Table.from_batches([item])
        elif isinstance(item, pa.Table):
            yield item
        else:
            raise IOManagerError(
                f"Asset '{key}' yielded a {type(item).__name__}; an iterator stored by "
                "DuckDBIOManager must yield pyarrow.RecordBatch objects."
            )


def _scan(con: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None,
          column: str = "") -> tuple[int, int, int, Any]:
    """One pass over the registered chunk: rows, sum of row hashes, rows outside `where`, one of them."""
    outside = f"count(*) FILTER (WHERE ({where}) IS NOT TRUE)" if where else "0"
    example = f"any_value(CAST({column} AS VARCHAR)) FILTER (WHERE ({where}) IS NOT TRUE)" if where else "NULL"
    sql = f"SELECT count(*), coalesce(sum(hash(*COLUMNS(*))), 0), {outside}, {example} FROM _orch_chunk"
    n, h, out, ex = con.execute(sql, (params or []) * 2).fetchone()
    return int(n), int(h), int(out), ex


def _describe(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE {query}").fetchall()}


def _binder_error(key: AssetKey, target: _Target, exc: Exception, columns: Any) -> IOManagerError:
    if "catalog" in str(exc).lower():
        return IOManagerError(
            f"Asset '{key}': {target.relation} names a database that the DuckDB file is not "
            f"({exc}). Point DuckDBIOManager at the file dbt writes (the dbt profile's `path`)."
        )
    return IOManagerError(f"Asset '{key}': cannot read columns {list(columns or [])} of {target.relation}: {exc}")


def _partition_column(key: AssetKey, metadata: Mapping[str, Any]) -> str:
    column = metadata.get("partition_column")
    if not column:
        raise IOManagerError(
            f"Asset '{key}' is partitioned but has no `partition_column` in its metadata: "
            "DuckDBIOManager needs it to know which rows a partition holds, "
            "e.g. @asset(partitions=..., metadata={'partition_column': 'order_date'})."
        )
    return str(column)


def _partition_filter(key: AssetKey, partition: str, metadata: Mapping[str, Any], column: str,
                      column_type: str) -> tuple[str, list[Any]]:
    """SQL selecting a partition's rows: its time window with `partition_grain`, else equality."""
    col, kind = quote(column), column_type.upper()
    temporal = kind == "DATE" or kind.startswith("TIMESTAMP")
    grain = metadata.get("partition_grain")
    if grain is None:
        if not temporal:
            return f"{col} = CAST(? AS {column_type})", [partition]
        start = _parse_key(key, partition)
        return f"{col} = CAST(? AS {column_type})", [_literal(start, kind, metadata)]
    if grain not in _GRAINS:
        raise IOManagerError(f"Asset '{key}': unknown partition_grain '{grain}'. Use one of {sorted(set(_GRAINS.values()))}.")
    if not temporal:
        raise IOManagerError(
            f"Asset '{key}': partition_grain '{grain}' needs a DATE or TIMESTAMP partition column; "
            f"'{column}' is {column_type}."
        )
    if kind == "DATE" and _GRAINS[grain] == "hour":
        raise IOManagerError(f"Asset '{key}': partition_grain 'hour' needs a TIMESTAMP column; '{column}' is a DATE.")
    first, _, last = partition.partition("...")  # a range of keys, both included
    start = _parse_key(key, first)
    end = _window_end(_parse_key(key, last or first), _GRAINS[grain])
    bounds = f"{col} >= CAST(? AS {column_type}) AND {col} < CAST(? AS {column_type})"
    return bounds, [_literal(start, kind, metadata), _literal(end, kind, metadata)]


def _parse_key(key: AssetKey, partition: str) -> dt.datetime:
    for fmt in _KEY_FORMATS:
        try:
            return dt.datetime.strptime(partition, fmt)
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(partition).replace(tzinfo=None)
    except ValueError:
        raise IOManagerError(
            f"Asset '{key}': partition '{partition}' is not a date or time, but its partition column is."
        ) from None


def _window_end(start: dt.datetime, grain: str) -> dt.datetime:
    if grain == "month":
        month0 = start.month  # zero-based index of the next month
        return start.replace(year=start.year + month0 // 12, month=month0 % 12 + 1)
    return start + {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1),
                    "week": dt.timedelta(weeks=1)}[grain]


def _literal(moment: dt.datetime, kind: str, metadata: Mapping[str, Any]) -> str:
    if kind == "DATE":
        return moment.date().isoformat()
    if "TIME ZONE" in kind or kind == "TIMESTAMPTZ":  # windows are wall-clock in partition_timezone
        return moment.replace(tzinfo=ZoneInfo(metadata.get("partition_timezone", "UTC"))).isoformat()
    return moment.isoformat(sep=" ")
