"""FreshnessPolicy: how old an asset's data may get. Pure: a verdict is a function of the last
materialization time and the clock.

- `FreshnessPolicy(max_lag="6h")`: fails when the last materialization is older than 6 hours;
  `warn_lag="4h"` warns before that.
- `FreshnessPolicy(max_lag="1h", cron="0 9 * * *")`: at each 09:00 tick the asset must have been
  materialized within the hour before it; it fails from the tick on until it is.

dbt models carry one in `meta.freshness` (`{max_lag: 6h, warn_lag: 4h, cron: ...}` or dbt's own
`{warn_after: {count: 4, period: hour}, error_after: {count: 6, period: hour}}`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.automation.cron import CronSchedule
from orchestrator.errors import DefinitionError

PASS, WARN, FAIL = "pass", "warn", "fail"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PERIODS = {"minute": 60, "hour": 3600, "day": 86400}


def parse_duration(value: str | int | float | dt.timedelta, what: str = "duration") -> dt.timedelta:
    """`"6h"`, `"90m"`, `"1d12h"`, `"45s"`, seconds as a number, or a timedelta.

    >>> parse_duration("1d6h")
    datetime.timedelta(days=1, seconds=21600)
    """
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, (int, float)):
        return dt.timedelta(seconds=float(value))
    text = str(value).strip().lower().replace(" ", "")
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise DefinitionError(f"Cannot read {what} '{value}': write e.g. '6h', '30m', '1d12h' or seconds.")
    return dt.timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def _human(seconds: float) -> str:
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            rest = seconds % size
            return f"{seconds // size}{unit}" + (_human(rest) if rest >= 60 else "")
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class FreshnessVerdict:
    state: str  # pass | warn | fail
    lag_seconds: float | None
    message: str


@dataclass(frozen=True)
class FreshnessPolicy:
    max_lag: Any = "1d"
    cron: str | None = None
    timezone: str = "UTC"
    warn_lag: Any = None
    _max: dt.timedelta = field(init=False, repr=False, compare=False)
    _warn: dt.timedelta | None = field(init=False, repr=False, compare=False)
    _schedule: CronSchedule | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_max", parse_duration(self.max_lag, "max_lag"))
        warn = parse_duration(self.warn_lag, "warn_lag") if self.warn_lag is not None else None
        if warn is not None and warn >= self._max:
            raise DefinitionError(f"FreshnessPolicy: warn_lag ({self.warn_lag}) must be less than max_lag "
                                  f"({self.max_lag}).")
        object.__setattr__(self, "_warn", warn)
        object.__setattr__(self, "_schedule", CronSchedule(self.cron, self.timezone) if self.cron else None)

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> FreshnessPolicy:
        """From dbt's `meta.freshness`: our keys, or dbt's warn_after / error_after."""
        if "error_after" in spec or "warn_after" in spec:
            error, warn = spec.get("error_after"), spec.get("warn_after")
            if not error and not warn:
                raise DefinitionError(f"freshness {dict(spec)}: give error_after or warn_after.")
            lag = _dbt_period(error or warn)
            return cls(max_lag=lag, warn_lag=_dbt_period(warn) if error and warn else None,
                       cron=spec.get("cron"), timezone=spec.get("timezone", "UTC"))
        known = {"max_lag", "cron", "timezone", "warn_lag"}
        unknown = set(spec) - known
        if unknown or "max_lag" not in spec:
            raise DefinitionError(f"freshness {dict(spec)}: expected max_lag (and optional warn_lag, cron, "
                                  f"timezone){'; unknown: ' + ', '.join(sorted(unknown)) if unknown else ''}.")
        return cls(**{k: spec[k] for k in known if k in spec})

    def describe(self) -> str:
        text = f"materialized within {_human(self._max.total_seconds())}"
        if self._schedule is not None:
            text += f" before each tick of {self._schedule.describe()}"
        return text

    def evaluate(self, last_materialized: float | None, now: float) -> FreshnessVerdict:
        if self._schedule is not None:
            return self._evaluate_cron(last_materialized, now)
        if last_materialized is None:
            return FreshnessVerdict(FAIL, None, "never materialized")
        lag = max(0.0, now - last_materialized)
        if lag > self._max.total_seconds():
            return FreshnessVerdict(FAIL, lag, f"last materialized {_human(lag)} ago, more than the allowed "
                                               f"{_human(self._max.total_seconds())}")
        if self._warn is not None and lag > self._warn.total_seconds():
            return FreshnessVerdict(WARN, lag, f"last materialized {_human(lag)} ago (warns after "
                                               f"{_human(self._warn.total_seconds())})")
        return FreshnessVerdict(PASS, lag, f"last materialized {_human(lag)} ago")

    def _evaluate_cron(self, last: float | None, now: float) -> FreshnessVerdict:
        assert self._schedule is not None
        tick = self._schedule.latest_at_or_before(dt.datetime.fromtimestamp(now, dt.timezone.utc))
        if tick is None:
            return FreshnessVerdict(PASS, None, "no deadline has passed yet")
        deadline = tick.timestamp() - self._max.total_seconds()
        if last is None:
            return FreshnessVerdict(FAIL, None, f"never materialized (due by {tick.isoformat()})")
        if last < deadline:
            return FreshnessVerdict(FAIL, now - last, f"not materialized within {_human(self._max.total_seconds())} "
                                                      f"before the tick at {tick.isoformat()}")
        return FreshnessVerdict(PASS, now - last, f"materialized in time for the tick at {tick.isoformat()}")


def _dbt_period(spec: Mapping[str, Any] | None) -> dt.timedelta:
    if not spec:
        raise DefinitionError("freshness: warn_after / error_after need {count: N, period: minute|hour|day}.")
    period = str(spec.get("period", "")).lower()
    if period not in _PERIODS or "count" not in spec:
        raise DefinitionError(f"freshness: {dict(spec)} needs count and period (minute, hour or day).")
    return dt.timedelta(seconds=float(spec["count"]) * _PERIODS[period])
