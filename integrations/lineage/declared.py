"""Column lineage declared by hand: `@asset(column_lineage=...)` on a Python asset, or
`config(meta={"column_lineage": ...})` on a dbt Python model, in one shape:

    {"out_col": [("upstream/key", "col"), ("upstream/key", "col", "kind"),
                 {"asset": "upstream/key", "column": "col", "kind": "direct"}, "upstream/key.col"]}

kind defaults to `transform`; an entry of kind `filter` (with an optional `clause`, default
`where`) is a filter edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.keys import AssetKey

from integrations.lineage.model import FILTER, AssetLineage, kind_value

DECLARED_KEY = "column_lineage"


def declared_lineage(asset: str, declared: Any) -> AssetLineage:
    """The `column_lineage` declaration of an asset; a malformed one is the asset's error."""
    try:
        columns: dict[str, dict[tuple[str, str], int]] = {}
        filters: set[tuple[str, str, str]] = set()
        for column, sources in dict(declared).items():
            acc = columns.setdefault(str(column), {})
            for source in sources:
                upstream, upstream_column, kind, clause = _source(source)
                if kind == FILTER:
                    filters.add((upstream, upstream_column, clause or "where"))
                    continue
                value = kind_value(kind)
                if acc.get((upstream, upstream_column), 0) < value:
                    acc[(upstream, upstream_column)] = value
    except (TypeError, ValueError, KeyError) as exc:
        return AssetLineage(asset, None, error=f"invalid column_lineage declaration: {exc}", origin="declared")
    return AssetLineage(asset, columns, frozenset(filters), origin="declared")


def _source(source: Any) -> tuple[str, str, str, str | None]:
    if isinstance(source, Mapping):
        return (str(AssetKey.coerce(source["asset"])), str(source["column"]),
                str(source.get("kind", "transform")), source.get("clause"))
    if isinstance(source, str):
        asset, dot, column = source.rpartition(".")
        if not dot:
            raise ValueError(f"{source!r} is not 'asset/key.column'")
        return str(AssetKey.coerce(asset)), column, "transform", None
    items = list(source)
    if len(items) not in (2, 3):
        raise ValueError(f"{source!r}: expected (asset, column) or (asset, column, kind)")
    kind = str(items[2]) if len(items) == 3 else "transform"
    return str(AssetKey.coerce(items[0])), str(items[1]), kind, None
