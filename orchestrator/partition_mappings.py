"""Partition mappings: which partitions of an upstream asset one downstream partition reads.

A mapping returns the upstream partition as a key, a `start...end` range (both included), or None
for "all of it". Defaults: identity between partitioned assets; all partitions when the downstream
asset is not partitioned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from orchestrator.errors import PartitionError
from orchestrator.partitions import PartitionsDefinition, TimeWindowPartitions


def split_range(partition: str) -> tuple[str, str]:
    first, _, last = partition.partition("...")
    return first, last or first


def join_range(first: str, last: str) -> str:
    return first if first == last else f"{first}...{last}"


class PartitionMapping(ABC):
    @abstractmethod
    def upstream(self, downstream: str | None, upstream: PartitionsDefinition) -> str | None:
        """The upstream key or range read by the downstream key or range (None: everything)."""


@dataclass(frozen=True)
class IdentityMapping(PartitionMapping):
    def upstream(self, downstream: str | None, upstream: PartitionsDefinition) -> str | None:
        return downstream


@dataclass(frozen=True)
class AllPartitionsMapping(PartitionMapping):
    def upstream(self, downstream: str | None, upstream: PartitionsDefinition) -> str | None:
        return None


@dataclass(frozen=True)
class LastPartitionMapping(PartitionMapping):
    def upstream(self, downstream: str | None, upstream: PartitionsDefinition) -> str | None:
        keys = upstream.keys()
        if not keys:
            raise PartitionError("The upstream asset has no partitions yet.")
        return keys[-1]


@dataclass(frozen=True)
class TimeWindowMapping(PartitionMapping):
    """The upstream windows that contain the downstream range, shifted by whole windows.

    `TimeWindowMapping(-1, -1)` reads the previous day; `TimeWindowMapping(-6, 0)` the last 7 days.
    """

    start_offset: int = 0
    end_offset: int = 0

    def upstream(self, downstream: str | None, upstream: PartitionsDefinition) -> str | None:
        if downstream is None:
            return None
        if not isinstance(upstream, TimeWindowPartitions):
            raise PartitionError("TimeWindowMapping needs a time-window partitioned upstream asset.")
        first, last = split_range(downstream)
        start = upstream.shift(upstream.containing(first), self.start_offset)
        end = upstream.shift(upstream.containing(last), self.end_offset)
        return join_range(start, end)


DEFAULT = IdentityMapping()
