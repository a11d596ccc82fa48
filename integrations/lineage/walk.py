"""Walk a qualified query scope by scope: each output column's upstream (table, column, kind), and
the columns that decide which rows exist (filter edges, by clause).

Scopes come from sqlglot's `traverse_scope`, sources before the scopes that read them, so a CTE's
or derived table's outputs are known when a later scope reads them: each scope is walked once.
Kinds compose by taking the strongest (direct < transform < aggregate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

from integrations.lineage.model import AGGREGATE, DIRECT, TRANSFORM, Sources, merge_into
from integrations.lineage.prepare import USING_META, SqlLineageError, table_id

QUERY_TYPES = (exp.Select, exp.SetOperation)
TRANSPARENT = (exp.Paren, exp.Alias)
UDTF_KINDS = (exp.Unnest, exp.Explode)
NAVIGATION = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)
"""Window functions that fetch a value from another row: a transform, not an aggregate."""


@dataclass
class QueryLineage:
    """The lineage of one query: output columns in order, each with its upstream sources."""

    columns: dict[str, Sources]
    filters: set[tuple[str, str, str]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)


def walk(query: exp.Expr, self_table: str | None = None) -> QueryLineage:
    """Lineage of a qualified query. `self_table` (an incremental model's own relation, `{{ this }}`)
    is dropped from value edges; the predicates that read it become `incremental` filter edges."""
    try:
        scopes = traverse_scope(query)
    except SqlglotError as exc:
        raise SqlLineageError(f"SQL scopes cannot be built: {str(exc).splitlines()[0]}") from None
    if not scopes:
        raise SqlLineageError("no query to walk")
    return _Walker(scopes, self_table).run()


class _Walker:
    def __init__(self, scopes: list[Scope], self_table: str | None) -> None:
        self.scopes = scopes
        self.self_table = self_table
        self.outputs: dict[int, list[tuple[str, Sources]]] = {}
        self.scope_of: dict[int, Scope] = {id(s.expression): s for s in scopes}
        self.filters: set[tuple[str, str, str]] = set()
        self.warnings: list[str] = []
        self.tables: set[str] = set()

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
            return self._output_alias(scope, column)
        current: Scope | None = scope
        while current is not None:
            source = current.sources.get(name)
            if source is not None:
                break
            current = current.parent
        else:
            self._warn(f"column '{column.sql()}' reads an unknown source '{name}'")
            return {}
        if isinstance(source, exp.Table):
            tid = table_id(source)
            self.tables.add(tid)
            if tid == self.self_table:
                return {}
            return {(tid, column.name): DIRECT}
        for out_name, sources in self.outputs.get(id(source), ()):
            if out_name == column.name:
                return sources
        if id(source) in self.outputs:
            self._warn(f"column '{column.name}' is not an output of '{name}'")
        return {}

    def _output_alias(self, scope: Scope, column: exp.Column) -> Sources:
        """An unqualified name in ORDER BY (or a clause that may name an output) is a projection."""
        node = scope.expression
        for projection in node.selects if isinstance(node, exp.Select) else ():
            if projection.alias_or_name == column.name and projection.unalias() is not column:
                sources: Sources = {}
                self.value(scope, projection.unalias(), sources, DIRECT)
                return sources
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
            self.value(scope, node.this, acc, kind)  # PARTITION BY / ORDER BY are filter edges
            return
        if isinstance(node, QUERY_TYPES) or isinstance(node, exp.Subquery):
            self._subquery_value(node, acc, kind)
            return
        if kind == DIRECT and isinstance(node, exp.Coalesce) and self._using(scope, node, acc):
            return
        inner = AGGREGATE if isinstance(node, exp.AggFunc) and not isinstance(node, NAVIGATION) else max(kind, TRANSFORM)
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

    # -- filters --------------------------------------------------------------------------------

    def _reachable(self, root: Scope) -> list[Scope]:
        seen: dict[int, Scope] = {}
        stack = [root]
        while stack:
            scope = stack.pop()
            if id(scope) in seen:
                continue
            seen[id(scope)] = scope
            stack += scope.set_operation_scopes + scope.subquery_scopes + scope.table_scopes
            for name, _ in scope.references:
                source = scope.sources.get(name)
                if isinstance(source, Scope):
                    stack.append(source)
        return list(seen.values())

    def _filters(self, scope: Scope) -> None:
        node = scope.expression
        if isinstance(node, exp.SetOperation) and not isinstance(node, exp.Union):
            for branch in scope.set_operation_scopes[1:]:
                for _, sources in self.outputs.get(id(branch), ()):
                    self._add_filter(sources, "where")
            return
        if not isinstance(node, exp.Select):
            return
        where = node.args.get("where")
        if where is not None:
            for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
                self._clause(scope, conjunct, "where")
        for join in node.args.get("joins") or ():
            if join.args.get("on") is not None:
                self._clause(scope, join.args["on"], "join", self._reads_self(join.this))
            if join.args.get("using"):
                for column in join.args["using"]:
                    self._clause(scope, column, "join")
        self._group_by(scope, node)
        if node.args.get("having") is not None:
            self._clause(scope, node.args["having"], "having")
        if node.args.get("qualify") is not None:
            self._clause(scope, node.args["qualify"], "qualify")
        for projection in node.selects:
            for window in _windows(projection):
                for part in (*(window.args.get("partition_by") or ()), window.args.get("order")):
                    if part is not None:
                        self._clause(scope, part, "window")
        if node.args.get("order") is not None and node.args.get("limit") is not None:
            self._clause(scope, node.args["order"], "order_by")

    def _group_by(self, scope: Scope, node: exp.Select) -> None:
        group = node.args.get("group")
        if group is None:
            return
        for expression in group.expressions:
            self._clause(scope, expression, "group_by")
        if group.args.get("all"):
            for projection in node.selects:
                if not any(True for _ in _aggregates(projection)):
                    self._clause(scope, projection.unalias(), "group_by")

    def _clause(self, scope: Scope, node: exp.Expr, clause: str, forced: bool = False) -> None:
        """Every column under `node` (nested subqueries included) is a filter edge of `clause`;
        `incremental` instead when the predicate reads the model itself."""
        if forced or (self.self_table and self._reads_self(node)):
            clause = "incremental"
        stack: list[tuple[exp.Expr, Scope]] = [(node, scope)]
        while stack:
            current, owner = stack.pop()
            if isinstance(current, exp.Column):
                if not isinstance(current.this, exp.Star):
                    self._add_filter(self.resolve(owner, current), clause)
                continue
            if isinstance(current, QUERY_TYPES) and current is not owner.expression:
                owner = self.scope_of.get(id(current), owner)
            stack.extend((child, owner) for child in current.iter_expressions())

    def _reads_self(self, node: exp.Expr) -> bool:
        if not self.self_table:
            return False
        return any(table_id(t) == self.self_table for t in node.find_all(exp.Table))

    def _add_filter(self, sources: Sources, clause: str) -> None:
        for table, column in sources:
            self.filters.add((table, column, clause))


def _windows(node: exp.Expr) -> list[exp.Window]:
    """Window nodes of one projection, not those of nested queries."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, exp.Window):
            found.append(current)
        if isinstance(current, QUERY_TYPES):
            continue
        stack.extend(current.iter_expressions())
    return found


def _aggregates(node: exp.Expr):
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (exp.AggFunc, exp.Window)):
            yield current
            continue
        if isinstance(current, QUERY_TYPES):
            continue
        stack.extend(current.iter_expressions())


def _unique(name: str, taken: dict[str, Sources]) -> str:
    """DuckDB names a repeated output column `a_1`, `a_2`..."""
    if name not in taken:
        return name
    i = 1
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"
