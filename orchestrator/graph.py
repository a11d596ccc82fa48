"""AssetGraph: every asset, whatever its origin, in one validated networkx graph."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping

import networkx as nx

from orchestrator.assets import AssetCheckDefinition, AssetDefinition
from orchestrator.errors import CycleError, DuplicateAssetError, UnknownAssetError, did_you_mean
from orchestrator.keys import AssetKey
from orchestrator.memory import paused_gc


class AssetGraph:
    """An immutable DAG of assets keyed by AssetKey, with the checks that target them."""

    def __init__(
        self,
        assets: Iterable[AssetDefinition],
        checks: Iterable[AssetCheckDefinition] = (),
    ) -> None:
        self._assets: dict[AssetKey, AssetDefinition] = {}
        for definition in assets:
            existing = self._assets.get(definition.key)
            if existing is not None:
                raise DuplicateAssetError(
                    f"Asset '{definition.key}' is defined twice: by {existing.origin} "
                    f"and by {definition.origin}."
                )
            self._assets[definition.key] = definition
        self._checks = tuple(checks)
        with paused_gc():
            self._dag = self._build_dag()
        self._validate_checks()
        self._check_acyclic()
        self._by_name: dict[str, list[AssetKey]] | None = None
        self._checks_by_asset: dict[AssetKey, list[AssetCheckDefinition]] | None = None
        self._order: tuple[AssetKey, ...] | None = None
        self._inputs: dict[AssetKey, tuple[AssetKey, ...]] = {}

    @classmethod
    def _from_parts(
        cls,
        assets: dict[AssetKey, AssetDefinition],
        checks: tuple[AssetCheckDefinition, ...],
        dag: nx.DiGraph,
    ) -> AssetGraph:
        graph = cls.__new__(cls)
        graph._assets, graph._checks, graph._dag = assets, checks, dag
        graph._by_name = graph._checks_by_asset = graph._order = None
        graph._inputs = {}
        return graph

    def _build_dag(self) -> nx.DiGraph:
        dag = nx.DiGraph()
        dag.add_nodes_from(self._assets)
        edges = []
        for definition in self._assets.values():
            for dep in definition.deps:
                if dep.key in self._assets:
                    edges.append((dep.key, definition.key))
                elif not dep.optional:
                    self._raise_unknown_dep(definition, dep.key)
        dag.add_edges_from(edges)
        return dag

    def _raise_unknown_dep(self, definition: AssetDefinition, key: AssetKey) -> None:
        known = [str(k) for k in self._assets]
        raise UnknownAssetError(
            f"Asset '{definition.key}' ({definition.origin}) depends on '{key}', which no asset "
            f"defines.{did_you_mean(str(key), known)} Declare it with AssetSpec('{key}') if "
            "another system produces it."
        )

    def _validate_checks(self) -> None:
        seen: dict[str, AssetCheckDefinition] = {}
        for check in self._checks:
            if check.asset not in self._assets:
                raise UnknownAssetError(
                    f"Check '{check.name}' targets '{check.asset}', which no asset defines."
                    f"{did_you_mean(str(check.asset), [str(k) for k in self._assets])}"
                )
            if check.id in seen:
                raise DuplicateAssetError(f"Check '{check.id}' is defined twice.")
            seen[check.id] = check

    def _check_acyclic(self) -> None:
        if nx.is_directed_acyclic_graph(self._dag):
            return
        cycle = nx.find_cycle(self._dag)
        path = " -> ".join(str(u) for u, _ in cycle) + f" -> {cycle[0][0]}"
        raise CycleError(f"The asset graph has a cycle: {path}")

    # -- lookups -----------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._assets

    def __iter__(self) -> Iterator[AssetKey]:
        return iter(self._assets)

    def __len__(self) -> int:
        return len(self._assets)

    @property
    def assets(self) -> Mapping[AssetKey, AssetDefinition]:
        return self._assets

    @property
    def checks(self) -> tuple[AssetCheckDefinition, ...]:
        return self._checks

    @property
    def keys(self) -> frozenset[AssetKey]:
        return frozenset(self._assets)

    def get(self, key: str | AssetKey) -> AssetDefinition:
        asset_key = AssetKey.coerce(key)
        try:
            return self._assets[asset_key]
        except KeyError:
            raise UnknownAssetError(
                f"No asset '{asset_key}'.{did_you_mean(str(asset_key), [str(k) for k in self._assets])}"
            ) from None

    def checks_for(self, key: AssetKey) -> list[AssetCheckDefinition]:
        if self._checks_by_asset is None:
            index: dict[AssetKey, list[AssetCheckDefinition]] = defaultdict(list)
            for check in self._checks:
                index[check.asset].append(check)
            self._checks_by_asset = dict(index)
        return self._checks_by_asset.get(key, [])

    def keys_named(self, name: str) -> list[AssetKey]:
        """Keys whose last component is `name` (dbt-style bare names)."""
        if self._by_name is None:
            index: dict[str, list[AssetKey]] = defaultdict(list)
            for key in self._assets:
                index[key.name].append(key)
            self._by_name = dict(index)
        return self._by_name.get(name, [])

    # -- structure ---------------------------------------------------------------------------

    def parents(self, key: AssetKey) -> set[AssetKey]:
        return set(self._dag.predecessors(key))

    def children(self, key: AssetKey) -> set[AssetKey]:
        return set(self._dag.successors(key))

    def edges(self) -> list[tuple[AssetKey, AssetKey]]:
        return list(self._dag.edges)

    def upstream(self, keys: Collection[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """Ancestors of `keys` within `depth` hops (all when None), excluding the keys themselves."""
        return self._walk(keys, depth, self._dag.predecessors)

    def downstream(self, keys: Collection[AssetKey], depth: int | None = None) -> set[AssetKey]:
        return self._walk(keys, depth, self._dag.successors)

    @staticmethod
    def _walk(keys: Collection[AssetKey], depth: int | None, step) -> set[AssetKey]:
        seen: set[AssetKey] = set()
        frontier = list(keys)
        level = 0
        while frontier and (depth is None or level < depth):
            next_frontier = []
            for key in frontier:
                for other in step(key):
                    if other not in seen:
                        seen.add(other)
                        next_frontier.append(other)
            frontier, level = next_frontier, level + 1
        return seen - set(keys) if depth is None else seen

    def toposort(self, keys: Collection[AssetKey] | None = None) -> list[AssetKey]:
        """Keys in dependency order (all keys when None), ties broken by key for stable plans."""
        if keys is None:
            return list(nx.lexicographical_topological_sort(self._dag, key=str))
        wanted = set(keys)
        return [k for k in nx.lexicographical_topological_sort(self._dag, key=str) if k in wanted]

    def inputs(self, key: AssetKey) -> tuple[AssetKey, ...]:
        """The upstream assets whose data `key` reads, sorted: its parents, looking through assets that
        are never materialized but have parents of their own (dbt's ephemeral models). External assets
        (sources, AssetSpec) stay: they have data, just not ours to make."""
        found = self._inputs.get(key)
        if found is None:
            result: set[AssetKey] = set()
            for parent in self._dag.predecessors(key):
                definition = self._assets[parent]
                if not definition.executable and definition.resource_type not in ("source", "external") \
                        and self._dag.in_degree(parent):
                    result.update(self.inputs(parent))
                else:
                    result.add(parent)
            found = self._inputs[key] = tuple(sorted(result, key=str))
        return found

    def order(self) -> tuple[AssetKey, ...]:
        """All keys in a dependency order (computed once; faster than `toposort`, ties unordered)."""
        if self._order is None:
            self._order = tuple(nx.topological_sort(self._dag))
        return self._order

    def subgraph(self, keys: Collection[AssetKey]) -> AssetGraph:
        """A new graph of `keys` only, keeping transitive edges across the dropped assets."""
        kept = set(keys)
        unknown = kept - self._assets.keys()
        if unknown:
            raise UnknownAssetError(f"Not in the graph: {sorted(map(str, unknown))}")
        dag = nx.DiGraph()
        dag.add_nodes_from(kept)
        for key in kept:
            dag.add_edges_from((parent, key) for parent in self._nearest_kept_parents(key, kept))
        assets = {k: self._assets[k] for k in self._assets if k in kept}
        checks = tuple(c for c in self._checks if c.asset in kept)
        return AssetGraph._from_parts(assets, checks, dag)

    def _nearest_kept_parents(self, key: AssetKey, kept: set[AssetKey]) -> set[AssetKey]:
        found: set[AssetKey] = set()
        seen: set[AssetKey] = set()
        stack = list(self._dag.predecessors(key))
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            if parent in kept:
                found.add(parent)
            else:
                stack.extend(self._dag.predecessors(parent))
        return found
