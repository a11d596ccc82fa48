"""materialize(): select, plan and run assets in one call, for the CLI, tests and notebooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.assets import AssetCheckDefinition, AssetDefinition
from orchestrator.definitions import Definitions
from orchestrator.errors import PartitionError
from orchestrator.execution.plan import Plan, plan
from orchestrator.execution.run import RunResult, execute_plan
from orchestrator.graph import AssetGraph
from orchestrator.home import default_io_managers
from orchestrator.io.base import IOManager, MemoryIOManager
from orchestrator.keys import AssetKey
from orchestrator.partitions import DynamicPartitions
from orchestrator.selection import resolve
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
    canonical = partition
    for definition in partitioned:
        canonical = definition.partitions.validate(partition, str(definition.key))
    return canonical


def build_plan(defs: Definitions, selection: str | None, exclude: str | None, state: Any = None) -> Plan:
    """`state`: a StateComparison for `state:` selectors (orchestrator.state)."""
    keys = resolve(selection or "*", defs.graph, exclude, state)
    return plan(defs.graph, keys)


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

    Without `home` or `io_managers`, values stay in memory and events go to an in-memory store,
    which suits tests and notebooks; with `home`, values are Parquet files under it.

    >>> from orchestrator import asset
    >>> @asset
    ... def numbers(): return [1, 2, 3]
    >>> @asset
    ... def total(numbers): return sum(numbers)
    >>> result = materialize([numbers, total])
    >>> result.status.value, result.value("total")
    ('succeeded', 6)
    """
    defs = _as_definitions(assets)
    store = store if store is not None else MemoryEventStore()
    load_dynamic_partitions(defs.graph, store)
    run_plan = build_plan(defs, selection, exclude)
    partition = validate_partition(defs.graph, run_plan.asset_keys, partition)
    in_memory = home is None and io_managers is None
    managers: dict[str, IOManager] = (
        {"io_manager": MemoryIOManager()} if in_memory else default_io_managers(Path(home)) if home else {}
    )
    managers.update(defs.io_managers)
    managers.update(io_managers or {})
    return execute_plan(
        run_plan,
        store=store,
        io_managers=managers,
        resources={**defs.resources, **(resources or {})},
        partition=partition,
        selection=selection,
        max_concurrency=max_concurrency,
        executor=executor,
        tags=tags,
        keep_values=in_memory,
        listener=listener,
        launched_by="api",
    )
