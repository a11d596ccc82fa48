"""Column lineage of one SQL query, for tests, notebooks and the project engine.

    >>> lin = column_lineage_of_sql(
    ...     "select o.id as order_id, sum(p.amount) as paid from orders o "
    ...     "join payments p on p.order_id = o.id group by o.id",
    ...     {"orders": {"id": "int"}, "payments": {"order_id": "int", "amount": "double"}})
    >>> lin["order_id"], lin["paid"]
    ([('orders', 'id', 'direct')], [('payments', 'amount', 'aggregate')])
    >>> sorted(lin.filters)
    [('orders', 'id', 'group_by'), ('orders', 'id', 'join'), ('payments', 'order_id', 'join')]
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlglot import exp

from integrations.lineage.model import KIND_NAMES
from integrations.lineage.prepare import (
    mark_using_joins,
    nest_into,
    parse,
    set_aside_ephemeral_ctes,
    set_aside_table_functions,
    table_id,
)
from integrations.lineage.qualify import qualify_query
from integrations.lineage.walk import QueryLineage, walk


class SqlColumnLineage(dict):
    """`{output column: [(table, column, kind), ...]}` in output order, plus `filters`
    (`[(table, column, clause)]`, the columns that decide which rows exist) and `warnings`."""

    filters: list[tuple[str, str, str]]
    warnings: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "columns": {c: [list(s) for s in sources] for c, sources in self.items()},
            "filters": [list(f) for f in self.filters],
        }


def analyze(query: exp.Expr, schema: Mapping[str, Any] | Any, dialect: str = "duckdb",
            self_table: str | None = None, dbt: bool = False, sql: str | None = None,
            functions: Mapping[str, tuple[str, ...]] | None = None,
            exact: Collection[str] | None = None) -> QueryLineage:
    """Lineage of a parsed query (mutated: qualified in place). With the `sql` text, the passes
    that cannot apply to it (no USING, no read of `self_table`) are skipped. A column read from a
    table in `exact` (dotted names of `schema`, whose column lists are complete) that the table
    does not have is an error naming both."""
    text = sql.lower() if sql is not None else None
    if dbt:
        set_aside_ephemeral_ctes(query)
        set_aside_table_functions(query, functions or {}, dialect)
    if text is None or "using" in text:
        mark_using_joins(query)
    if self_table and (text is None or self_table.rsplit(".", 1)[-1].lower() in text):
        schema = _with_self_table(query, schema, self_table)
    starred = _selects_star(query)
    qualified = qualify_query(query, schema, dialect)
    found = walk(qualified, self_table, _known_columns(schema, exact) if exact else None)
    found.starred = starred
    return found


def _selects_star(query: exp.Expr) -> bool:
    """Whether the query's own output columns come from a `*` (its last SELECT, every branch of a
    set operation): then they are only as complete as the schemas the star was expanded against."""
    stack = [query]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.SetOperation):
            stack += [node.this, node.expression]
        elif isinstance(node, exp.Subquery):
            stack.append(node.this)
        elif isinstance(node, exp.Select):
            if any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
                   for p in node.expressions):
                return True
    return False


def _known_columns(schema: Any, exact: Collection[str]) -> dict[str, frozenset[str]]:
    known = {}
    for dotted in exact:
        level: Any = schema
        for part in dotted.split("."):
            level = level.get(part) if isinstance(level, Mapping) else None
        if isinstance(level, Mapping) and level:
            known[dotted] = frozenset(str(c).lower() for c in level)
    return known


def _with_self_table(query: exp.Expr, schema: Any, self_table: str) -> Any:
    """Give the model's own relation (read by an incremental filter) a schema when none is known:
    every column name the query mentions, so `(select max(d) from {{ this }})` qualifies. Edges
    from it are dropped anyway."""
    if not isinstance(schema, Mapping):
        return schema
    if not any(table_id(t).lower() == self_table.lower() for t in query.find_all(exp.Table)):
        return schema
    parts = tuple(self_table.split("."))
    level: Any = schema
    for part in parts:
        level = level.get(part) if isinstance(level, Mapping) else None
    if level:
        return schema
    names = {c.name: "UNKNOWN" for c in query.find_all(exp.Column) if c.name}
    return nest_into(schema, parts, names)


def column_lineage_of_sql(sql: str, schema: Mapping[str, Any] | None = None, dialect: str = "duckdb",
                          self_table: str | None = None) -> SqlColumnLineage:
    """Each output column's upstream `(table, column, kind)`, kind = direct | transform | aggregate.

    `schema` is `{table: {column: type}}` (or nested `{db: {table: {...}}}`); it expands `*` and
    resolves unqualified columns. Tables are named as the query writes them, normalized.
    Raises SqlLineageError when the SQL does not parse or cannot be qualified.
    """
    found = analyze(parse(sql, dialect), dict(schema or {}), dialect, self_table)
    result = SqlColumnLineage(
        (column, [(t, c, KIND_NAMES[k]) for (t, c), k in sorted(sources.items())])
        for column, sources in found.columns.items()
    )
    result.filters = sorted(found.filters)
    result.warnings = list(found.warnings)
    return result
