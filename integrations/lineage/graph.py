"""ColumnLineageGraph: the computed lineage of every asset, as edges, JSON and traversals.

    graph.to_json({"marts/fct_orders", ...})       # {"edges": [...], "filter_edges": [...], "errors": [...]}
    graph.upstream("marts/fct_orders", "revenue")  # every edge down to source columns
    graph.downstream("raw/orders", "amount")       # impact: every column computed from it
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from orchestrator.errors import SelectionError, UnknownAssetError, suggest

from integrations.lineage.model import AssetLineage, ColumnEdge, ColumnRef


class ColumnLineageGraph:
    def __init__(self, assets: Mapping[str, AssetLineage], stats: Mapping[str, Any] | None = None,
                 sql: Mapping[str, str] | None = None) -> None:
        self.assets = dict(assets)
        self.stats = dict(stats or {})
        self.sql = dict(sql or {})
        """asset -> the compiled SQL its lineage was read from (dbt models), for the UI's asset page."""
        self._into: dict[tuple[str, str], list[ColumnEdge]] | None = None
        self._out_of: dict[tuple[str, str], list[ColumnEdge]] | None = None

    # -- listing --------------------------------------------------------------------------------

    def edges(self, keys: Collection[str] | None = None) -> list[ColumnEdge]:
        """Value edges into the assets in `keys` (all when None), sorted."""
        return sorted((e for a in self._assets(keys) for e in a.edges() if _within(e, keys)), key=edge_order)

    def filter_edges(self, keys: Collection[str] | None = None) -> list[ColumnEdge]:
        return sorted((e for a in self._assets(keys) for e in a.filter_edges() if _within(e, keys)),
                      key=edge_order)

    def errors(self, keys: Collection[str] | None = None) -> list[dict[str, str]]:
        return [{"asset": a.asset, "message": a.error} for a in self._assets(keys) if a.error]

    def warnings(self, keys: Collection[str] | None = None) -> list[dict[str, str]]:
        return [{"asset": a.asset, "message": w} for a in self._assets(keys) for w in a.warnings]

    def columns(self, asset: str) -> list[str] | None:
        found = self.assets.get(asset)
        return None if found is None else found.column_names

    def _assets(self, keys: Collection[str] | None) -> list[AssetLineage]:
        return [self.assets[k] for k in sorted(self.assets) if keys is None or k in keys]

    def to_json(self, keys: Collection[str] | None = None) -> dict[str, Any]:
        """`{"edges", "filter_edges", "errors", "warnings", "assets"}` of the assets in `keys` (all
        when None): the edges into them; `assets` maps each to its columns in order (null when
        unknown), where its lineage came from and, when it is expectedly unknown, why."""
        return {
            "edges": [e.as_dict() for e in self.edges(keys)],
            "filter_edges": [e.as_dict() for e in self.filter_edges(keys)],
            "errors": self.errors(keys),
            "warnings": self.warnings(keys),
            "assets": {a.asset: _described(a) for a in self._assets(keys)},
        }

    # -- traversal ------------------------------------------------------------------------------

    def _index(self) -> None:
        if self._into is not None:
            return
        self._into, self._out_of = {}, {}
        for lineage in self.assets.values():
            for edge in lineage.edges():
                self._into.setdefault((edge.target.asset, edge.target.column), []).append(edge)
                self._out_of.setdefault((edge.source.asset, edge.source.column), []).append(edge)

    def upstream(self, asset: str, column: str, depth: int | None = None,
                 filters: bool = False) -> list[ColumnEdge]:
        """Every value edge leading into `asset.column`, transitively (to `depth` hops); with
        `filters`, also the filter edges of each asset passed through."""
        return self._walk(asset, column, depth, filters, upstream=True)

    def downstream(self, asset: str, column: str, depth: int | None = None,
                   filters: bool = False) -> list[ColumnEdge]:
        """Every value edge fed by `asset.column`, transitively: its impact. With `filters`, also
        the assets whose rows it decides (filter edges; not followed further)."""
        return self._walk(asset, column, depth, filters, upstream=False)

    def _walk(self, asset: str, column: str, depth: int | None, filters: bool, upstream: bool) -> list[ColumnEdge]:
        self.check_column(asset, column)
        self._index()
        index = self._into if upstream else self._out_of
        assert index is not None
        found: set[ColumnEdge] = set()
        seen = {(asset, column)}
        frontier = [(asset, column)]
        hops = 0
        while frontier and (depth is None or hops < depth):
            hops += 1
            step = []
            for ref in frontier:
                for edge in index.get(ref, ()):
                    found.add(edge)
                    end = edge.source if upstream else edge.target
                    nxt = (end.asset, end.column)
                    if nxt not in seen:
                        seen.add(nxt)
                        step.append(nxt)
                if filters:
                    found.update(self._filters_at(ref, upstream))
            frontier = step
        return sorted(found, key=edge_order)

    def _filters_at(self, ref: tuple[str, str], upstream: bool) -> Iterable[ColumnEdge]:
        if upstream:
            lineage = self.assets.get(ref[0])
            return lineage.filter_edges() if lineage else ()
        return (e for a in self.assets.values() if a.filters for e in a.filter_edges()
                if (e.source.asset, e.source.column) == ref)

    def check_column(self, asset: str, column: str) -> None:
        """UnknownAssetError, with a suggestion, for an asset or column the graph does not have."""
        if asset not in self.assets:
            hint = suggest(asset, self.assets)
            raise UnknownAssetError(f"No asset '{asset}' in the column lineage."
                                    + (f" Did you mean '{hint}'?" if hint else ""))
        columns = self.assets[asset].column_names
        if columns is None:
            reason = self.assets[asset].error or "its columns are unknown"
            raise UnknownAssetError(f"The columns of '{asset}' are unknown: {reason}")
        if column not in columns:
            hint = suggest(column, columns)
            raise UnknownAssetError(f"No column '{column}' in '{asset}'."
                                    + (f" Did you mean '{hint}'?" if hint else f" It has: {', '.join(columns)}."))

    def trace(self, target: str, direction: str = "upstream", depth: int | None = None,
              filters: bool = False) -> dict[str, Any]:
        """`"asset/key.column"` -> `{"column": {...}, "direction", "edges": [...]}` for the CLI."""
        asset, column = parse_column(target)
        walk = self.upstream if direction == "upstream" else self.downstream
        edges = walk(asset, column, depth, filters)
        return {"column": ColumnRef(asset, column).as_dict(), "direction": direction,
                "edges": [e.as_dict() for e in edges], "warnings": self.partial(asset, edges, direction)}

    def partial(self, asset: str, edges: Iterable[ColumnEdge], direction: str = "upstream") -> list[dict[str, str]]:
        """Why an answer may be incomplete: each asset on the path (the edges' ends) whose own
        lineage failed or is unknown, so the walk could not go on through it."""
        reached = {asset} | {e.source.asset for e in edges} | {e.target.asset for e in edges}
        found = []
        for key in sorted(reached - {asset}) if direction == "upstream" else sorted(reached):
            lineage = self.assets.get(key)
            if lineage is None:
                continue
            where = "upstream" if direction == "upstream" else "downstream"
            if lineage.error:
                found.append({"asset": key, "message": f"partial: {where} '{key}' has a lineage error: "
                                                       f"{lineage.error}"})
            elif lineage.origin == "unknown":
                reason = lineage.reason or "its lineage is unknown"
                found.append({"asset": key, "message": f"partial: {where} '{key}': {reason}"})
        return found


def parse_column(target: str) -> tuple[str, str]:
    """`marts/fct_orders.revenue` -> ("marts/fct_orders", "revenue")."""
    asset, dot, column = target.strip().rpartition(".")
    if not dot or not asset or not column:
        raise SelectionError(f"'{target}' is not ASSET.COLUMN (for example marts/fct_orders.revenue).")
    return asset, column


def edge_order(edge: ColumnEdge) -> tuple[str, ...]:
    return (edge.source.asset, edge.source.column or "", edge.target.asset, edge.target.column or "",
            edge.kind, edge.clause or "")


def _within(edge: ColumnEdge, keys: Collection[str] | None) -> bool:
    return keys is None or edge.target.asset in keys


def _described(lineage: AssetLineage) -> dict[str, Any]:
    found: dict[str, Any] = {"columns": lineage.column_names, "origin": lineage.origin}
    if lineage.reason:
        found["reason"] = lineage.reason
    return found
