"""Jobs: a named selection that schedules, sensors and `orch runs launch --job` run, with its retry policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import DefinitionError, SelectionError
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.partitions import MultiPartitions, PartitionsDefinition, TimeWindowPartitions
from orchestrator.selection import resolve


@dataclass(frozen=True, slots=True)
class RunRetryPolicy:
    """Re-queue a failed run (its process died, or an asset failed) up to `max_retries` times;
    `from_failure`: the retry runs only the assets that did not succeed."""

    max_retries: int = 0
    from_failure: bool = True

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise DefinitionError(f"RunRetryPolicy.max_retries must be >= 0, got {self.max_retries}.")

    def as_config(self) -> dict[str, Any]:
        return {"max_retries": self.max_retries, "from_failure": self.from_failure}


@dataclass(frozen=True, slots=True)
class JobDefinition:
    name: str
    selection: str = "*"
    exclude: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    retries: RunRetryPolicy | None = None

    def asset_keys(self, graph: AssetGraph) -> frozenset[AssetKey]:
        """The executable assets the job runs; a selection that matches none is an error."""
        keys = frozenset(k for k in resolve(self.selection, graph, self.exclude) if graph.assets[k].executable)
        if not keys:
            raise SelectionError(f"Job '{self.name}' selects no asset that can run: selection "
                                 f"'{self.selection}'" + (f" excluding '{self.exclude}'" if self.exclude else "")
                                 + " matched nothing executable.")
        return keys

    def partitions(self, graph: AssetGraph) -> PartitionsDefinition | None:
        """The partitions its partitioned assets share (a job runs one partition at a time)."""
        found = {graph.assets[k].partitions for k in self.asset_keys(graph)} - {None}
        if not found:
            return None
        if len(found) > 1:
            windows = {p.time if isinstance(p, MultiPartitions) else p for p in found}
            if len(windows) == 1 and isinstance(next(iter(windows)), TimeWindowPartitions):
                return next(iter(windows))
            raise DefinitionError(f"Job '{self.name}' selects assets with different partitions "
                                  f"({', '.join(sorted(p.describe() for p in found))}); a job runs one "
                                  "partition key at a time: split it into one job per partitioning.")
        return next(iter(found))


def define_job(name: str, selection: str = "*", *, exclude: str | None = None,
               tags: Mapping[str, str] | None = None, description: str | None = None,
               retries: RunRetryPolicy | int | None = None) -> JobDefinition:
    """A named selection, e.g. `define_job("daily_marts", selection="+group:marts")`.

    >>> define_job("nightly", "+group:marts", retries=2).retries
    RunRetryPolicy(max_retries=2, from_failure=True)
    """
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise DefinitionError(f"Job name '{name}' must be letters, digits, '_' or '-'.")
    policy = RunRetryPolicy(retries) if isinstance(retries, int) else retries
    return JobDefinition(name, selection or "*", exclude, dict(tags or {}), description, policy)
