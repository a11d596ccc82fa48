"""materialize(): select, plan and run assets in one call, for the CLI, tests and notebooks."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.assets import AssetCheckDefinition, AssetDefinition
from orchestrator.definitions import Definitions
from orchestrator.errors import NothingModifiedError, PartitionError, SelectionError, suggest
from orchestrator.execution.plan import Plan, plan
from orchestrator.execution.run import RunResult, execute_plan
from orchestrator.graph import AssetGraph
from orchestrator.home import default_io_managers, resolve_home
from orchestrator.io.base import IOManager, MemoryIOManager
from orchestrator.keys import AssetKey
from orchestrator.partitions import DynamicPartitions
from orchestrator.selection import Atom, Selection, parse_selection, resolve
from orchestrator.storage.base import EventStore, MemoryEventStore
from orchestrator.storage.events import Event


def _as_definitions(assets: Definitions | Iterable[AssetDefinition | AssetCheckDefinition]) -> Definitions:
    return assets if isinstance(assets, Definitions) else Definitions(assets=list(assets))


def load_dynamic_partitions(graph: AssetGraph, store: EventStore) -> None:
    """Give every DynamicPartitions of the graph the keys the store holds now."""
    for definition in graph.assets.values():
        if isinstance(definition.partitions, DynamicPartitions):
            definition.partitions.load(store.dynamic_partitions.keys(definition.partitions.name))


def validate_partition(graph: AssetGraph, keys: Iterable[AssetKey], partition: str | None) -> str | None:
    """Check `partition` against every selected partitioned asset; returns its canonical form."""
    partitioned = [graph.assets[k] for k in keys if graph.assets[k].partitions is not None]
    if partition is None:
        # Batch runners (dbt) also run a partitioned model without a partition: its own
        # incremental logic decides what to process. A Python asset needs its partition.
        if any(d.runner is None for d in partitioned):
            names = ", ".join(str(d.key) for d in partitioned if d.runner is None)
            raise PartitionError(
                f"Partitioned assets selected ({names}); pass a partition (--partition KEY)."
            )
        return None
    if not partitioned:
        raise PartitionError(
            f"--partition '{partition}' was given, but none of the selected assets is partitioned "
            f"({_few(keys)}); leave it out, or select partitioned assets."
        )
    canonical = partition
    for definition in partitioned:
        canonical = definition.partitions.validate(partition, str(definition.key))
    return canonical


def _few(keys: Iterable[AssetKey], most: int = 5) -> str:
    names = sorted(map(str, keys))
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def select_assets(graph: AssetGraph, selection: str | None, exclude: str | None,
                  state: Any = None) -> frozenset[AssetKey]:
    """resolve(), where selecting nothing is an error saying which part matched nothing: a run of
    nothing would be recorded as a success. `state`: a StateComparison for `state:` selectors
    (orchestrator.state)."""
    keys = resolve(selection or "*", graph, exclude, state)
    if keys:
        return keys
    text = selection or "*"
    if resolve(text, graph, state=state):
        raise SelectionError(f"--exclude '{exclude}' leaves nothing of selection '{text}'; nothing was run.")
    empty = [atom for atom in _atoms(parse_selection(text)) if not resolve(atom, graph, state=state)]
    if not empty:
        raise SelectionError(f"Selection '{text}' matches no asset: each part matches some, but no "
                             "asset matches all of an intersection (','); nothing was run.")
    if all(atom.method == "state" for atom in _atoms(parse_selection(text))):
        raise NothingModifiedError(f"Nothing matches '{text}' against the saved state: nothing to run.")
    parts = ", ".join(f"'{atom}'" for atom in empty)
    hints = "".join(_value_hint(graph, atom) for atom in empty)
    raise SelectionError(f"Selection '{text}' matches no asset: {parts} matched nothing.{hints} "
                         "Nothing was run.")


def _atoms(node: Selection) -> list[Atom]:
    return [node] if isinstance(node, Atom) else [a for part in node.parts for a in _atoms(part)]


_VALUES = {"tag": lambda a: a.tags, "group": lambda a: (a.group,), "kind": lambda a: a.kinds,
           "owner": lambda a: a.owners}


def _value_hint(graph: AssetGraph, atom: Atom) -> str:
    values_of = _VALUES.get(atom.method or "")
    if values_of is None:
        return ""
    known = sorted({v for a in graph.assets.values() for v in values_of(a)})
    match = suggest(atom.value, known)
    if match:
        return f" Did you mean '{atom.method}:{match}'?"
    return f" Known {atom.method}s: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''}." if known else ""


def build_plan(defs: Definitions, selection: str | None, exclude: str | None, state: Any = None) -> Plan:
    return plan(defs.graph, select_assets(defs.graph, selection, exclude, state))


def materialize(
    assets: Definitions | Iterable[AssetDefinition | AssetCheckDefinition],
    selection: str | None = None,
    *,
    exclude: str | None = None,
    partition: str | None = None,
    store: EventStore | None = None,
    io_managers: Mapping[str, IOManager] | None = None,
    resources: Mapping[str, Any] | None = None,
    home: str | Path | None = None,
    max_concurrency: int | None = None,
    executor: str = "thread",
    tags: Mapping[str, str] | None = None,
    listener: Callable[[Event], None] | None = None,
) -> RunResult:
    """Materialize the selected assets (all by default) and return each asset's status and value.

    Where the run goes, as in the CLI: with `store`, it is recorded there; else with `home` or the
    environment variable ORCH_HOME, it is recorded in that home's store (ORCH_STORAGE_URL, else
    SQLite at `HOME/orch.db`, what `orch runs list` shows) and values are Parquet files under
    `HOME/storage/`; else (tests, notebooks) values stay in memory and the run in an in-memory
    store. `resources` (IO managers included) add to or replace the definitions' own.

    >>> from orchestrator import asset
    >>> @asset
    ... def numbers(): return [1, 2, 3]
    >>> @asset
    ... def total(numbers): return sum(numbers)
    >>> result = materialize([numbers, total])
    >>> result.status.value, result.value("total")
    ('succeeded', 6)
    """
    defs = _as_definitions(assets).with_resources(resources or {})
    home = Path(home) if home is not None else (resolve_home() if os.environ.get("ORCH_HOME") else None)
    with contextlib.ExitStack() as opened:
        if store is None:
            store = opened.enter_context(_home_store(home)) if home is not None else MemoryEventStore()
        load_dynamic_partitions(defs.graph, store)
        run_plan = build_plan(defs, selection, exclude)
        partition = validate_partition(defs.graph, run_plan.asset_keys, partition)
        in_memory = home is None and io_managers is None
        managers: dict[str, IOManager] = (
            {"io_manager": MemoryIOManager()} if in_memory else default_io_managers(home) if home else {}
        )
        managers.update(defs.io_managers)
        managers.update(io_managers or {})
        return execute_plan(
            run_plan,
            store=store,
            io_managers=managers,
            resources=defs.resources,
            partition=partition,
            selection=selection,
            exclude=exclude,
            max_concurrency=max_concurrency,
            executor=executor,
            tags=tags,
            keep_values=in_memory,
            listener=listener,
            launched_by="api",
        )


def _home_store(home: Path) -> EventStore:
    from orchestrator.storage.open import open_store  # SQLAlchemy: only when a run is recorded

    return open_store(os.environ.get("ORCH_STORAGE_URL"), home)
