"""IOManager: how an asset's value is stored and read back; MemoryIOManager is its in-memory twin."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import IOManagerError
from orchestrator.keys import AssetKey


@dataclass(frozen=True, slots=True)
class OutputContext:
    """What an IO manager knows when it stores one materialization."""

    asset_key: AssetKey
    partition: str | None = None
    run_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    partitions: Any = None
    """The asset's PartitionsDefinition, when it is partitioned."""


@dataclass(frozen=True, slots=True)
class InputContext:
    """What an IO manager knows when a downstream step reads a value."""

    asset_key: AssetKey
    partition: str | None = None
    expected_type: Any = None
    columns: Sequence[str] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    partitions: Any = None
    """The asset's PartitionsDefinition, when it is partitioned."""


class IOManager(ABC):
    """Stores values of assets and reads them back, partition aware."""

    writes_ranges = False
    """True when a write of a `start...end` range replaces exactly that range in one commit: then a
    backfill runs such an asset over its whole range at once by default."""

    @abstractmethod
    def write(self, context: OutputContext, value: Any) -> Mapping[str, Any]:
        """Store `value` atomically; return metadata to record (rows, bytes, schema, location...)."""

    @abstractmethod
    def read(self, context: InputContext) -> Any:
        """Read a stored value; raise IOManagerError naming the asset when there is none."""

    def has(self, asset_key: AssetKey, partition: str | None = None) -> bool:
        try:
            self.read(InputContext(asset_key, partition))
        except IOManagerError:
            return False
        return True


def not_materialized(asset_key: AssetKey, partition: str | None, where: str) -> IOManagerError:
    part = f" partition '{partition}'" if partition else ""
    return IOManagerError(
        f"Asset '{asset_key}'{part} has not been materialized yet (nothing at {where}). "
        f"Materialize it first, e.g. `orch materialize --select '+{asset_key}'`."
    )


class MemoryIOManager(IOManager):
    """Keeps values in a dict: for tests and notebooks. Not shared across processes."""

    def __init__(self) -> None:
        self._values: dict[tuple[AssetKey, str | None], Any] = {}
        self._lock = threading.Lock()

    def write(self, context: OutputContext, value: Any) -> Mapping[str, Any]:
        with self._lock:
            self._values[(context.asset_key, context.partition)] = value
        return {"type": type(value).__name__, **_row_count(value)}

    def read(self, context: InputContext) -> Any:
        with self._lock:
            try:
                value = self._values[(context.asset_key, context.partition)]
            except KeyError:
                raise not_materialized(context.asset_key, context.partition, "memory") from None
        if context.columns is not None and hasattr(value, "select"):
            return value.select(list(context.columns))
        return value

    def has(self, asset_key: AssetKey, partition: str | None = None) -> bool:
        return (asset_key, partition) in self._values


def _row_count(value: Any) -> dict[str, int]:
    rows = getattr(value, "num_rows", None)
    if rows is None and hasattr(value, "shape"):
        rows = value.shape[0]
    return {"rows": int(rows)} if rows is not None else {}
