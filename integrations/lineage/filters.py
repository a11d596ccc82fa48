"""The filter edges of a query: columns that decide which rows (or groups) exist, by clause.

A mixin of the walk: for every scope reachable from the root (CTEs that are read, subqueries,
set-operation branches, derived tables), the columns of WHERE, JOIN ... ON, GROUP BY (ALL),
HAVING, QUALIFY, window PARTITION BY / ORDER BY, ORDER BY with LIMIT, and the right side of EXCEPT
/ INTERSECT. Columns in a nested subquery count for the clause it sits in. A predicate that reads
the model itself (an incremental model's `{{ this }}`) makes its columns `incremental` edges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from integrations.lineage.model import Sources
from integrations.lineage.prepare import table_id

QUERY_TYPES = (exp.Select, exp.SetOperation)


class FilterClauses:
    """Needs from the walker: `resolve`, `outputs`, `scope_of`, `windows`, `filters`, `self_table`."""

    if TYPE_CHECKING:
        outputs: dict[int, list[tuple[str, Sources]]]
        scope_of: dict[int, Scope]
        windows: dict[int, list[exp.Window]]
        filters: set[tuple[str, str, str]]
        self_table: str | None

        def resolve(self, scope: Scope, column: exp.Column) -> Sources: ...

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
        for window in self.windows.get(id(scope), ()):  # met while walking the projections
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
