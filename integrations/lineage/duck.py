"""`sql()`: run SQL over an asset's inputs in DuckDB, and record it so its column lineage is inferred.

    from integrations import lineage

    @asset(ins={"clv": "marts/customer_lifetime_value"})
    def customer_tiers(context, clv: pa.Table) -> pa.Table:
        return lineage.sql(context, "select customer_id, lifetime_value > 1000 as is_vip from {clv}", clv=clv)

`{name}` placeholders are the tables: each keyword argument (an Arrow table, a pandas or polars
frame) is registered under its name in a fresh in-memory DuckDB connection. The query as run is
recorded on the context (`lineage_sql` in the materialization's metadata), and the lineage
provider reads it back: a name that is one of the asset's parameters is that upstream asset, so
lineage crosses dbt -> Python -> dbt. `keys={"name": "asset/key"}` names the asset of any other
table. `declare_sql()` gives the same record as static metadata, for lineage before any run:
`@asset(metadata=lineage.declare_sql("select ... from {clv}"))`.

Outside a run (notebooks, tests) pass a `SqlLog`: it keeps what would have been recorded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import ExecutionError

METADATA_KEY = "lineage_sql"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SqlLog:
    """Stands in for an asset context outside a run: `metadata` holds what `sql()` recorded."""

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {}

    def add_metadata(self, **metadata: Any) -> None:
        self.metadata.update(metadata)


def render(query: str, names: Mapping[str, Any] | None = None) -> tuple[str, list[str]]:
    """Replace `{name}` by the quoted table name; returns the SQL and the names it reads."""
    found: list[str] = []

    def swap(match: re.Match[str]) -> str:
        name = match.group(1)
        if names is not None and name not in names:
            return match.group(0)
        if name not in found:
            found.append(name)
        return '"' + name + '"'

    return PLACEHOLDER.sub(swap, query), found


def declare_sql(query: str, keys: Mapping[str, str] | None = None, dialect: str = "duckdb") -> dict[str, Any]:
    """Metadata declaring the SQL an asset computes: `@asset(metadata=declare_sql("... {orders}"))`."""
    rendered, names = render(query)
    return {METADATA_KEY: {"sql": rendered, "dialect": dialect, "tables": {n: (keys or {}).get(n) for n in names}}}


def sql(context: Any, query: str, /, keys: Mapping[str, str] | None = None, **tables: Any) -> Any:
    """Run `query` over `tables` in DuckDB; return an Arrow table; record the SQL on `context`."""
    import duckdb

    rendered, names = render(query, tables)
    unknown = [m for m in PLACEHOLDER.findall(query) if m not in tables]
    if unknown:
        raise ExecutionError(f"lineage.sql(): no table given for {{{unknown[0]}}}; pass it as "
                             f"{unknown[0]}=<Arrow table or data frame>.")
    con = duckdb.connect(":memory:")
    try:
        for name in names:
            con.register(name, tables[name])
        result = con.execute(rendered).to_arrow_table()
    finally:
        con.close()
    if context is not None:
        record = {"sql": rendered, "dialect": "duckdb", "tables": {n: (keys or {}).get(n) for n in names}}
        context.add_metadata(**{METADATA_KEY: record})
    return result


_PARSERS: list[tuple[int, Any]] = []
"""One single-threaded in-memory DuckDB per process, for its parser. A forked child makes its own
and keeps the inherited one referenced, never closed: DuckDB's default connection (what the
module-level `duckdb.extract_statements` uses) runs threads that a fork loses, and its forked
copy crashes the child."""


def _parser() -> Any:
    import duckdb

    if not _PARSERS or _PARSERS[-1][0] != os.getpid():
        _PARSERS.append((os.getpid(), duckdb.connect(":memory:", config={"threads": 1})))
    return _PARSERS[-1][1]


def duckdb_syntax_error(query: str) -> str | None:
    """What DuckDB's own parser says of `query` (None when it parses): sqlglot accepts some SQL
    DuckDB rejects (a stray `,,`, `group by` with nothing after it)."""
    import duckdb

    try:
        _parser().extract_statements(query)
    except duckdb.ParserException as exc:
        return " ".join(str(exc).split("LINE")[0].split())
    except duckdb.Error:
        return None
    return None
