"""Cron schedules in a timezone, DST handled. Pure: every answer is a function of the instant asked about.

Five fields (minute hour day-of-month month day-of-week) with `*`, lists, ranges, steps and names
(`jan`, `mon`), or one of `@hourly @daily @midnight @weekly @monthly @yearly @annually`. As in cron,
when both day fields are restricted a day matching either runs.

Daylight saving time: a local time that does not exist (the hour skipped in spring) runs at the
first instant after the gap; a local time that happens twice (the hour repeated in autumn) runs
once, at its first occurrence, unless the hour field is `*`, which runs every real hour.

>>> cron = CronSchedule("0 2 * * *", "Europe/Berlin")
>>> cron.next_after(dt.datetime(2024, 3, 30, 12, tzinfo=dt.timezone.utc)).isoformat()
'2024-03-31T03:00:00+02:00'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrator.errors import DefinitionError

ALIASES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
           "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6))
_NAMES = {
    3: {n: i + 1 for i, n in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    4: {n: i for i, n in enumerate("sun mon tue wed thu fri sat".split())},
}
_MAX_YEARS = 8  # no match within 8 years (e.g. 30 February): the expression never fires


class CronError(DefinitionError):
    pass


def _value(text: str, index: int, expression: str) -> int:
    name, low, high = FIELDS[index]
    lowered = text.lower()
    if lowered in _NAMES.get(index, {}):
        return _NAMES[index][lowered]
    try:
        value = int(text)
    except ValueError:
        raise CronError(f"Cron '{expression}': the {name} field has '{text}', which is not a number"
                        f"{' or a name' if index in _NAMES else ''}.") from None
    if index == 4 and value == 7:  # Sunday is 0 or 7
        return 0
    if not low <= value <= high:
        raise CronError(f"Cron '{expression}': the {name} field has {value}, outside {low}-{high}.")
    return value


def _parse_field(text: str, index: int, expression: str) -> frozenset[int]:
    name, low, high = FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"Cron '{expression}': the {name} field has an empty list item.")
        spec, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"Cron '{expression}': the {name} field has step '{step_text}'; "
                                "a step is a whole number from 1.")
            step = int(step_text)
        if spec == "*":
            first, last = low, high
        elif "-" in spec:
            a, _, b = spec.partition("-")
            first, last = _value(a, index, expression), _value(b, index, expression)
            if index == 4 and b == "7":
                last = 6 if first > 0 else 0
                values.add(0)
            if first > last:
                raise CronError(f"Cron '{expression}': the {name} field has range '{spec}', which runs backwards.")
        else:
            first = _value(spec, index, expression)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    timezone: str = "UTC"
    _fields: tuple[frozenset[int], ...] = field(init=False, repr=False, compare=False)
    _restricted: tuple[bool, ...] = field(init=False, repr=False, compare=False)
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = ALIASES.get(self.expression.strip().lower(), self.expression.strip())
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"Cron '{self.expression}' has {len(parts)} fields; write five "
                            "(minute hour day-of-month month day-of-week) or an alias like @daily.")
        object.__setattr__(self, "_fields", tuple(_parse_field(p, i, self.expression) for i, p in enumerate(parts)))
        object.__setattr__(self, "_restricted", tuple(p != "*" for p in parts))
        try:
            object.__setattr__(self, "_tz", ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise CronError(f"Unknown timezone '{self.timezone}' for cron '{self.expression}' "
                            "(use an IANA name such as 'Europe/Berlin' or 'UTC').") from None

    def describe(self) -> str:
        return f"{self.expression} ({self.timezone})"

    def _day_matches(self, day: dt.date) -> bool:
        _, _, dom, month, dow = self._fields
        if day.month not in month:
            return False
        dom_ok, dow_ok = day.day in dom, (day.isoweekday() % 7) in dow
        restricted_dom, restricted_dow = self._restricted[2], self._restricted[4]
        if restricted_dom and restricted_dow:
            return dom_ok or dow_ok
        return dom_ok and dow_ok

    def _instants_on(self, day: dt.date) -> list[dt.datetime]:
        """The UTC instants this schedule fires on a local day, in order, without repeats."""
        minutes, hours = self._fields[0], self._fields[1]
        every_hour = not self._restricted[1]
        found: set[dt.datetime] = set()
        for hour in sorted(hours):
            for minute in sorted(minutes):
                local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self._tz)
                utc = local.astimezone(dt.timezone.utc)
                if utc.astimezone(self._tz).replace(tzinfo=None) != local.replace(tzinfo=None):
                    utc = _after_gap(local, self._tz)  # a time the clock skipped
                found.add(utc)
                if every_hour:  # a repeated hour runs again when every hour is asked for
                    second = local.replace(fold=1).astimezone(dt.timezone.utc)
                    found.add(second)
        return sorted(found)

    def ticks(self, after: dt.datetime) -> Iterator[dt.datetime]:
        """The instants (aware, UTC) after `after`, in order, forever."""
        after_utc = _aware(after).astimezone(dt.timezone.utc)
        day = after_utc.astimezone(self._tz).date() - dt.timedelta(days=1)
        last_day = day + dt.timedelta(days=366 * _MAX_YEARS)
        while day <= last_day:
            if self._day_matches(day):
                for instant in self._instants_on(day):
                    if instant > after_utc:
                        yield instant
                        last_day = day + dt.timedelta(days=366 * _MAX_YEARS)
            day += dt.timedelta(days=1)

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first instant strictly after `moment`, in the schedule's timezone."""
        for instant in self.ticks(moment):
            return instant.astimezone(self._tz)
        raise CronError(f"Cron '{self.expression}' never fires (no matching date within {_MAX_YEARS} years).")

    def between(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        """Instants in (start, end], in the schedule's timezone."""
        end_utc = _aware(end).astimezone(dt.timezone.utc)
        found = []
        for instant in self.ticks(start):
            if instant > end_utc:
                break
            found.append(instant.astimezone(self._tz))
        return found

    def latest_at_or_before(self, moment: dt.datetime) -> dt.datetime | None:
        """The newest instant at or before `moment`, or None (within the last 8 years)."""
        moment_utc = _aware(moment).astimezone(dt.timezone.utc)
        day = moment_utc.astimezone(self._tz).date() + dt.timedelta(days=1)
        for _ in range(366 * _MAX_YEARS):
            if self._day_matches(day):
                earlier = [i for i in self._instants_on(day) if i <= moment_utc]
                if earlier:
                    return earlier[-1].astimezone(self._tz)
            day -= dt.timedelta(days=1)
        return None


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def _after_gap(local: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The first real instant after the gap that swallowed the local time `local`."""
    before = local.replace(fold=0).astimezone(dt.timezone.utc)  # uses the offset before the gap
    after = local.replace(fold=1).astimezone(dt.timezone.utc)  # uses the offset after it
    earliest = min(before, after)
    # the gap starts at the last local minute that exists; the first instant after it is the
    # transition itself: walk the UTC minutes forward to the first whose local wall time is past `local`
    moment = earliest.replace(second=0, microsecond=0)
    naive = local.replace(tzinfo=None)
    while moment.astimezone(tz).replace(tzinfo=None) < naive:
        moment += dt.timedelta(minutes=1)
    return moment
