"""Schedules ticked with an injected clock: each tick once, catch-up, stop/start, partitions, DST."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator import (
    DailyPartitions, Definitions, RunStatus, ScheduleDefinition, asset, define_job,
)
from orchestrator.automation.cron import CronError
from orchestrator.automation.ticking import set_trigger_status, tick_schedule, tick_schedule_at
from orchestrator.errors import DefinitionError
from orchestrator.storage import EventStore
from orchestrator.storage.triggers import Tick, TickStatus

UTC = dt.timezone.utc


def ts(*parts: int) -> float:
    return dt.datetime(*parts, tzinfo=UTC).timestamp()


@asset
def orders():
    return [1, 2]


@asset(partitions=DailyPartitions("2024-11-01"))
def daily(context):
    return context.partition_key


every_minute = ScheduleDefinition(job=define_job("orders_job", "orders"), cron="* * * * *",
                                  default_status="running")
nightly = ScheduleDefinition(job=define_job("daily_job", "daily"), cron="0 2 * * *", timezone="Europe/Berlin",
                             default_status="running")
DEFS = Definitions(assets=[orders, daily], schedules=[every_minute, nightly])


def test_a_schedule_counts_its_ticks_from_when_it_first_runs(store: EventStore) -> None:
    start = ts(2024, 12, 1, 10, 0, 30)
    assert tick_schedule(DEFS, store, every_minute, start) == []  # nothing replayed
    ticks = tick_schedule(DEFS, store, every_minute, start + 180)
    assert [dt.datetime.fromtimestamp(t.tick_at, UTC).strftime("%H:%M") for t in ticks] == ["10:01", "10:02", "10:03"]
    runs = store.list_runs()
    assert len(runs) == 3 and {r.status for r in runs} == {RunStatus.QUEUED}
    assert {r.launched_by for r in runs} == {"schedule"}
    assert {r.tags["schedule"] for r in runs} == {"orders_job_schedule"}
    assert sorted(t.run_ids[0] for t in ticks) == sorted(r.run_id for r in runs)


def test_a_tick_runs_once_however_often_and_by_however_many_daemons_it_is_evaluated(store: EventStore) -> None:
    start = ts(2024, 12, 1, 10, 0, 30)
    tick_schedule(DEFS, store, every_minute, start)
    assert len(tick_schedule(DEFS, store, every_minute, start + 60)) == 1
    assert tick_schedule(DEFS, store, every_minute, start + 60) == []
    assert tick_schedule(DEFS, store, every_minute, start + 65) == []
    again = Tick(every_minute.name, "schedule", ts(2024, 12, 1, 10, 1), TickStatus.SUCCEEDED, start)
    assert store.triggers.commit_tick(again) is None  # the (schedule, instant) is taken
    assert len(store.list_runs()) == 1


def test_ticks_missed_beyond_the_catch_up_window_are_recorded_not_run(store: EventStore) -> None:
    hourly = ScheduleDefinition(job="orders_job", cron="0 * * * *", name="hourly", default_status="running")
    defs = Definitions(assets=[orders], jobs=[every_minute.job], schedules=[hourly])
    tick_schedule(defs, store, hourly, ts(2024, 12, 1, 6, 30))
    # the daemon was down from 06:30 to 10:20: the 10:00 tick is within the hour, 07:00-09:00 are not
    ticks = tick_schedule(defs, store, hourly, ts(2024, 12, 1, 10, 20), catchup=dt.timedelta(hours=1))
    assert [(t.status, t.run_ids != ()) for t in ticks] == [(TickStatus.SKIPPED, False), (TickStatus.SUCCEEDED, True)]
    assert "3 tick(s) were due while no daemon ran" in ticks[0].skip_reason
    assert len(store.list_runs()) == 1


def test_a_stopped_schedule_does_not_tick_and_does_not_replay_its_pause_when_started(store: EventStore) -> None:
    paused = ScheduleDefinition(job="orders_job", cron="* * * * *", name="paused")
    defs = Definitions(assets=[orders], jobs=[every_minute.job], schedules=[paused])
    tick_schedule(defs, store, paused, ts(2024, 12, 1, 10))
    assert tick_schedule(defs, store, paused, ts(2024, 12, 1, 10, 30)) == []
    # no daemon ran from 10:30 to 11:00; `orch schedules start` at 11:00 does not replay that pause
    set_trigger_status(store, "paused", "schedule", "running", ts(2024, 12, 1, 11))
    assert tick_schedule(defs, store, paused, ts(2024, 12, 1, 11, 0, 30)) == []
    assert len(tick_schedule(defs, store, paused, ts(2024, 12, 1, 11, 2, 1))) == 2
    assert store.triggers.states()["paused"].status == "running"


def test_a_partitioned_jobs_tick_requests_the_partition_the_tick_closes(store: EventStore) -> None:
    tick = tick_schedule_at(DEFS, store, nightly, dt.datetime(2024, 12, 1, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    run = store.get_run(tick.run_ids[0])
    assert run.partition == "2024-11-30"  # 02:00 in Berlin is 01:00 UTC: the 30th is the last complete day
    assert tick_schedule_at(DEFS, store, nightly, dt.datetime(2024, 12, 1, 1, 30, tzinfo=UTC)) is None  # same tick


def test_a_schedule_fires_once_on_the_day_daylight_saving_time_skips_its_hour(store: EventStore) -> None:
    early = ScheduleDefinition(job="orders_job", cron="30 2 * * *", timezone="Europe/Berlin", name="early",
                               default_status="running")
    defs = Definitions(assets=[orders], jobs=[every_minute.job], schedules=[early])
    tick_schedule(defs, store, early, ts(2024, 3, 30, 23))
    ticks = []
    for minute in range(0, 240, 7):  # the daemon ticks through the night, clock jump included
        ticks += tick_schedule(defs, store, early, ts(2024, 3, 30, 23) + 60 * minute)
    assert [dt.datetime.fromtimestamp(t.tick_at, UTC).isoformat() for t in ticks] == ["2024-03-31T01:00:00+00:00"]


def test_bad_schedules_are_errors_that_say_what_is_wrong() -> None:
    with pytest.raises(CronError, match="the hour field has 25"):
        ScheduleDefinition(job="orders_job", cron="0 25 * * *")
    with pytest.raises(DefinitionError, match="names job 'order_job', which is not defined. Did you mean 'orders_job'"):
        Definitions(assets=[orders], jobs=[every_minute.job],
                    schedules=[ScheduleDefinition(job="order_job", cron="@daily")])
    with pytest.raises(DefinitionError, match="Two schedules are named 'x'"):
        Definitions(schedules=[ScheduleDefinition(job=every_minute.job, cron="@daily", name="x"),
                               ScheduleDefinition(job=every_minute.job, cron="@hourly", name="x")])
