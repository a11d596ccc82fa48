"""What a running step sees: the context given to asset functions and to batch runners."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.execution.run_resources import RunResources
from orchestrator.keys import AssetKey
from orchestrator.partitions import PartitionRange
from orchestrator.storage.events import Event, EventType

Emit = Callable[[Event], None]


@dataclass
class AssetContext:
    """The `context` parameter of an asset or check function."""

    run_id: str
    asset_key: AssetKey
    partition_key: str | None
    partition_range: PartitionRange | None
    resources: Mapping[str, Any]
    _emit: Emit
    attempt: int = 1
    _metadata: dict[str, Any] = field(default_factory=dict)
    _add_partitions: Callable[[str, list[str]], list[str]] | None = None

    @property
    def log(self) -> _EventLogger:
        return _EventLogger(self)

    def add_metadata(self, **metadata: Any) -> None:
        """Attach metadata to this materialization's event."""
        self._metadata.update(metadata)

    def add_dynamic_partitions(self, name: str, keys: list[str]) -> list[str]:
        """Add keys to the dynamic partitions `name`; returns those that were new."""
        if self._add_partitions is None:
            raise RuntimeError("This run has no event store to add dynamic partitions to.")
        return self._add_partitions(name, list(keys))

    def _log(self, level: str, message: str) -> None:
        self._emit(
            Event(self.run_id, EventType.LOG, time.time(), step_key=str(self.asset_key),
                  asset_key=self.asset_key, partition=self.partition_key, message=message,
                  data={"level": level})
        )


@dataclass(frozen=True)
class _EventLogger:
    context: AssetContext

    def _at(self, level: str, message: str, *args: Any) -> None:
        text = message % args if args else message
        logging.getLogger("orchestrator.assets").log(logging.getLevelName(level.upper()), text)
        self.context._log(level, text)

    def debug(self, message: str, *args: Any) -> None:
        self._at("debug", message, *args)

    def info(self, message: str, *args: Any) -> None:
        self._at("info", message, *args)

    def warning(self, message: str, *args: Any) -> None:
        self._at("warning", message, *args)

    def error(self, message: str, *args: Any) -> None:
        self._at("error", message, *args)


@dataclass
class BatchContext:
    """Given to a batch runner (dbt): the assets of its step that should run, and ways to report.

    The runner calls `succeeded`, `failed` or `skipped` once per asset as each finishes, and
    `check` for each check result; events go to the store as they happen.
    """

    run_id: str
    step_key: str
    assets: tuple[AssetKey, ...]
    partition_key: str | None
    partition_range: PartitionRange | None
    cancel: threading.Event
    emit: Emit
    report: Callable[[AssetKey, str, str | None], None]
    resources: Mapping[str, Any] = field(default_factory=dict)

    def event(self, type_: EventType, asset_key: AssetKey | None = None, message: str | None = None,
              **data: Any) -> None:
        self.emit(Event(self.run_id, type_, time.time(), step_key=self.step_key, asset_key=asset_key,
                        partition=self.partition_key, message=message, data=data))

    def succeeded(self, key: AssetKey, **metadata: Any) -> None:
        self.event(EventType.MATERIALIZATION, key, metadata=metadata)
        self.report(key, "succeeded", None)

    def failed(self, key: AssetKey, message: str) -> None:
        self.report(key, "failed", message)

    def skipped(self, key: AssetKey, message: str) -> None:
        self.report(key, "skipped", message)

    def canceled(self, key: AssetKey, message: str = "canceled while running") -> None:
        self.report(key, "canceled", message)

    def check(self, key: AssetKey, name: str, passed: bool, blocking: bool, **metadata: Any) -> None:
        self.event(EventType.CHECK_RESULT, key, check=name, passed=passed, blocking=blocking,
                   metadata=metadata)
        if blocking and not passed:
            self.report(key, "blocked", f"check '{name}' on '{key}' failed")


@dataclass
class BuiltContext(AssetContext):
    """A context made by build_context(): what the asset logged and recorded stays on it."""

    events: list[Event] = field(default_factory=list)
    dynamic_partitions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, Any]:
        """What the asset attached with add_metadata()."""
        return dict(self._metadata)

    def __enter__(self) -> BuiltContext:
        return self

    def __exit__(self, *exc: object) -> None:
        """Tear down the resources that were set up (ConfigurableResource.teardown)."""
        close = getattr(self.resources, "close", None)
        if close is not None:
            close()


def build_context(
    *,
    partition_key: str | None = None,
    partition_range: PartitionRange | None = None,
    resources: Mapping[str, Any] | None = None,
    asset_key: str | AssetKey = "asset",
    run_id: str = "test-run",
    attempt: int = 1,
) -> BuiltContext:
    """A context for calling an asset function directly, in a unit test:

    >>> with build_context(partition_key="2024-01-01") as context:
    ...     context.log.info("hello %s", context.partition_key)
    >>> [e.message for e in context.events]
    ['hello 2024-01-01']

    Resources are set up as a run sets them up (EnvVar fields read, `setup()` called) when first
    used, and torn down when the `with` block ends. Calling the asset with `context=` fills in
    parameters that name a resource: `my_asset(orders, context=build_context(resources=...))`.
    """
    if partition_range is None and partition_key is not None:
        first, _, last = partition_key.partition("...")
        partition_range = PartitionRange(first, last or first)
    events: list[Event] = []
    added: dict[str, list[str]] = {}

    def add_partitions(name: str, keys: list[str]) -> list[str]:
        known = added.setdefault(name, [])
        new = [k for k in dict.fromkeys(keys) if k not in known]
        known.extend(new)
        return new

    return BuiltContext(run_id, AssetKey.coerce(asset_key), partition_key, partition_range,
                        RunResources(resources or {}), events.append, attempt,
                        _add_partitions=add_partitions, events=events, dynamic_partitions=added)
