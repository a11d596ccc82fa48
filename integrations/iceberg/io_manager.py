"""IcebergIOManager: asset values as Iceberg tables in a SQL (SQLite, PostgreSQL) or REST catalog.

Every write is ONE Iceberg commit: schema evolution, spec evolution, the delete of what the write
replaces and the new data files land together or not at all, so readers (and a run that was killed
mid-write) only ever see whole snapshots. A commit that loses a race with a concurrent writer is
retried against the refreshed table, reusing the data files already written when it can.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchTableError,
    TableAlreadyExistsError,
    ValidationException,
)
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import _pyarrow_schema_ensure_small_types, schema_to_pyarrow
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Snapshot

from orchestrator.errors import IOManagerError
from orchestrator.io.base import InputContext, IOManager, OutputContext, not_materialized
from orchestrator.io.parquet import convert_table, schema_metadata
from orchestrator.keys import AssetKey

from integrations.iceberg import catalog as catalogs
from integrations.iceberg.duckdb_scan import iceberg_scan_sql, write_version_hint
from integrations.iceberg.partitioning import Partitioning, partitioning_for, partitioning_of_spec, split_range
from integrations.iceberg.schema import Evolution, plan_evolution, to_iceberg
from integrations.iceberg.writer import CHUNK_BYTES, DataFiles, Source

DEFAULT_NAMESPACE = "default"
WRITE_MODES = ("replace", "append")
COMMIT_RETRIES = 20
LOCK_TIMEOUT = 30.0
PARTITION_PROPERTY = "orch.partition"
# pyiceberg retries a lost commit itself (re-validating it), from 100 ms; a SQL catalog commit is cheap
# to retry sooner. Set on tables this IO manager creates; `table_properties` overrides.
TABLE_DEFAULTS = {"commit.retry.min-wait-ms": "20", "commit.retry.max-wait-ms": "2000"}

# A replace that finds nothing to delete (the first write of a partition) is normal here.
warnings.filterwarnings("ignore", message="Delete operation did not match any records", category=UserWarning)


class IcebergIOManager(IOManager):
    """Iceberg tables: `raw/events` is table `events` in namespace `raw` (else `namespace`, else default).

    Asset metadata: `partition_column` (required for partitioned assets), `partition_grain`
    (hour, day, week, month, year, identity; default from the key's format), `partition_timezone`,
    and `write_mode` ('replace', the default, or 'append'). A partition write replaces that partition
    (a range 'START...END' replaces the range); an unpartitioned write replaces the table or appends.
    """

    writes_ranges = True  # a range is one overwrite commit: backfills run it whole by default

    def __init__(self, catalog_url: str | None = None, warehouse: str | Path | None = None,
                 namespace: str | None = None, catalog_properties: Mapping[str, Any] | None = None, *,
                 catalog_name: str = "orch", home: str | Path | None = None,
                 lock_timeout: float = LOCK_TIMEOUT, chunk_bytes: int = CHUNK_BYTES,
                 table_properties: Mapping[str, str] | None = None) -> None:
        self.catalog_url = catalog_url
        self.warehouse = warehouse
        self.namespace = namespace
        self.catalog_properties = dict(catalog_properties or {})
        self.catalog_name = catalog_name
        self.home = home
        self.lock_timeout = lock_timeout
        self.chunk_bytes = chunk_bytes
        self.table_properties = {**TABLE_DEFAULTS, **(table_properties or {})}
        self._metadata: dict[AssetKey, Mapping[str, Any]] = {}
        self._lock = threading.Lock()
        self._catalog: tuple[int, Catalog] | None = None
        self._namespaces: set[tuple[str, ...]] = set()  # known to exist in the catalog
        self._config: catalogs.CatalogConfig | None = None

    def __getstate__(self) -> dict[str, Any]:  # picklable for process pools: no lock, no connections
        state = self.__dict__.copy()
        state.update(_lock=None, _catalog=None, _namespaces=set())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    # -- the catalog and where tables are ---------------------------------------------------------

    @property
    def config(self) -> catalogs.CatalogConfig:
        if self._config is None:
            from orchestrator.home import resolve_home

            home = resolve_home(self.home) if self.catalog_url is None or self.warehouse is None else Path()
            self._config = catalogs.resolve(self.catalog_url, self.warehouse, self.catalog_properties,
                                            self.catalog_name, home, self.lock_timeout)
        return self._config

    def catalog(self) -> Catalog:
        """The pyiceberg catalog, opened once per process (engines do not survive a fork)."""
        with self._lock:
            if self._catalog is None or self._catalog[0] != os.getpid():
                self._catalog = (os.getpid(), catalogs.open_catalog(self.config))
            return self._catalog[1]

    def identifier(self, asset_key: str | AssetKey) -> tuple[str, ...]:
        key = AssetKey.coerce(asset_key)
        namespace = tuple(key.prefix) or (self.namespace or DEFAULT_NAMESPACE,)
        return (*namespace, key.name)

    def table(self, asset_key: str | AssetKey) -> Table:
        """The asset's pyiceberg Table; IOManagerError when it has not been written yet."""
        key = AssetKey.coerce(asset_key)
        with catalogs.catalog_errors(self.config):
            try:
                table = self.catalog().load_table(self.identifier(key))
            except NoSuchTableError:
                table = None
        if table is None or table.current_snapshot() is None:
            raise not_materialized(key, None, f"Iceberg table {'.'.join(self.identifier(key))} "
                                              f"in {self.config.shown}")
        return table

    def metadata_location(self, asset_key: str | AssetKey) -> str:
        """The current metadata file of the asset's table (what `iceberg_scan` reads)."""
        return self.table(asset_key).metadata_location

    def scan_sql(self, asset_key: str | AssetKey, latest: bool = True) -> str:
        """DuckDB SQL reading the table: the table folder (always the latest commit) or this version."""
        table = self.table(asset_key)
        return iceberg_scan_sql(table.location() if latest else table.metadata_location)

    def _remember(self, key: AssetKey, metadata: Mapping[str, Any]) -> Mapping[str, Any]:
        # has() and RunResult.value() get no metadata: remember what write/read contexts said.
        if metadata:
            self._metadata[key] = metadata
            return metadata
        return self._metadata.get(key, {})

    # -- write ------------------------------------------------------------------------------------

    def write(self, context: OutputContext, value: Any) -> Mapping[str, Any]:
        key, partition = context.asset_key, context.partition
        source = Source.of(key, value, self.chunk_bytes)
        metadata = self._remember(key, context.metadata)
        mode = metadata.get("write_mode", "replace")
        if mode not in WRITE_MODES:
            raise IOManagerError(f"Asset '{key}': unknown write_mode '{mode}'. Use one of {', '.join(WRITE_MODES)}.")
        incoming = to_iceberg(key, source.schema)
        column = metadata.get("partition_column")
        column_type = incoming.find_field(column).field_type if column in source.schema.names else None
        partitioning = partitioning_for(key, metadata, partition, getattr(context, "partitions", None), column_type)
        properties = {"orch.asset": str(key)}
        if context.run_id:
            properties["orch.run-id"] = context.run_id
        if partition is not None:
            properties[PARTITION_PROPERTY] = partition
        ident = self.identifier(key)
        with catalogs.catalog_errors(self.config, f" (writing asset '{key}')"):
            catalog = self.catalog()
            if ident[:-1] not in self._namespaces:
                catalogs.ensure_namespace(catalog, ident[:-1])
                self._namespaces.add(ident[:-1])
            files = DataFiles(source)
            table, evolution = self._commit(catalog, ident, key, partition, partitioning, incoming,
                                            files, mode == "append", properties)
        write_version_hint(table.metadata_location)
        snapshot = table.current_snapshot()
        summary = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
        result: dict[str, Any] = {
            "rows": files.rows,
            "bytes": int(summary.get("added-files-size", 0)),
            "schema": schema_metadata(_arrow_schema(table.schema())),
            "location": table.location(),
            "data_version": str(snapshot.snapshot_id) if snapshot else None,
            "snapshot_id": snapshot.snapshot_id if snapshot else None,
            "table": ".".join(ident),
            "metadata_location": table.metadata_location,
        }
        if evolution:
            result["schema_changes"] = evolution.describe()
        return result

    def _commit(self, catalog: Catalog, ident: tuple[str, ...], key: AssetKey, partition: str | None,
                partitioning: Partitioning | None, incoming: Schema, files: DataFiles, append: bool,
                properties: dict[str, str]) -> tuple[Table, Evolution]:
        for attempt in range(COMMIT_RETRIES):
            try:
                return self._commit_once(catalog, ident, key, partition, partitioning, incoming, files,
                                         append, properties)
            except (CommitFailedException, TableAlreadyExistsError, ValidationException, ValueError) as exc:
                if isinstance(exc, ValueError) and "staged table" not in str(exc):
                    raise  # not a lost race (pyiceberg's own retry cannot refresh a table being created)
                if attempt == COMMIT_RETRIES - 1:
                    raise IOManagerError(
                        f"Asset '{key}': the Iceberg table {'.'.join(ident)} kept changing under concurrent "
                        f"writers; gave up after {COMMIT_RETRIES} attempts ({exc}). Nothing was written."
                    ) from exc
                time.sleep(random.uniform(0.01, 0.02 * 2 ** min(attempt, 5)))
        raise AssertionError("unreachable")

    def _commit_once(self, catalog: Catalog, ident: tuple[str, ...], key: AssetKey, partition: str | None,
                     partitioning: Partitioning | None, incoming: Schema, files: DataFiles, append: bool,
                     properties: dict[str, str]) -> tuple[Table, Evolution]:
        """Stage everything on a fresh view of the table, then commit once (raises on a lost race)."""
        try:
            table: Table | None = catalog.load_table(ident)
        except NoSuchTableError:
            table = None
        evolution = Evolution()
        if table is None:  # created by the same commit as its first data: never visible empty
            schema = assign_fresh_schema_ids(incoming)
            spec = partitioning.spec(schema) if partitioning else UNPARTITIONED_PARTITION_SPEC
            tx: Transaction = catalog.create_table_transaction(ident, schema=schema, partition_spec=spec,
                                                               properties=self.table_properties)
        else:
            evolution = plan_evolution(key, ".".join(ident), table.schema(), incoming)  # before any write
            tx = table.transaction()
            if evolution:
                with tx.update_schema() as update:
                    evolution.apply(update)
            if partitioning and not partitioning.matches(table.spec(), table.schema()):
                _evolve_spec(tx, partitioning)
        metadata = tx.table_metadata  # computed anew on each access: once is enough (the delete adds no schema)
        schema = metadata.schema()
        selection = partitioning.select(partition, schema) if partitioning and partition is not None else None
        if table is not None and table.current_snapshot() is not None and not append:
            tx.delete(selection.expression if selection else AlwaysTrue(), snapshot_properties=properties)
        files.io = (table or tx._table).io
        data_files = files.for_metadata(metadata, selection.check if selection else None)
        with tx.update_snapshot(snapshot_properties=properties).fast_append() as appended:
            for data_file in data_files:
                appended.append_data_file(data_file)
        return tx.commit_transaction(), evolution

    # -- read -------------------------------------------------------------------------------------

    def read(self, context: InputContext) -> Any:
        metadata = self._remember(context.asset_key, context.metadata)
        table = self._scan(context.asset_key, context.partition, context.columns, metadata,
                           getattr(context, "partitions", None))
        return convert_table(table, context.expected_type)

    def read_snapshot(self, asset_key: str | AssetKey, snapshot_id: int | None = None,
                      as_of: dt.datetime | int | None = None, partition: str | None = None,
                      columns: Sequence[str] | None = None, expected_type: Any = None) -> Any:
        """The asset as it was at `snapshot_id`, or at time `as_of` (a datetime, or epoch milliseconds).

        A naive datetime is UTC. Without either, the current snapshot (like `read`).
        """
        key = AssetKey.coerce(asset_key)
        table = self._scan(key, partition, columns, self._metadata.get(key, {}), None, snapshot_id, as_of)
        return convert_table(table, expected_type)

    def snapshots(self, asset_key: str | AssetKey) -> list[dict[str, Any]]:
        """The table's snapshots, oldest first: id, time, operation and the partition written."""
        table = self.table(asset_key)
        return [{"snapshot_id": s.snapshot_id,
                 "timestamp": dt.datetime.fromtimestamp(s.timestamp_ms / 1000, dt.timezone.utc),
                 "operation": s.summary.operation.value if s.summary else None,
                 "partition": s.summary.additional_properties.get(PARTITION_PROPERTY) if s.summary else None}
                for s in table.snapshots()]

    def has(self, asset_key: AssetKey, partition: str | None = None) -> bool:
        try:
            table = self.table(asset_key)
            if partition is None:
                return True
            row_filter = self._row_filter(asset_key, table, table.schema(), partition,
                                          self._metadata.get(asset_key, {}), None)
            return _written(table, partition) or any(True for _ in table.scan(row_filter=row_filter).plan_files())
        except IOManagerError:
            return False

    def _row_filter(self, key: AssetKey, table: Table, schema: Schema, partition: str | None,
                    metadata: Mapping[str, Any], definition: Any) -> BooleanExpression:
        if partition is None:
            return AlwaysTrue()
        partitioning = (partitioning_for(key, metadata, partition, definition) if metadata.get("partition_column")
                        else partitioning_of_spec(key, table.spec(), table.schema()))
        if partitioning is None:
            raise IOManagerError(
                f"Asset '{key}': cannot read partition '{partition}': the table is not partitioned by "
                "one column and the asset's metadata has no `partition_column`."
            )
        return partitioning.select(partition, schema).expression

    def _scan(self, key: AssetKey, partition: str | None, columns: Sequence[str] | None,
              metadata: Mapping[str, Any], definition: Any, snapshot_id: int | None = None,
              as_of: dt.datetime | int | None = None) -> pa.Table:
        table = self.table(key)
        snapshot = _snapshot(key, table, snapshot_id, as_of)
        schema = table.schemas().get(snapshot.schema_id, table.schema())
        row_filter = self._row_filter(key, table, schema, partition, metadata, definition)
        if columns:
            missing = [c for c in columns if c not in schema.column_names]
            if missing:
                raise IOManagerError(
                    f"Asset '{key}' has no column(s) {', '.join(missing)} "
                    f"(columns: {', '.join(f.name for f in schema.fields)})."
                )
        with catalogs.catalog_errors(self.config, f" (reading asset '{key}')"):
            result = table.scan(row_filter=row_filter, selected_fields=tuple(columns) if columns else ("*",),
                                snapshot_id=snapshot.snapshot_id).to_arrow()
        if partition is not None and result.num_rows == 0 and not _written(table, partition):
            raise not_materialized(key, partition, f"Iceberg table {table.location()}")
        return result


def _arrow_schema(schema: Schema) -> pa.Schema:
    """The Arrow schema reads return (string, not pyiceberg's default large_string)."""
    return _pyarrow_schema_ensure_small_types(schema_to_pyarrow(schema, include_field_ids=False))


def _snapshot(key: AssetKey, table: Table, snapshot_id: int | None, as_of: dt.datetime | int | None) -> Snapshot:
    if snapshot_id is not None:
        snapshot = table.snapshot_by_id(snapshot_id)
        if snapshot is None:
            known = ", ".join(str(s.snapshot_id) for s in table.snapshots()[-5:])
            raise IOManagerError(f"Asset '{key}' has no snapshot {snapshot_id} (latest: {known}).")
        return snapshot
    if as_of is not None:
        if isinstance(as_of, dt.datetime):
            moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.timezone.utc)
            millis = int(moment.timestamp() * 1000)
        else:
            millis = int(as_of)
        snapshot = table.snapshot_as_of_timestamp(millis)
        if snapshot is None:
            raise IOManagerError(f"Asset '{key}' has no snapshot at or before {as_of} "
                                 "(the table did not exist yet).")
        return snapshot
    return table.current_snapshot()


def _written(table: Table, partition: str) -> bool:
    """Whether a snapshot of the table recorded writing `partition` (or a range that holds it)."""
    start, end = split_range(partition)
    for snapshot in table.snapshots():
        written = snapshot.summary.additional_properties.get(PARTITION_PROPERTY) if snapshot.summary else None
        if written is not None:
            low, high = split_range(written)
            if low <= start and end <= high:
                return True
    return False


def _evolve_spec(tx: Transaction, partitioning: Partitioning) -> None:
    """Repartition the table by the asset's column and grain (old files keep their old spec)."""
    with tx.update_spec() as update:
        for field in tx.table_metadata.spec().fields:
            update.remove_field(field.name)
        update.add_field(partitioning.column, partitioning.transform, partitioning.field_name)
