"""Walk a qualified query scope by scope: each output column's upstream (table, column, kind), and
the columns that decide which rows exist (filter edges, by clause).

Scopes come from sqlglot's `traverse_scope`, sources before the scopes that read them, so a CTE's
or derived table's outputs are known when a later scope reads them: each scope is walked once.
Kinds compose by taking the strongest (direct < transform < aggregate). Filter edges are
collected by the FilterClauses mixin (filters.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

from orchestrator.errors import did_you_mean

from integrations.lineage.filters import QUERY_TYPES, FilterClauses
from integrations.lineage.model import AGGREGATE, DIRECT, TRANSFORM, WINDOW, Sources, merge_into
from integrations.lineage.prepare import USING_META, SqlLineageError, table_id

TRANSPARENT = (exp.Paren, exp.Alias)
UDTF_KINDS = (exp.Unnest, exp.Explode)
PSEUDO_COLUMNS = frozenset({"rowid"})
"""Columns every table has without listing them (DuckDB's rowid)."""
NAVIGATION = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)
"""Window functions that fetch a value from another row: a transform, not an aggregate."""


@dataclass
class QueryLineage:
    """The lineage of one query: output columns in order, each with its upstream sources."""

    columns: dict[str, Sources]
    filters: set[tuple[str, str, str]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)
    starred: bool = True
    """Whether the output columns came from a `*` (see query._selects_star)."""


def walk(query: exp.Expr, self_table: str | None = None,
         known: Mapping[str, frozenset[str]] | None = None) -> QueryLineage:
    """Lineage of a qualified query. `self_table` (an incremental model's own relation, `{{ this }}`)
    is dropped from value edges; the predicates that read it become `incremental` filter edges.
    `known`: tables whose complete (lower-cased) column names are known; reading any other column
    of them raises SqlLineageError."""
    try:
        scopes = traverse_scope(query)
    except SqlglotError as exc:
        raise SqlLineageError(f"SQL scopes cannot be built: {str(exc).splitlines()[0]}") from None
    if not scopes:
        raise SqlLineageError("no query to walk")
    return _Walker(scopes, self_table, known or {}).run()


class _Walker(FilterClauses):
    def __init__(self, scopes: list[Scope], self_table: str | None,
                 known: Mapping[str, frozenset[str]]) -> None:
        self.scopes = scopes
        self.self_table = self_table
        self.known = known
        self.outputs: dict[int, list[tuple[str, Sources]]] = {}
        self.scope_of: dict[int, Scope] = {id(s.expression): s for s in scopes}
        self.filters: set[tuple[str, str, str]] = set()
        self.warnings: list[str] = []
        self.tables: set[str] = set()
        self.windows: dict[int, list[exp.Window]] = {}
        self.output_index: dict[int, dict[str, Sources]] = {}

    def run(self) -> QueryLineage:
        for scope in self.scopes:
            self.outputs[id(scope)] = self._outputs(scope)
        root = self.scopes[-1]
        for scope in self._reachable(root):
            self._filters(scope)
        columns: dict[str, Sources] = {}
        for name, sources in self.outputs[id(root)]:
            columns[_unique(name, columns)] = sources
        return QueryLineage(columns, self.filters, self.warnings, self.tables)

    # -- resolution -----------------------------------------------------------------------------

    def resolve(self, scope: Scope, column: exp.Column) -> Sources:
        """The upstream sources of one column reference, as seen from `scope`."""
        name = column.table
        if not name:
            return self._unqualified(scope, column)
        return self._from_source(scope, name, column)

    def _from_source(self, scope: Scope, name: str, column: exp.Column) -> Sources:
        current: Scope | None = scope
        while current is not None:
            source = current.sources.get(name)
            if source is not None:
                break
            current = current.parent
        else:
            pivot = next((p for p in scope.pivots if p.alias == name), None)
            if pivot is not None:
                return self._pivoted(scope, pivot, column)
            self._warn(f"column '{column.sql()}' reads an unknown source '{name}'")
            return {}
        if isinstance(source, exp.Table):
            if source.args.get("pivots"):
                return self._pivoted(scope, source.args["pivots"][-1], column)
            return self._table_column(source, column.name)
        found = self._output_named(id(source), column.name)
        if found is not None:
            return found
        if id(source) in self.outputs:
            self._warn(f"column '{column.name}' is not an output of '{name}'")
        return {}

    def _output_named(self, scope_id: int, name: str) -> Sources | None:
        """The first output of a walked scope by that name (indexed once: wide `*` chains read
        hundreds of columns, each by name)."""
        index = self.output_index.get(scope_id)
        if index is None:
            index = {}
            for out_name, sources in self.outputs.get(scope_id, ()):
                index.setdefault(out_name, sources)
            if scope_id in self.outputs:
                self.output_index[scope_id] = index
        return index.get(name)

    def _table_column(self, table: exp.Table, name: str) -> Sources:
        if not table.name:  # a table function (read_parquet, range...): no upstream asset
            return {}
        tid = table_id(table)
        self.tables.add(tid)
        if tid == self.self_table:
            return {}
        columns = self.known.get(tid)
        if columns is not None and name.lower() not in columns and name.lower() not in PSEUDO_COLUMNS:
            hint = did_you_mean(name.lower(), columns)
            raise SqlLineageError(f"column '{name}' does not exist in '{tid}'.{hint} "
                                  f"Its columns: {', '.join(sorted(columns)[:12])}"
                                  f"{', ...' if len(columns) > 12 else ''}")
        return {(tid, name): DIRECT}

    def _pivoted(self, scope: Scope, pivot: exp.Pivot, column: exp.Column) -> Sources:
        """`t PIVOT (agg(x) FOR k IN (...))`: a pivoted column aggregates `x`, and `k` groups it.
        `t UNPIVOT (v FOR n IN (a, b))`: `v` is copied from a or b, `n` holds names. Any other
        column is the table's own."""
        table = pivot.parent
        if not isinstance(table, exp.Table):
            return {}
        fields = [f for f in pivot.args.get("fields") or () if isinstance(f, exp.In)]
        sources: Sources = {}
        if pivot.args.get("unpivot"):
            if column.name in {f.this.name for f in fields}:
                return {}
            if column.name not in {e.name for e in pivot.expressions}:
                return self._table_column(table, column.name)
            for found in (c for f in fields for c in f.expressions if isinstance(c, exp.Column)):
                merge_into(sources, self._table_column(table, found.name), DIRECT)
            return sources
        names = {v.alias_or_name for f in fields for v in f.expressions}
        if column.name not in names and not any(column.name.startswith(f"{n}_") for n in names):
            return self._table_column(table, column.name)
        for found in (c for e in pivot.expressions for c in e.find_all(exp.Column)):
            merge_into(sources, self._table_column(table, found.name), AGGREGATE)
        for found in (c for f in fields for c in f.this.find_all(exp.Column)):
            self._add_filter(self._table_column(table, found.name), "group_by")
        return sources

    def _unqualified(self, scope: Scope, column: exp.Column) -> Sources:
        """A name qualification left alone: an output alias (ORDER BY, a lateral alias) unless the
        column sits inside that very projection, else the column of the scope's only source."""
        node = scope.expression
        for projection in node.selects if isinstance(node, exp.Select) else ():
            if projection.alias_or_name == column.name and not _within(column, projection):
                sources: Sources = {}
                self.value(scope, projection.unalias(), sources, DIRECT)
                return sources
        selected = list(scope.selected_sources)
        if len(selected) == 1:
            return self._from_source(scope, selected[0], column)
        tables = [scope.sources.get(n) for n in selected]
        if tables and all(isinstance(t, exp.Table) and table_id(t) in self.known for t in tables):
            names = ", ".join(f"'{table_id(t)}'" for t in tables)
            raise SqlLineageError(f"column '{column.name}' does not exist in any of {names}")
        self._warn(f"column '{column.sql()}' could not be resolved to a table")
        return {}

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    # -- outputs --------------------------------------------------------------------------------

    def _outputs(self, scope: Scope) -> list[tuple[str, Sources]]:
        node = scope.expression
        if isinstance(node, exp.SetOperation):
            return self._set_operation(scope)
        if isinstance(node, exp.Select):
            return [self._projection(scope, p) for p in node.selects]
        if isinstance(node, UDTF_KINDS) or isinstance(node, exp.UDTF):
            return self._udtf(scope)
        return []

    def _projection(self, scope: Scope, projection: exp.Expr) -> tuple[str, Sources]:
        node = projection.unalias()
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            raise SqlLineageError(f"cannot expand '{projection.sql()}': {self._unknown_sources(scope, node)}")
        sources: Sources = {}
        self.value(scope, node, sources, DIRECT)
        return projection.alias_or_name, sources

    def _unknown_sources(self, scope: Scope, star: exp.Expr) -> str:
        names = [star.table] if isinstance(star, exp.Column) and star.table else list(scope.selected_sources)
        tables = [table_id(s) for n in names if isinstance(s := scope.sources.get(n), exp.Table)]
        if tables:
            return f"the columns of {', '.join(repr(t) for t in tables)} are unknown"
        return "the columns of its sources are unknown"

    def value(self, scope: Scope, node: exp.Expr, acc: Sources, kind: int) -> None:
        """Add to `acc` the sources of every column `node` reads as a value, at least at `kind`."""
        if isinstance(node, exp.Column):
            if not isinstance(node.this, exp.Star):
                merge_into(acc, self.resolve(scope, node), kind)
            return
        if isinstance(node, TRANSPARENT):
            self.value(scope, node.this, acc, kind)
            return
        if isinstance(node, exp.Window):
            self.value(scope, node.this, acc, kind)
            for part in (*(node.args.get("partition_by") or ()), node.args.get("order")):
                if part is not None:  # also filter edges of clause `window` (filters.py)
                    self.value(scope, part, acc, WINDOW)
            self.windows.setdefault(id(scope), []).append(node)
            return
        if isinstance(node, QUERY_TYPES) or isinstance(node, exp.Subquery):
            self._subquery_value(node, acc, kind)
            return
        if kind == DIRECT and isinstance(node, exp.Coalesce) and self._using(scope, node, acc):
            return
        aggregate = isinstance(node, exp.AggFunc) and not isinstance(node, NAVIGATION)
        inner = WINDOW if kind == WINDOW else AGGREGATE if aggregate else max(kind, TRANSFORM)
        if isinstance(node, exp.Filter):  # agg(x) FILTER (WHERE c): c is an input of the aggregate
            inner = AGGREGATE
        for child in node.iter_expressions():
            self.value(scope, child, acc, inner)

    def _subquery_value(self, node: exp.Expr, acc: Sources, kind: int) -> None:
        query = node.unnest() if isinstance(node, exp.Subquery) else node
        sub = self.scope_of.get(id(query))
        if sub is None:
            return
        for _, sources in self.outputs.get(id(sub), ())[:1]:
            merge_into(acc, sources, kind)

    def _using(self, scope: Scope, node: exp.Coalesce, acc: Sources) -> bool:
        """`COALESCE(a.k, b.k)` that qualification made of `USING (k)`: the side the value comes from."""
        marks = scope.expression.meta.get(USING_META)
        args = [node.this, *node.expressions]
        if not marks or not all(isinstance(a, exp.Column) for a in args):
            return False
        name = args[0].name
        side = marks.get(name.lower())
        if side is None or any(a.name != name for a in args):
            return False
        chosen = args[:1] if side == "left" else args[-1:] if side == "right" else args
        for column in chosen:
            merge_into(acc, self.resolve(scope, column), DIRECT)
        return True

    def _set_operation(self, scope: Scope) -> list[tuple[str, Sources]]:
        branches = scope.set_operation_scopes
        if not branches:
            return []
        left = self.outputs.get(id(branches[0]), [])
        if not isinstance(scope.expression, exp.Union):
            return [(n, dict(s)) for n, s in left]  # EXCEPT / INTERSECT: values from the left
        merged = [(name, dict(sources)) for name, sources in left]
        for branch in branches[1:]:
            right = self.outputs.get(id(branch), [])
            if scope.expression.args.get("by_name"):
                by_name = dict(right)
                for name, sources in merged:
                    merge_into(sources, by_name.get(name, {}))
                known = {n for n, _ in merged}
                merged += [(n, dict(s)) for n, s in right if n not in known]
            else:
                for (_, sources), (_, more) in zip(merged, right):
                    merge_into(sources, more)
        return merged

    def _udtf(self, scope: Scope) -> list[tuple[str, Sources]]:
        node = scope.expression
        query = node.this.unnest() if isinstance(node.this, exp.Subquery) else node.this
        if isinstance(query, QUERY_TYPES) and id(query) in self.scope_of:  # LATERAL (SELECT ...)
            return self.outputs.get(id(self.scope_of[id(query)]), [])
        sources: Sources = {}
        parent = scope.parent or scope
        for child in node.iter_expressions():
            if not isinstance(child, exp.TableAlias):
                self.value(parent, child, sources, TRANSFORM)
        alias = node.args.get("alias")
        names = [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) and alias.columns else []
        if not names and isinstance(alias, exp.TableAlias) and alias.name:
            names = [alias.name]
        return [(n, dict(sources)) for n in names or ["unnest"]]

def _within(node: exp.Expr, ancestor: exp.Expr) -> bool:
    current: exp.Expr | None = node
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


def _unique(name: str, taken: dict[str, Sources]) -> str:
    """DuckDB names a repeated output column `a_1`, `a_2`..."""
    if name not in taken:
        return name
    i = 1
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"
