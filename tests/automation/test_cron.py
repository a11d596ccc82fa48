"""Cron schedules: fields, names, steps, aliases, timezones and daylight saving time."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.automation.cron import CronError, CronSchedule

UTC = dt.timezone.utc


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def iso(moments: list[dt.datetime]) -> list[str]:
    return [m.isoformat() for m in moments]


@pytest.mark.parametrize("expression, message", [
    ("* * *", "has 3 fields"),
    ("61 * * * *", "the minute field has 61, outside 0-59"),
    ("* 24 * * *", "the hour field has 24, outside 0-23"),
    ("* * 0 * *", "the day of month field has 0, outside 1-31"),
    ("* * * foo *", "the month field has 'foo', which is not a number or a name"),
    ("*/0 * * * *", "the minute field has step '0'"),
    ("* * * * 5-2", "the day of week field has range '5-2', which runs backwards"),
    ("1,,2 * * * *", "the minute field has an empty list item"),
])
def test_a_cron_that_does_not_parse_names_the_field(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CronSchedule(expression)


def test_an_unknown_timezone_is_an_error() -> None:
    with pytest.raises(CronError, match="Unknown timezone 'Mars/Olympus'"):
        CronSchedule("0 2 * * *", "Mars/Olympus")


def test_steps_lists_ranges_names_and_aliases() -> None:
    assert iso(CronSchedule("*/20 9-10 * * mon-fri").between(at(2024, 12, 6, 8), at(2024, 12, 9, 11))) == [
        "2024-12-06T09:00:00+00:00", "2024-12-06T09:20:00+00:00", "2024-12-06T09:40:00+00:00",
        "2024-12-06T10:00:00+00:00", "2024-12-06T10:20:00+00:00", "2024-12-06T10:40:00+00:00",
        "2024-12-09T09:00:00+00:00", "2024-12-09T09:20:00+00:00", "2024-12-09T09:40:00+00:00",
        "2024-12-09T10:00:00+00:00", "2024-12-09T10:20:00+00:00", "2024-12-09T10:40:00+00:00",
    ]
    assert CronSchedule("@weekly").next_after(at(2024, 1, 1)).isoformat() == "2024-01-07T00:00:00+00:00"
    assert CronSchedule("0 0 * * 7").next_after(at(2024, 1, 1)) == CronSchedule("0 0 * * sun").next_after(at(2024, 1, 1))
    # both day fields restricted: either matches, as in cron
    assert iso(CronSchedule("0 0 13 * fri").between(at(2024, 9, 1), at(2024, 9, 14))) == [
        "2024-09-06T00:00:00+00:00", "2024-09-13T00:00:00+00:00"]


def test_next_tick_is_strictly_after_and_in_the_schedules_timezone() -> None:
    cron = CronSchedule("0 2 * * *", "Europe/Berlin")
    assert cron.next_after(at(2024, 12, 1, 1, 0)).isoformat() == "2024-12-02T02:00:00+01:00"
    assert cron.next_after(at(2024, 12, 1, 0, 59)).isoformat() == "2024-12-01T02:00:00+01:00"
    assert cron.latest_at_or_before(at(2024, 12, 1, 1, 0)).isoformat() == "2024-12-01T02:00:00+01:00"
    assert cron.latest_at_or_before(at(2024, 12, 1, 0, 59)).isoformat() == "2024-11-30T02:00:00+01:00"


def test_a_time_the_clock_skips_runs_once_right_after_the_gap() -> None:
    # 2024-03-31: Berlin jumps from 02:00 to 03:00
    daily = CronSchedule("30 2 * * *", "Europe/Berlin")
    assert iso(daily.between(at(2024, 3, 29, 12), at(2024, 4, 1, 12))) == [
        "2024-03-30T02:30:00+01:00", "2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"]
    quarter = CronSchedule("*/15 2 * * *", "Europe/Berlin")  # four skipped times: one run
    assert iso(quarter.between(at(2024, 3, 30, 22), at(2024, 3, 31, 6))) == ["2024-03-31T03:00:00+02:00"]


def test_a_repeated_hour_runs_fixed_times_once_and_every_hour_twice() -> None:
    # 2024-10-27: Berlin goes back from 03:00 to 02:00
    daily = CronSchedule("30 2 * * *", "Europe/Berlin")
    assert iso(daily.between(at(2024, 10, 26, 12), at(2024, 10, 27, 12))) == ["2024-10-27T02:30:00+02:00"]
    hourly = CronSchedule("0 * * * *", "Europe/Berlin")
    assert iso(hourly.between(at(2024, 10, 26, 23, 30), at(2024, 10, 27, 2, 30))) == [
        "2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00"]


def test_an_expression_that_never_fires_says_so() -> None:
    with pytest.raises(CronError, match="never fires"):
        CronSchedule("0 0 30 2 *").next_after(at(2024, 1, 1))
    assert CronSchedule("0 0 29 2 *").next_after(at(2025, 3, 1)).isoformat() == "2028-02-29T00:00:00+00:00"
