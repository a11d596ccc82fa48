"""Partitions: static key lists and time windows, and ranges of their keys."""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from orchestrator.errors import PartitionError, did_you_mean


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """An inclusive range of partition keys, as a step that runs a range sees it."""

    start: str
    end: str

    def __str__(self) -> str:
        return self.start if self.start == self.end else f"{self.start}...{self.end}"


@dataclass(frozen=True, slots=True)
class BackfillPolicy:
    """How a backfill splits a range for an asset: one run for the whole range, runs of `size`
    partitions, or one run per partition (`size=1`)."""

    size: int | None = None

    @classmethod
    def single_run(cls) -> BackfillPolicy:
        return cls(None)

    @classmethod
    def chunks(cls, size: int) -> BackfillPolicy:
        if size < 1:
            raise PartitionError(f"A backfill chunk holds at least one partition, not {size}.")
        return cls(size)

    @classmethod
    def per_partition(cls) -> BackfillPolicy:
        return cls(1)

    def split(self, keys: Sequence[str]) -> list[list[str]]:
        size = self.size or max(len(keys), 1)
        return [list(keys[i : i + size]) for i in range(0, len(keys), size)]

    def describe(self) -> str:
        return "single run" if self.size is None else "per partition" if self.size == 1 else f"chunks of {self.size}"


class PartitionsDefinition(ABC):
    """The set of partition keys of an asset, in order."""

    @abstractmethod
    def keys(self, now: dt.datetime | None = None) -> list[str]: ...

    def validate(self, key: str, asset: str = "") -> str:
        keys = self.keys()
        if key not in keys:
            where = f" of asset '{asset}'" if asset else ""
            raise PartitionError(
                f"Partition '{key}' is not one of the {len(keys)} partitions{where} "
                f"({self.describe()}).{did_you_mean(key, keys)}"
            )
        return key

    def keys_in_range(self, start: str, end: str) -> list[str]:
        keys = self.keys()
        for k in (start, end):
            self.validate(k)
        i, j = keys.index(start), keys.index(end)
        if i > j:
            raise PartitionError(f"Partition range {start}...{end} runs backwards.")
        return keys[i : j + 1]

    def keys_between(self, start: str, end: str) -> list[str]:
        """The keys from `start` to `end`, both included (a backfill's range)."""
        return self.keys_in_range(start, end)

    @abstractmethod
    def describe(self) -> str: ...


@dataclass(frozen=True)
class StaticPartitions(PartitionsDefinition):
    partition_keys: tuple[str, ...]

    def __init__(self, keys: Sequence[str]) -> None:
        if len(set(keys)) != len(keys):
            raise PartitionError(f"StaticPartitions has duplicate keys: {list(keys)}")
        object.__setattr__(self, "partition_keys", tuple(keys))

    def keys(self, now: dt.datetime | None = None) -> list[str]:
        return list(self.partition_keys)

    def describe(self) -> str:
        return f"static: {', '.join(self.partition_keys[:5])}{', ...' if len(self.partition_keys) > 5 else ''}"


@dataclass(frozen=True)
class DynamicPartitions(PartitionsDefinition):
    """Keys added at run time: `orch partitions add NAME KEY...`, `store.dynamic_partitions.add`, or
    `context.add_dynamic_partitions(NAME, keys)` from an asset. The keys are read from the event
    store when a run or backfill starts."""

    name: str
    loaded: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def keys(self, now: dt.datetime | None = None) -> list[str]:
        return list(self.loaded)

    def load(self, keys: Sequence[str]) -> None:
        object.__setattr__(self, "loaded", tuple(keys))

    def describe(self) -> str:
        return f"dynamic '{self.name}' ({len(self.loaded)} keys)"


@functools.lru_cache(maxsize=64)
def _window_keys(definition: TimeWindowPartitions, limit: dt.datetime) -> tuple[str, ...]:
    """Keys are asked for often (validation, backfills, status): computed once per window."""
    return definition._generate(limit)


_GRAINS = {
    "hourly": ("%Y-%m-%d-%H:00", dt.timedelta(hours=1)),
    "daily": ("%Y-%m-%d", dt.timedelta(days=1)),
    "weekly": ("%Y-%m-%d", dt.timedelta(weeks=1)),
    "monthly": ("%Y-%m-%d", None),
}


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month0 = moment.month - 1 + months
    return moment.replace(year=moment.year + month0 // 12, month=month0 % 12 + 1)


@dataclass(frozen=True)
class MultiPartitions(PartitionsDefinition):
    """Two dimensions, a time window and a static list: keys are `2024-01-01|us`, time-major, so a
    range of dates is a contiguous range of keys."""

    time: TimeWindowPartitions
    static: StaticPartitions
    separator: str = "|"

    def keys(self, now: dt.datetime | None = None) -> list[str]:
        values = self.static.keys()
        return [f"{day}{self.separator}{v}" for day in self.time.keys(now) for v in values]

    def keys_between(self, start: str, end: str) -> list[str]:
        days = self.time.keys_between(start.split(self.separator)[0], end.split(self.separator)[0])
        return [f"{day}{self.separator}{v}" for day in days for v in self.static.keys()]

    def validate(self, key: str, asset: str = "") -> str:
        day, sep, value = key.partition(self.separator)
        if not sep:
            raise PartitionError(f"'{key}' is not a two-dimensional key: write DAY{self.separator}VALUE.")
        day = self.time.validate(day, asset)
        if value not in self.static.partition_keys:
            raise PartitionError(f"'{value}' is not one of {list(self.static.partition_keys)}"
                                 f"{' of asset ' + repr(asset) if asset else ''}.{did_you_mean(value, self.static.keys())}")
        return f"{day}{self.separator}{value}"

    def describe(self) -> str:
        return f"{self.time.describe()} x {self.static.describe()}"


@dataclass(frozen=True)
class TimeWindowPartitions(PartitionsDefinition):
    """Consecutive time windows from `start`; a key names the window's start.

    The last window is the last complete one before now (shifted by `end_offset` windows),
    unless `end` (exclusive) is given.
    """

    start: str
    grain: str = "daily"
    end: str | None = None
    timezone: str = "UTC"
    end_offset: int = 0
    fmt: str | None = None

    def __post_init__(self) -> None:
        if self.grain not in _GRAINS:
            raise PartitionError(f"Unknown grain '{self.grain}'. Use one of {sorted(_GRAINS)}.")
        self.parse(self.start)
        if self.end is not None:
            self.parse(self.end)

    @property
    def key_format(self) -> str:
        return self.fmt or _GRAINS[self.grain][0]

    def parse(self, key: str) -> dt.datetime:
        for fmt in (self.key_format, "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(key, fmt).replace(tzinfo=ZoneInfo(self.timezone))
            except ValueError:
                continue
        raise PartitionError(f"'{key}' is not a {self.grain} partition key (format {self.key_format}).")

    def next_start(self, moment: dt.datetime) -> dt.datetime:
        step = _GRAINS[self.grain][1]
        return _add_months(moment, 1) if step is None else moment + step

    def window(self, key: str) -> tuple[dt.datetime, dt.datetime]:
        start = self.parse(key)
        return start, self.next_start(start)

    def keys(self, now: dt.datetime | None = None) -> list[str]:
        tz = ZoneInfo(self.timezone)
        limit = self.parse(self.end) if self.end else (now or dt.datetime.now(tz)).astimezone(tz)
        return list(_window_keys(self, limit.replace(minute=0, second=0, microsecond=0)))

    def _generate(self, limit: dt.datetime) -> tuple[str, ...]:
        step = _GRAINS[self.grain][1]
        start = self.parse(self.start)
        if self.fmt is None and step is not None and self.timezone == "UTC":
            # Fixed windows in UTC: arithmetic on naive values and C-speed isoformat.
            count = max(0, int((limit - start) // step)) + self.end_offset
            naive = start.replace(tzinfo=None)
            if self.grain == "hourly":
                stamps = ((naive + i * step).isoformat() for i in range(count))
                return tuple(f"{t[:10]}-{t[11:13]}:00" for t in stamps)
            day = naive.date()
            return tuple((day + i * step).isoformat() for i in range(count))
        moment, result = start, []
        while self.next_start(moment) <= limit:
            result.append(moment.strftime(self.key_format))
            moment = self.next_start(moment)
        for _ in range(self.end_offset):
            result.append(moment.strftime(self.key_format))
            moment = self.next_start(moment)
        return tuple(result)

    def keys_between(self, start: str, end: str) -> list[str]:
        """Keys of the windows that start within [start's window, end]: a daily range selects the
        months it touches on a monthly asset."""
        first, last = self.parse(start), self.parse(end)
        if first > last:
            raise PartitionError(f"Partition range {start}...{end} runs backwards.")
        keys = self.keys(now=max(last, first) + (self.next_start(last) - last))
        if self.fmt is None:  # the default key formats sort as the windows do
            return keys[bisect.bisect_left(keys, self.containing(start)):
                        bisect.bisect_right(keys, self.containing(end))]
        return [k for k in keys if self.next_start(self.parse(k)) > first and self.parse(k) <= last]

    def containing(self, key: str) -> str:
        """The key of this asset's window that contains the start of `key` (any grain's key)."""
        moment = self.parse(key[:10]) if len(key) >= 10 else self.parse(key)
        candidate = self.parse(self.start)
        if self.grain == "monthly":
            candidate = moment.replace(day=1, hour=0, minute=0)
        elif self.grain == "daily":
            candidate = moment.replace(hour=0, minute=0)
        elif self.grain == "hourly":
            candidate = moment.replace(minute=0)
        else:
            step = _GRAINS[self.grain][1]
            candidate = candidate + ((moment - candidate) // step) * step
        return candidate.strftime(self.key_format)

    def shift(self, key: str, windows: int) -> str:
        """The key `windows` windows after (negative: before) `key`."""
        moment = self.parse(key)
        step = _GRAINS[self.grain][1]
        if step is None:
            moment = _add_months(moment, windows)
        else:
            moment = moment + windows * step
        return moment.strftime(self.key_format)

    def end_exclusive(self, key: str) -> dt.datetime:
        """Where the window named `key` ends: the start of the next window."""
        return self.next_start(self.parse(key))

    def validate(self, key: str, asset: str = "") -> str:
        moment = self.parse(key)
        canonical = moment.strftime(self.key_format)
        return super().validate(canonical, asset)

    def describe(self) -> str:
        return f"{self.grain} from {self.start}" + (f" to {self.end}" if self.end else "")


def DailyPartitions(start: str, end: str | None = None, **kw: object) -> TimeWindowPartitions:  # noqa: N802
    return TimeWindowPartitions(start=start, grain="daily", end=end, **kw)  # type: ignore[arg-type]


def HourlyPartitions(start: str, end: str | None = None, **kw: object) -> TimeWindowPartitions:  # noqa: N802
    return TimeWindowPartitions(start=start, grain="hourly", end=end, **kw)  # type: ignore[arg-type]


def WeeklyPartitions(start: str, end: str | None = None, **kw: object) -> TimeWindowPartitions:  # noqa: N802
    return TimeWindowPartitions(start=start, grain="weekly", end=end, **kw)  # type: ignore[arg-type]


def MonthlyPartitions(start: str, end: str | None = None, **kw: object) -> TimeWindowPartitions:  # noqa: N802
    return TimeWindowPartitions(start=start, grain="monthly", end=end, **kw)  # type: ignore[arg-type]
