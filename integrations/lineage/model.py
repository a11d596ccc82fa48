"""The values column lineage is made of: edge kinds, column references, edges, per-asset results.

Value edges say where an output column's values come from: `direct` (copied or renamed),
`transform` (an expression of the column), `aggregate` (under an aggregate, window aggregates and
scalar subqueries included), and `window`: a column read by the PARTITION BY / ORDER BY of the
window function that computes the output (`row_number() over (partition by a order by b)`
depends on a and b). Through a chain of CTEs the strongest kind wins (window < direct < transform
< aggregate), except that a window edge stays a window edge whatever is computed from it. Filter edges are kept apart: columns read to decide which rows
(or groups) exist, by clause: where, join, group_by, having, qualify, window (PARTITION BY / ORDER
BY) and incremental (the `is_incremental()` filter). They apply to the whole asset, so their
target column is None.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

WINDOW, DIRECT, TRANSFORM, AGGREGATE = 1, 2, 3, 4
KIND_NAMES = {WINDOW: "window", DIRECT: "direct", TRANSFORM: "transform", AGGREGATE: "aggregate"}
KIND_OF = {name: value for value, name in KIND_NAMES.items()}
FILTER = "filter"
CLAUSES = ("where", "join", "group_by", "having", "qualify", "window", "incremental", "order_by")


def kind_name(kind: int) -> str:
    return KIND_NAMES[kind]


def kind_value(kind: str | int) -> int:
    """`"direct"` -> 1 ...; unknown names raise ValueError listing the known ones."""
    if isinstance(kind, int) and kind in KIND_NAMES:
        return kind
    try:
        return KIND_OF[str(kind)]
    except KeyError:
        raise ValueError(f"Unknown column lineage kind {kind!r}; use one of {sorted(KIND_OF)}.") from None


Sources = dict[tuple[str, str], int]
"""(upstream table or asset, column) -> strongest kind."""


def merge_into(target: Sources, sources: Mapping[tuple[str, str], int], floor: int = 0) -> None:
    """Add `sources` to `target`, each kind raised to at least `floor` (window edges stay window
    edges, and a `floor` of WINDOW makes them all window edges); the strongest kind wins."""
    for ref, kind in sources.items():
        if floor == WINDOW or kind == WINDOW:
            kind = WINDOW
        elif kind < floor:
            kind = floor
        if target.get(ref, 0) < kind:
            target[ref] = kind


@dataclass(frozen=True, slots=True, order=True)
class ColumnRef:
    """One column of one asset: `marts/fct_orders.revenue` in text form."""

    asset: str
    column: str | None

    def __str__(self) -> str:
        return f"{self.asset}.{self.column}" if self.column is not None else self.asset

    def as_dict(self) -> dict[str, str | None]:
        return {"asset": self.asset, "column": self.column}


@dataclass(frozen=True, slots=True, order=True)
class ColumnEdge:
    """`source` -> `target`; kind is direct/transform/aggregate, or `filter` with a `clause`."""

    source: ColumnRef
    target: ColumnRef
    kind: str
    clause: str | None = None

    @property
    def is_filter(self) -> bool:
        return self.kind == FILTER

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"source": self.source.as_dict(), "target": self.target.as_dict(),
                                  "kind": self.kind}
        if self.clause is not None:
            out["clause"] = self.clause
        return out


@dataclass(frozen=True)
class AssetLineage:
    """What is known of one asset: its columns in order (None = unknown), edges into them, and why
    they are unknown when they are.

    `columns` maps each output column to its upstream (asset, column) -> kind; `filters` holds the
    (asset, column, clause) triples that decide which rows exist.
    """

    asset: str
    columns: Mapping[str, Mapping[tuple[str, str], int]] | None
    filters: frozenset[tuple[str, str, str]] = frozenset()
    error: str | None = None
    warnings: tuple[str, ...] = ()
    origin: str = "sql"
    """Where the lineage came from: sql, declared, python_sql, leaf, or unknown (see `reason`)."""
    types: Mapping[str, str] = field(default_factory=dict)
    schema_source: str | None = None
    """For a leaf: which schema source knew its columns (recorded, warehouse, catalog...)."""
    reason: str | None = None
    """Why the lineage is unknown when that is expected, not a failure (e.g. a dbt Python model)."""
    exact: bool = False
    """True when `columns` is exactly the table's column list (from the warehouse, a recorded
    schema, or SQL over exact schemas), not documentation that may leave columns out: reading a
    column it lacks is then an error."""

    @property
    def column_names(self) -> list[str] | None:
        return None if self.columns is None else list(self.columns)

    def edges(self) -> Iterable[ColumnEdge]:
        for column, sources in (self.columns or {}).items():
            target = ColumnRef(self.asset, column)
            for (asset, upstream), kind in sorted(sources.items()):
                yield ColumnEdge(ColumnRef(asset, upstream), target, KIND_NAMES[kind])

    def filter_edges(self) -> Iterable[ColumnEdge]:
        target = ColumnRef(self.asset, None)
        for asset, column, clause in sorted(self.filters):
            yield ColumnEdge(ColumnRef(asset, column), target, FILTER, clause)


LOOSE_SCHEMA_SOURCES = frozenset({"documented"})
"""Schema sources that may list only some of a table's columns."""


def leaf(asset: str, columns: Iterable[str] | None, types: Mapping[str, str] | None = None,
         error: str | None = None, schema_source: str | None = None) -> AssetLineage:
    """A source, seed or other asset whose columns have no upstream."""
    cols = None if columns is None else {c: {} for c in columns}
    exact = cols is not None and schema_source is not None and schema_source not in LOOSE_SCHEMA_SOURCES
    return AssetLineage(asset, cols, origin="leaf", types=dict(types or {}), error=error,
                        schema_source=schema_source, exact=exact)
