"""Where the columns of a table come from, in order of trust.

1. `RecordedSchemas`: the Arrow schemas IO managers recorded (materialization metadata `schema`,
   `[[name, type], ...]`), read from the event store or given as a mapping.
2. `WarehouseSchemas`: the warehouse's information_schema (a DuckDB file, opened read-only).
3. `HookSchemas("iceberg", fn)`: Iceberg table schemas; `iceberg_schemas.IcebergSchemas` reads them
   through the Definitions' IcebergIOManagers (any `fn(asset, relation)` may be given instead).
4. `CatalogSchemas`: dbt's catalog.json (`dbt docs generate`).
5. `SeedFileSchemas`: the header of a seed's CSV file.
6. `DocumentedSchemas`: the columns documented in the manifest.

`Layers` asks each in turn; the first that knows a table wins, its whole column list (lists are
never merged across sources, since a partial list would expand `*` wrongly). A model whose SQL was
analyzed is not asked for: its output columns come from its SQL (the engine's topological order).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson

Columns = dict[str, str]
Relation = tuple[str, ...]
UNKNOWN = "UNKNOWN"


class SchemaSource(Protocol):
    name: str

    def columns(self, asset: str, relation: Relation | None) -> Columns | None:
        """The table's columns in order (name -> type), or None when this source does not know it."""


def _lower(parts: Iterable[str]) -> Relation:
    return tuple(p.lower() for p in parts)


class RecordedSchemas:
    """Arrow schemas recorded at materialization: `{asset_key: [[name, type], ...]}`."""

    name = "recorded"

    def __init__(self, schemas: Mapping[str, Any] | None = None) -> None:
        self.schemas: dict[str, Columns] = {}
        for asset, schema in (schemas or {}).items():
            cols = _columns_of(schema)
            if cols:
                self.schemas[str(asset)] = cols

    @classmethod
    def from_store(cls, store: Any) -> RecordedSchemas:
        """The newest recorded schema per asset (any partition) in an EventStore."""
        return cls({k: m["schema"] for k, m in latest_metadata(store).items() if m.get("schema")})

    def columns(self, asset: str, relation: Relation | None) -> Columns | None:
        return self.schemas.get(asset)


def latest_metadata(store: Any) -> dict[str, Mapping[str, Any]]:
    """The metadata of each asset's newest materialization (any partition) in an EventStore."""
    if store is None:
        return {}
    newest: dict[str, tuple[float, Mapping[str, Any]]] = {}
    for (key, _partition), event in store.latest_materializations().items():
        metadata = event.data.get("metadata") or {}
        if event.timestamp >= newest.get(str(key), (-1.0, {}))[0]:
            newest[str(key)] = (event.timestamp, metadata)
    return {k: m for k, (_, m) in newest.items()}


def _columns_of(schema: Any) -> Columns:
    if isinstance(schema, Mapping):
        return {str(k): str(v) for k, v in schema.items()}
    out: Columns = {}
    for item in schema or ():
        if isinstance(item, (list, tuple)) and item:
            out[str(item[0])] = str(item[1]) if len(item) > 1 else UNKNOWN
        elif isinstance(item, str):
            out[item] = UNKNOWN
    return out


class WarehouseSchemas:
    """information_schema.columns of a DuckDB file (and the databases `attached` to it, as
    `(path, alias)`), read once, read-only. A missing or locked file knows nothing (lineage never
    creates or waits for the warehouse)."""

    name = "warehouse"

    def __init__(self, path: str | Path | None, attached: Iterable[tuple[str | Path, str]] = ()) -> None:
        self.path = Path(path) if path else None
        self.attached = [(Path(p), alias) for p, alias in attached]
        self._tables: dict[Relation, Columns] | None = None
        self.error: str | None = None

    def _load(self) -> dict[Relation, Columns]:
        if self._tables is not None:
            return self._tables
        self._tables = {}
        main = self.path is not None and self.path.exists()
        if not main and not any(path.exists() for path, _ in self.attached):
            return self._tables
        from orchestrator.io.duckdb import using_files  # imports duckdb: only when a warehouse exists

        files = [f for f in (self.path, *(p for p, _ in self.attached)) if f is not None and f.exists()]
        with using_files(files):  # read-only here: this process's writers of these files wait
            rows = self._read(main)
        for catalog, schema, table, column, type_ in rows:
            self._tables.setdefault(_lower((catalog, schema, table)), {})[column] = type_
        return self._tables

    def _read(self, main: bool) -> list[tuple[str, str, str, str, str]]:
        try:
            import duckdb

            con = duckdb.connect(str(self.path), read_only=True) if main else duckdb.connect(":memory:")
        except Exception as exc:  # locked by a writer, or not a DuckDB file
            self.error = f"{type(exc).__name__}: {exc}"
            return []
        try:
            for path, alias in self.attached:
                if path.exists():
                    try:
                        con.execute(f"attach '{_quoted(path)}' as \"{alias}\" (read_only)")
                    except Exception as exc:  # locked or not DuckDB: the others still count
                        self.error = f"{type(exc).__name__}: {exc}"
            rows = con.execute(
                "select table_catalog, table_schema, table_name, column_name, data_type "
                "from information_schema.columns order by table_catalog, table_schema, table_name, "
                "ordinal_position"
            ).fetchall()
        finally:
            con.close()
        return rows

    def columns(self, asset: str, relation: Relation | None) -> Columns | None:
        if relation is None:
            return None
        tables = self._load()
        found = tables.get(_lower(relation))
        if found is None and len(relation) == 2:
            found = next((c for r, c in tables.items() if r[1:] == _lower(relation)), None)
        return found


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


class HookSchemas:
    """A pluggable source: `fn(asset, relation) -> {column: type} | None` (e.g. Iceberg tables)."""

    def __init__(self, name: str, fn: Callable[[str, Relation | None], Columns | None] | None = None) -> None:
        self.name = name
        self.fn = fn

    def columns(self, asset: str, relation: Relation | None) -> Columns | None:
        return self.fn(asset, relation) if self.fn is not None else None


class CatalogSchemas:
    """dbt's catalog.json, keyed by relation (database, schema, name)."""

    name = "catalog"

    def __init__(self, path: str | Path | None) -> None:
        self.tables: dict[Relation, Columns] = {}
        if path is None or not Path(path).exists():
            return
        try:
            catalog = orjson.loads(Path(path).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        for entry in (*(catalog.get("nodes") or {}).values(), *(catalog.get("sources") or {}).values()):
            meta = entry.get("metadata") or {}
            columns = sorted((entry.get("columns") or {}).values(), key=lambda c: c.get("index") or 0)
            relation = _lower(p for p in (meta.get("database"), meta.get("schema"), meta.get("name")) if p)
            self.tables[relation] = {c["name"]: c.get("type") or UNKNOWN for c in columns}

    def columns(self, asset: str, relation: Relation | None) -> Columns | None:
        return self.tables.get(_lower(relation)) if relation else None


class SeedFileSchemas:
    """The header line of each seed's CSV: `{asset_key: path}`; types from `column_types`."""

    name = "seed_file"

    def __init__(self, files: Mapping[str, tuple[Path, Mapping[str, str]]]) -> None:
        self.files = dict(files)

    def columns(self, asset: str, relation: Relation | None) -> Columns | None:
        found = self.files.get(asset)
        if found is None:
            return None
        path, types = found
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                header = next(csv.reader(handle), None)
        except OSError:
            return None
        return {name: types.get(name, UNKNOWN) for name in header} if header else None


class DocumentedSchemas:
    """Columns documented in YAML (the manifest's `columns`): `{asset_key: {column: type}}`."""

    name = "documented"

    def __init__(self, documented: Mapping[str, Mapping[str, str]]) -> None:
        self.documented = {k: dict(v) for k, v in documented.items() if v}

    def columns(self, asset: str, relation: Relation | None) -> Columns | None:
        return self.documented.get(asset)


class Layers:
    """The sources in order of trust; `columns()` answers from the first that knows the table."""

    def __init__(self, sources: Iterable[SchemaSource]) -> None:
        self.sources = list(sources)
        self._cache: dict[tuple[str, Relation | None], tuple[Columns, str] | None] = {}

    def lookup(self, asset: str, relation: Relation | None) -> tuple[Columns, str] | None:
        """(columns, name of the source that knew them), or None."""
        key = (asset, relation)
        if key not in self._cache:
            self._cache[key] = next(
                ((cols, s.name) for s in self.sources if (cols := s.columns(asset, relation))), None
            )
        return self._cache[key]

    def columns(self, asset: str, relation: Relation | None) -> Columns | None:
        found = self.lookup(asset, relation)
        return found[0] if found else None
