"""Run one Python asset: read its inputs, call it with retries, store its value, run its checks."""

from __future__ import annotations

import time
import traceback
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.assets import AssetCheckDefinition, AssetDefinition, AssetDep, AssetResult, CheckResult
from orchestrator.errors import ExecutionError, IOManagerError
from orchestrator.execution.context import AssetContext, Emit
from orchestrator.graph import AssetGraph
from orchestrator.execution.schema_change import describe_change
from orchestrator.io.base import InputContext, IOManager, OutputContext
from orchestrator.keys import AssetKey
from orchestrator.partition_mappings import AllPartitionsMapping, IdentityMapping
from orchestrator.partitions import PartitionRange
from orchestrator.storage.events import Event, EventType

SUCCEEDED, FAILED, SKIPPED, CANCELED = "succeeded", "failed", "skipped", "canceled"


@dataclass
class StepOutcome:
    """What a step reports back to the scheduler for each of its assets."""

    statuses: dict[AssetKey, str] = field(default_factory=dict)
    causes: dict[AssetKey, str] = field(default_factory=dict)
    blocked: dict[AssetKey, str] = field(default_factory=dict)
    values: dict[AssetKey, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepEnv:
    """Everything a step needs besides its asset; shared by all steps of a run."""

    run_id: str
    graph: AssetGraph
    io_managers: Mapping[str, IOManager]
    resources: Mapping[str, Any]
    partition: str | None
    partition_range: PartitionRange | None
    emit: Emit
    keep_values: bool = False
    previous_schemas: Mapping[tuple[AssetKey, str | None], Any] = field(default_factory=dict)
    """The schema each asset's last materialization recorded, read once when the run starts."""
    add_partitions: Callable[[str, list[str]], list[str]] | None = None

    def io_for(self, definition: AssetDefinition) -> IOManager:
        try:
            return self.io_managers[definition.io_manager]
        except KeyError:
            raise ExecutionError(
                f"Asset '{definition.key}' uses io_manager='{definition.io_manager}', which is not "
                f"configured. Known: {sorted(self.io_managers)}. Add it to Definitions(resources=...)."
            ) from None

    def partition_of(self, key: AssetKey) -> str | None:
        """The run's partition for partitioned assets; None for the others."""
        definition = self.graph.assets.get(key)
        return self.partition if definition is not None and definition.partitions else None

    def upstream_partition(self, definition: AssetDefinition, dep: AssetDep, upstream: AssetDefinition) -> str | None:
        """The partition (key, range or None for all) of `upstream` that this run reads."""
        if upstream.partitions is None:
            return None
        own = self.partition_of(definition.key)
        mapping = dep.mapping or (IdentityMapping() if own is not None else AllPartitionsMapping())
        return mapping.upstream(own, upstream.partitions)

    def range_of(self, key: AssetKey) -> PartitionRange | None:
        """The range a partitioned asset covers in this run (one partition is a range of one)."""
        if self.partition_of(key) is None:
            return None
        return self.partition_range or PartitionRange(self.partition, self.partition)

    def event(self, type_: EventType, key: AssetKey, message: str | None = None, **data: Any) -> None:
        self.emit(Event(self.run_id, type_, time.time(), step_key=str(key), asset_key=key,
                        partition=self.partition_of(key), message=message, data=data))


def _annotations(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # unresolvable string annotations: keep them as strings
        return dict(getattr(fn, "__annotations__", {}))


def load_inputs(definition: AssetDefinition, env: StepEnv) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    hints = _annotations(definition.fn) if definition.fn else {}
    for dep in definition.deps:
        if dep.parameter is None:
            continue
        upstream = env.graph.assets.get(dep.key)
        if upstream is None:  # an optional dependency that no asset defines: keep the default
            continue
        context = InputContext(dep.key, env.upstream_partition(definition, dep, upstream),
                               hints.get(dep.parameter), metadata=upstream.metadata,
                               partitions=upstream.partitions)
        try:
            kwargs[dep.parameter] = env.io_for(upstream).read(context)
        except IOManagerError:
            if not dep.optional:
                raise
    return kwargs


def _context(definition: AssetDefinition, env: StepEnv, attempt: int) -> AssetContext:
    return AssetContext(env.run_id, definition.key, env.partition_of(definition.key),
                        env.partition_range, env.resources, env.emit, attempt,
                        _add_partitions=env.add_partitions)


def run_python_asset(definition: AssetDefinition, env: StepEnv, first_attempt: int = 1) -> StepOutcome:
    """Run one Python asset; `first_attempt` > 1 when earlier attempts ran elsewhere (a lost worker)."""
    key = definition.key
    outcome = StepOutcome()
    env.event(EventType.STEP_STARTED, key)
    try:
        kwargs = load_inputs(definition, env)
        value, context = _call_with_retries(definition, env, kwargs, first_attempt)
        metadata: dict[str, Any] = {}
        if isinstance(value, AssetResult):
            metadata.update(value.metadata)
            value = value.value
        metadata.update(context._metadata if context else {})
        if value is not None:
            _check_schema_change(definition, value, env)
            stored = env.io_for(definition).write(
                OutputContext(key, env.partition_of(key), env.run_id, definition.metadata,
                              definition.partitions), value
            )
            metadata = {**stored, **metadata}
        env.event(EventType.MATERIALIZATION, key, metadata=metadata,
                  code_version=definition.code_version)
    except Exception as exc:
        env.event(EventType.STEP_FAILED, key, f"{type(exc).__name__}: {exc}",
                  error=_error(exc))
        outcome.statuses[key] = FAILED
        outcome.causes[key] = f"'{key}' failed: {type(exc).__name__}: {exc}"
        return outcome
    outcome.statuses[key] = SUCCEEDED
    if env.keep_values:
        outcome.values[key] = value
    for check in env.graph.checks_for(key):
        if check.kind == definition.kind and check.fn is not None:
            passed = run_check(check, value, env)
            if check.blocking and not passed:
                outcome.blocked[key] = f"blocking check '{check.name}' on '{key}' failed"
    env.event(EventType.STEP_SUCCEEDED, key)
    return outcome


def _check_schema_change(definition: AssetDefinition, value: Any, env: StepEnv) -> None:
    if definition.schema_change == "ignore":
        return
    from orchestrator.io.parquet import as_arrow, schema_metadata  # pyarrow only once values flow

    previous = env.previous_schemas.get((definition.key, env.partition_of(definition.key)))
    table = as_arrow(value)
    if previous is None or table is None:
        return
    change = describe_change(previous, schema_metadata(table.schema))
    if change is None:
        return
    if definition.schema_change == "block":
        raise ExecutionError(
            f"The schema of '{definition.key}' changed since its last materialization ({change}) and "
            "the asset blocks schema changes (schema_change='block'); nothing was written."
        )
    env.event(EventType.LOG, definition.key, f"schema changed: {change}", level="warning",
              schema_change=change)


def _call_with_retries(
    definition: AssetDefinition, env: StepEnv, kwargs: dict[str, Any], first_attempt: int = 1
) -> tuple[Any, AssetContext | None]:
    attempts = definition.retry.attempts
    for attempt in range(min(first_attempt, attempts), attempts + 1):
        context = _context(definition, env, attempt) if definition.uses_context else None
        call_kwargs = {**kwargs, "context": context} if context else dict(kwargs)
        if definition.range_parameter:
            call_kwargs[definition.range_parameter] = env.range_of(definition.key)
        for name in definition.resource_parameters:
            call_kwargs[name] = env.resources[name]
        try:
            return definition.fn(**call_kwargs), context
        except Exception as exc:
            if attempt == attempts:
                raise
            delay = definition.retry.delay(attempt)
            env.event(EventType.STEP_RETRY, definition.key,
                      f"attempt {attempt}/{attempts} failed: {type(exc).__name__}: {exc}; "
                      f"retrying in {delay:.1f}s", error=_error(exc), attempt=attempt)
            time.sleep(delay)
    raise AssertionError("unreachable")


def run_check(check: AssetCheckDefinition, value: Any, env: StepEnv) -> bool:
    kwargs: dict[str, Any] = {}
    if check.parameter:
        kwargs[check.parameter] = value
    if check.uses_context:
        kwargs["context"] = AssetContext(env.run_id, check.asset, env.partition_of(check.asset),
                                         env.partition_range,
                                         env.resources, env.emit)
    data: dict[str, Any] = {"check": check.name, "blocking": check.blocking}
    try:
        result = check.fn(**kwargs)
        if isinstance(result, CheckResult):
            passed = result.passed
            data.update(metadata=dict(result.metadata), description=result.description)
        else:
            passed = bool(result)
    except Exception as exc:
        passed = False
        data["error"] = _error(exc)
    data["passed"] = passed
    env.event(EventType.CHECK_RESULT, check.asset, None if passed else f"check '{check.name}' failed",
              **data)
    return passed


def _error(exc: BaseException) -> dict[str, str]:
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }
