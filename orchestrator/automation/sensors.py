"""Sensors: functions the daemon calls every `interval_seconds` that return RunRequests or a SkipReason.

- `@sensor(job=...)`: any check (a new file, an API); `context.cursor` persists between ticks and a
  `RunRequest(run_key=...)` already requested by the sensor is not requested again.
- `@asset_sensor(assets=[...], job=...)`: called with the new materializations of those assets.
- `@run_status_sensor(status=...)`: called once per run that ended with the status (alerts).
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.automation.jobs import JobDefinition
from orchestrator.automation.schedules import RUNNING, STOPPED
from orchestrator.errors import DefinitionError
from orchestrator.keys import AssetKey
from orchestrator.storage.events import Event, RunRecord, RunStatus

SENSOR, ASSET_SENSOR, RUN_STATUS_SENSOR = "sensor", "asset_sensor", "run_status_sensor"


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Ask for a run of the sensor's job (or of `selection`), optionally of one partition.

    `run_key` de-duplicates: a key the sensor requested before is not run again."""

    run_key: str | None = None
    selection: str | None = None
    partition: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    job: JobDefinition | str | None = None


@dataclass(frozen=True, slots=True)
class SkipReason:
    message: str = ""


@dataclass
class SensorContext:
    """What a sensor function sees. Assign `cursor` (a string) to keep state for the next tick."""

    sensor_name: str
    cursor: str | None
    now: dt.datetime
    last_tick_at: dt.datetime | None = None
    events: Sequence[Event] = ()
    """asset sensors: the new materializations of the watched assets, oldest first."""
    run: RunRecord | None = None
    """run status sensors: the run that ended."""
    store: Any = None
    """The event store (read it; do not write runs to it: return RunRequests)."""

    def update_cursor(self, cursor: str | None) -> None:
        self.cursor = cursor


@dataclass(frozen=True)
class SensorDefinition:
    name: str
    fn: Callable[..., Any]
    job: JobDefinition | str | None = None
    interval_seconds: float = 30.0
    default_status: str = STOPPED
    timeout_seconds: float = 60.0
    type: str = SENSOR
    assets: tuple[AssetKey, ...] = ()
    statuses: tuple[RunStatus, ...] = ()
    description: str | None = None

    def __post_init__(self) -> None:
        if self.interval_seconds <= 0:
            raise DefinitionError(f"Sensor '{self.name}': interval_seconds must be > 0.")
        if self.default_status not in (RUNNING, STOPPED):
            raise DefinitionError(f"Sensor '{self.name}': default_status is '{self.default_status}'; "
                                  f"use '{RUNNING}' or '{STOPPED}'.")

    @property
    def job_name(self) -> str | None:
        return self.job if isinstance(self.job, str) or self.job is None else self.job.name

    def __call__(self, context: SensorContext) -> Any:
        return self.fn(context) if _takes_argument(self.fn) else self.fn()


def _takes_argument(fn: Callable[..., Any]) -> bool:
    try:
        return bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return True


def _decorate(kind: str, fn: Callable[..., Any] | None, **options: Any) -> Any:
    def build(func: Callable[..., Any]) -> SensorDefinition:
        name = options.pop("name", None) or func.__name__
        return SensorDefinition(name=name, fn=func, type=kind,
                                description=options.pop("description", None) or inspect.getdoc(func),
                                **options)

    return build(fn) if fn is not None else build


def sensor(fn: Callable[..., Any] | None = None, *, job: JobDefinition | str | None = None,
           name: str | None = None, interval_seconds: float = 30.0, default_status: str = STOPPED,
           timeout_seconds: float = 60.0, description: str | None = None) -> Any:
    """A sensor: `fn(context)` returns a RunRequest, a list of them, a SkipReason or None."""
    return _decorate(SENSOR, fn, job=job, name=name, interval_seconds=interval_seconds,
                     default_status=default_status, timeout_seconds=timeout_seconds, description=description)


def asset_sensor(fn: Callable[..., Any] | None = None, *, assets: Iterable[str | AssetKey | Any],
                 job: JobDefinition | str | None = None, name: str | None = None,
                 interval_seconds: float = 30.0, default_status: str = STOPPED,
                 timeout_seconds: float = 60.0, description: str | None = None) -> Any:
    """Called when the watched assets have new materializations (`context.events`); returning None
    requests nothing."""
    keys = tuple(a.key if hasattr(a, "key") else AssetKey.coerce(a) for a in assets)
    if not keys:
        raise DefinitionError("asset_sensor(assets=...) needs at least one asset to watch.")
    return _decorate(ASSET_SENSOR, fn, job=job, name=name, interval_seconds=interval_seconds,
                     default_status=default_status, timeout_seconds=timeout_seconds, assets=keys,
                     description=description)


def run_status_sensor(fn: Callable[..., Any] | None = None, *,
                      status: RunStatus | str | Iterable[RunStatus | str] = RunStatus.FAILED,
                      job: JobDefinition | str | None = None, name: str | None = None,
                      interval_seconds: float = 30.0, default_status: str = STOPPED,
                      timeout_seconds: float = 60.0, description: str | None = None) -> Any:
    """Called once per run that ended with `status` (`context.run`), e.g. to send an alert."""
    raw = [status] if isinstance(status, (str, RunStatus)) else list(status)
    statuses = tuple(RunStatus(s) for s in raw)
    if not all(s.terminal for s in statuses):
        raise DefinitionError("run_status_sensor(status=...) watches ended runs: succeeded, failed or canceled.")
    return _decorate(RUN_STATUS_SENSOR, fn, job=job, name=name, interval_seconds=interval_seconds,
                     default_status=default_status, timeout_seconds=timeout_seconds, statuses=statuses,
                     description=description)


def requests_from(result: Any, sensor_name: str) -> tuple[list[RunRequest], str | None]:
    """What a sensor returned, as (run requests, skip reason)."""
    if result is None:
        return [], None
    if isinstance(result, SkipReason):
        return [], result.message or "skipped"
    if isinstance(result, RunRequest):
        return [result], None
    if isinstance(result, Iterable) and not isinstance(result, (str, bytes, Mapping)):
        requests, skip = [], None
        for item in result:
            if isinstance(item, RunRequest):
                requests.append(item)
            elif isinstance(item, SkipReason):
                skip = item.message or "skipped"
            else:
                raise DefinitionError(f"Sensor '{sensor_name}' yielded a {type(item).__name__}; "
                                      "yield RunRequest(...) or SkipReason(...).")
        return requests, (skip if not requests else None)
    raise DefinitionError(f"Sensor '{sensor_name}' returned a {type(result).__name__}; return "
                          "RunRequest(...), a list of them, SkipReason(...) or None.")
