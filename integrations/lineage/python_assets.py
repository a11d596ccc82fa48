"""Python (and external) assets as engine units.

An asset's column lineage is, in order:

1. declared: `metadata["column_lineage"]` (what `@asset(column_lineage=...)` stores), shaped
   `{"out_col": [("upstream/key", "col"), ("upstream/key", "col", "kind"), ...]}` or
   `{"out_col": [{"asset": ..., "column": ..., "kind": ...}]}`; kind defaults to `transform`; an
   entry of kind `filter` (with an optional `clause`, default `where`) is a filter edge;
2. its SQL: `metadata["lineage_sql"]` (`declare_sql()`), else the SQL its last run recorded
   through `lineage.sql()`; each table the SQL names is the upstream asset of the parameter of that
   name (or the key the record gives);
3. otherwise unknown: its columns are those recorded or documented, with no upstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.assets import AssetDefinition
from orchestrator.keys import AssetKey

from integrations.lineage.declared import DECLARED_KEY, declared_lineage
from integrations.lineage.duck import METADATA_KEY
from integrations.lineage.engine import Unit
from integrations.lineage.prepare import normalize_name


def python_units(assets: Iterable[AssetDefinition], recorded_sql: Mapping[str, Any]) -> list[Unit]:
    units = []
    for definition in assets:
        key = str(definition.key)
        parents = tuple(str(d.key) for d in definition.deps)
        declared = definition.metadata.get(DECLARED_KEY)
        record = definition.metadata.get(METADATA_KEY) or recorded_sql.get(key)
        if declared:
            units.append(Unit(key, parents, given=declared_lineage(key, declared), origin="declared"))
        elif isinstance(record, Mapping) and record.get("sql"):
            units.append(_sql_unit(definition, parents, record))
        else:
            units.append(Unit(key, parents, origin="leaf" if not parents else "unknown"))
    return units


def _sql_unit(definition: AssetDefinition, parents: tuple[str, ...], record: Mapping[str, Any]) -> Unit:
    dialect = record.get("dialect") or "duckdb"
    by_parameter = {d.parameter: str(d.key) for d in definition.deps if d.parameter}
    reads: dict[str, tuple[str, ...]] = {}
    tables: dict[str, str] = {}
    for name, given_key in (record.get("tables") or {}).items():
        asset = str(AssetKey.coerce(given_key)) if given_key else by_parameter.get(name)
        if asset is None:
            continue
        parts = (normalize_name(name, dialect),)
        reads[asset] = parts
        tables[parts[0]] = asset
    return Unit(str(definition.key), parents, sql=record["sql"], dialect=dialect, reads=reads, tables=tables,
                origin="python_sql")
