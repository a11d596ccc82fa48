"""Whole-graph column lineage: every asset once, in topological order, parents before children.

An asset is a `Unit`: SQL to analyze (a dbt model or snapshot, a Python asset's SQL), a lineage
given outright (declared on a Python asset, or a failure known beforehand), or a leaf (a source,
seed or table whose columns come from the schema layers). A SQL unit is qualified against the
columns of what it reads: the output columns its parents' SQL produced, else the schema layers.
Each result is saved under a key of its SQL and those upstream schemas, so an unchanged asset is
read back, not recomputed. A failure stays with its asset: its columns become unknown and its
children fall back to the layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from integrations.lineage.model import LOOSE_SCHEMA_SOURCES, AssetLineage, leaf
from integrations.lineage.parallel import Outcome, Runner, Task
from integrations.lineage.schemas import UNKNOWN, Layers
from integrations.lineage.store import LineageStore, input_key


@dataclass(slots=True)
class Unit:
    asset: str
    parents: tuple[str, ...] = ()
    sql: str | None = None
    parse_sql: str | None = None
    """What the parser reads when it differs from `sql` (the key of the result): dbt's inlined
    ephemeral CTEs blanked (see dbt_units.blank_ephemeral_bodies)."""
    dialect: str = "duckdb"
    reads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """parent asset -> the table name (parts) its SQL reads it by; the schema is built from these."""
    tables: Mapping[str, str] = field(default_factory=dict)
    """Dotted table names the SQL may read -> asset key (beyond `reads`)."""
    self_table: str | None = None
    functions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Table function calls (normalized SQL) that are parents read in place -> their `reads` name."""
    relation: tuple[str, ...] | None = None
    given: AssetLineage | None = None
    post: Callable[[AssetLineage], AssetLineage] | None = None
    post_key: str = ""
    origin: str = "sql"
    reason: str | None = None
    """Why a unit without SQL or given lineage has unknown lineage (kept on its result)."""
    complete: bool = True
    """False: `given` may name only some columns; the schema layers' others are added, no upstream."""


class _Dataflow:
    """Which units are ready: those whose parents (within the units) all have results. A cycle,
    which the asset graph forbids, is let through in one batch once nothing else can run."""

    def __init__(self, units: Mapping[str, Unit]) -> None:
        self.waiting: dict[str, int] = {}
        self.children: dict[str, list[str]] = {}
        for name, unit in units.items():
            parents = {p for p in unit.parents if p in units and p != name}
            self.waiting[name] = len(parents)
            for parent in parents:
                self.children.setdefault(parent, []).append(name)

    def roots(self) -> list[str]:
        return self._released([n for n, count in self.waiting.items() if count == 0])

    def done(self, name: str) -> list[str]:
        """The children that `name`'s result makes ready."""
        ready = []
        for child in self.children.get(name, ()):
            if child in self.waiting:  # else released already (a cycle)
                self.waiting[child] -= 1
                if self.waiting[child] == 0:
                    ready.append(child)
        return self._released(ready)

    def stuck(self) -> list[str]:
        return self._released(list(self.waiting))

    def _released(self, names: list[str]) -> list[str]:
        for name in names:
            del self.waiting[name]
        return names


def compute(units: Iterable[Unit], layers: Layers, store: LineageStore | None = None,
            workers: int | None = None) -> dict[str, AssetLineage]:
    """The lineage of every unit; see the module docstring. Units are analyzed as soon as their
    parents' results are in (in worker processes when many are ready)."""
    by_name = {u.asset: u for u in units}
    results: dict[str, AssetLineage] = {}
    schemas = _Schemas(results, layers)
    flow = _Dataflow(by_name)
    keys: dict[str, str] = {}  # asset -> the input key of its running task
    with Runner(workers) as runner:
        ready = flow.roots()
        while ready or runner.busy:
            tasks: list[Task] = []
            while ready:
                batch, ready = ready, []
                for name in batch:
                    unit = by_name[name]
                    found = _without_analysis(unit, layers, schemas, store)
                    if isinstance(found, AssetLineage):
                        results[name] = found
                        ready += flow.done(name)
                    else:
                        keys[name], task = found
                        tasks.append(task)
            runner.start(tasks)
            for outcome in runner.results():
                unit = by_name[outcome.asset]
                exact = not outcome.starred or all(schemas.exact(p, parts) for p, parts in unit.reads.items())
                results[unit.asset] = lineage = _lineage(unit, outcome, layers, exact)
                if store is not None:
                    store.put(unit.asset, keys.pop(unit.asset), lineage)
                ready += flow.done(unit.asset)
            if not ready and not runner.busy:
                ready = flow.stuck()
    if store is not None:
        store.save()
    return {name: results[name] for name in by_name}


def _without_analysis(unit: Unit, layers: Layers, schemas: _Schemas,
                      store: LineageStore | None) -> AssetLineage | tuple[str, Task]:
    """A unit's lineage when it needs no analysis (given, a leaf, or read back from the store),
    else its input key and the task that analyzes it."""
    if unit.given is not None:
        given = unit.given if unit.complete else _widened(unit.given, layers, unit.relation)
        return _typed(given, layers, unit.relation)
    if unit.sql is None:
        found = layers.lookup(unit.asset, unit.relation)
        made = leaf(unit.asset, found[0], found[0], schema_source=found[1]) if found else leaf(unit.asset, None)
        return made if unit.origin == "sql" else replace(made, origin=unit.origin, reason=unit.reason)
    reads = sorted(unit.reads.items())
    key = input_key(unit.sql, unit.dialect, unit.self_table, unit.post_key, sorted(unit.functions.items()),
                    [(parent, parts, schemas.digest(parent, parts), schemas.exact(parent, parts))
                     for parent, parts in reads])
    hit = store.get(unit.asset, key) if store is not None else None
    if hit is not None:
        return hit
    exact = frozenset(".".join(parts) for parent, parts in reads if schemas.exact(parent, parts))
    return key, Task(unit.asset, unit.parse_sql or unit.sql, schemas.nested(reads), unit.self_table,
                     unit.dialect, dict(unit.functions) or None, exact)


def columns_of(asset: str, results: Mapping[str, AssetLineage], layers: Layers,
               relation: tuple[str, ...] | None = None) -> dict[str, str] | None:
    """An asset's columns (name -> type) as its readers see them: its own lineage's columns when
    known, else the schema layers."""
    found = results.get(asset)
    if found is not None and found.columns is not None:
        return {c: found.types.get(c, UNKNOWN) for c in found.columns}
    return layers.columns(asset, relation)


class _Schemas:
    """Each asset's columns as its readers see them, and a digest of them, computed once: a child
    read back from the store needs only the digests, a child analyzed again the nested schema."""

    def __init__(self, results: Mapping[str, AssetLineage], layers: Layers) -> None:
        self.results = results
        self.layers = layers
        self._seen: dict[tuple[str, tuple[str, ...]], tuple[dict[str, str] | None, str]] = {}

    def _get(self, asset: str, parts: tuple[str, ...]) -> tuple[dict[str, str] | None, str]:
        key = (asset, parts)
        if key not in self._seen:
            columns = columns_of(asset, self.results, self.layers, parts)
            self._seen[key] = (columns, input_key(sorted(columns.items())) if columns else "")
        return self._seen[key]

    def digest(self, asset: str, parts: tuple[str, ...]) -> str:
        return self._get(asset, parts)[1]

    def exact(self, asset: str, parts: tuple[str, ...]) -> bool:
        """Whether readers may trust the column list to be complete (see AssetLineage.exact)."""
        found = self.results.get(asset)
        if found is not None and found.columns is not None:
            return found.exact
        hit = self.layers.lookup(asset, parts)
        return hit is not None and hit[1] not in LOOSE_SCHEMA_SOURCES

    def nested(self, reads: Iterable[tuple[str, tuple[str, ...]]]) -> dict:
        schema: dict = {}
        for asset, parts in reads:
            columns = self._get(asset, parts)[0]
            if not columns:
                continue
            level = schema
            for part in parts[:-1]:
                level = level.setdefault(part, {})
            level[parts[-1]] = columns
        return schema


def _lineage(unit: Unit, outcome: Outcome, layers: Layers, exact: bool = False) -> AssetLineage:
    if outcome.columns is None:
        return AssetLineage(unit.asset, None, error=_named(outcome.error or "unknown failure", unit),
                            origin=unit.origin)
    tables = {".".join(parts): parent for parent, parts in unit.reads.items()}
    columns = {
        name: _mapped(sources, tables, unit.tables) for name, sources in outcome.columns.items()
    }
    filters = frozenset((tables.get(t) or unit.tables.get(t) or t, c, clause) for t, c, clause in outcome.filters)
    lineage = AssetLineage(unit.asset, columns, filters, None, tuple(_named(w, unit) for w in outcome.warnings),
                           origin=unit.origin, exact=exact)
    if unit.post is not None:
        lineage = unit.post(lineage)
    return _typed(lineage, layers, unit.relation)


def _mapped(sources: Mapping[tuple[str, str], int], tables: Mapping[str, str],
            more: Mapping[str, str]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for (table, column), kind in sources.items():
        asset = tables.get(table) or more.get(table) or table
        if out.get((asset, column), 0) < kind:
            out[(asset, column)] = kind
    return out


def _named(message: str, unit: Unit) -> str:
    """Relation names in a message replaced by the asset keys they are."""
    for parent, parts in unit.reads.items():
        message = message.replace(f"'{'.'.join(parts)}'", f"'{parent}'")
    return message


def _widened(lineage: AssetLineage, layers: Layers, relation: tuple[str, ...] | None) -> AssetLineage:
    """A partial declaration completed with the columns the schema layers know, in their order."""
    known = layers.columns(lineage.asset, relation)
    if lineage.columns is None or not known:
        return lineage
    declared = dict(lineage.columns)
    columns = {c: declared.pop(c, {}) for c in known}
    return replace(lineage, columns={**columns, **declared})


def _typed(lineage: AssetLineage, layers: Layers, relation: tuple[str, ...] | None) -> AssetLineage:
    if lineage.columns is None or lineage.types:
        return lineage
    known = layers.columns(lineage.asset, relation) or {}
    types = {c: known[c] for c in lineage.columns if c in known}
    return replace(lineage, types=types) if types else lineage
