"""Ticking schedules and sensors: evaluate one, turn its answer into queued runs, commit the tick.

Each tick is committed in one transaction with its runs and the trigger's new cursor or watermark
(`TriggerStore.commit_tick`), so a daemon killed mid-tick neither loses nor doubles it: a schedule
tick is unique per (schedule, instant); a sensor tick that never committed is simply evaluated again
from the old cursor, and its run keys keep runs from being requested twice.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.automation.schedules import DEFAULT_CATCHUP, RUNNING, ScheduleDefinition
from orchestrator.automation.sensors import (
    ASSET_SENSOR, RUN_STATUS_SENSOR, RunRequest, SensorContext, SensorDefinition, requests_from,
)
from orchestrator.definitions import Definitions
from orchestrator.errors import DefinitionError, OrchestratorError
from orchestrator.launch.queue import plan_run
from orchestrator.storage.base import EventStore
from orchestrator.storage.triggers import KEEP, RequestedRun, Tick, TickStatus, TriggerState

SCHEDULE, SENSOR = "schedule", "sensor"
_ISO = "%Y-%m-%dT%H:%M:%S%z"


def effective_status(state: TriggerState | None, default: str) -> str:
    return state.status if state is not None and state.status else default


def set_trigger_status(store: EventStore, name: str, type_: str, status: str, now: float) -> TriggerState:
    """Start or stop a schedule or sensor (persisted). Started, its ticks count from `now`: a
    schedule started again does not replay the ticks of its pause."""
    state = store.triggers.set_status(name, type_, status)
    if status == RUNNING:
        store.triggers.set_watermark(name, type_, now)
    return state


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


# -- schedules ------------------------------------------------------------------------------------

def schedule_requests(defs: Definitions, store: EventStore, schedule: ScheduleDefinition,
                      tick: dt.datetime) -> list[RequestedRun]:
    """The runs one tick asks for: one per partition the tick closes (one unpartitioned run else)."""
    job = defs.jobs[schedule.job_name]
    partitions = job.partitions(defs.graph)
    tag_time = tick.isoformat(timespec="seconds")
    requests = []
    for key in schedule.partitions_for(tick, partitions):
        record = plan_run(defs, store, job=job, partition=key, launched_by="schedule",
                          tags={**schedule.tags, "schedule": schedule.name, "tick": tag_time})
        requests.append(RequestedRun(record, f"{tag_time}|{key or ''}"))
    return requests


def run_schedule_tick(defs: Definitions, store: EventStore, schedule: ScheduleDefinition,
                      tick: dt.datetime, watermark: float | None = None) -> Tick | None:
    """Commit the tick at `tick` (once: None when it was committed before)."""
    started = time.time()
    at = tick.timestamp()
    try:
        requests = schedule_requests(defs, store, schedule, tick)
    except OrchestratorError as exc:
        failed = Tick(schedule.name, SCHEDULE, at, TickStatus.FAILED, started, error=str(exc))
        return store.triggers.commit_tick(failed, last_tick_at=watermark)
    status = TickStatus.SUCCEEDED if requests else TickStatus.SKIPPED
    reason = None if requests else "the tick closes no partition of the job yet"
    return store.triggers.commit_tick(Tick(schedule.name, SCHEDULE, at, status, started, skip_reason=reason),
                                      requests, last_tick_at=watermark)


def tick_schedule(defs: Definitions, store: EventStore, schedule: ScheduleDefinition, now: float,
                  catchup: dt.timedelta = DEFAULT_CATCHUP) -> list[Tick]:
    """What the daemon does for a schedule at `now`: the ticks due since its watermark, each once;
    ticks missed beyond the catch-up window are recorded as one skipped tick. No lease is needed:
    a tick is unique per (schedule, instant), so two daemons ticking at once store it once."""
    state = store.triggers.states().get(schedule.name)
    if effective_status(state, schedule.default_status) != RUNNING or state is None or state.last_tick_at is None:
        # stopped, or just started: the watermark follows the clock, so nothing is replayed
        store.triggers.set_watermark(schedule.name, SCHEDULE, now)
        return []
    due, missed = schedule.due_ticks(state.last_tick_at, now, catchup)
    done: list[Tick] = []
    if missed:
        skipped = Tick(schedule.name, SCHEDULE, state.last_tick_at + 1e-6, TickStatus.SKIPPED, time.time(),
                       skip_reason=f"{missed} tick(s) were due while no daemon ran, longer ago than the "
                                   f"catch-up window ({catchup}); they were not run")
        stored = store.triggers.commit_tick(skipped)
        if stored is not None:
            done.append(stored)
    for tick in due:
        stored = run_schedule_tick(defs, store, schedule, tick, watermark=tick.timestamp())
        if stored is not None:
            done.append(stored)
    store.triggers.set_watermark(schedule.name, SCHEDULE, now)
    return done


def tick_schedule_at(defs: Definitions, store: EventStore, schedule: ScheduleDefinition,
                     at: dt.datetime) -> Tick | None:
    """`orch schedules tick NAME --at T`: run the newest tick at or before T, whatever the schedule's
    status; None when that tick was committed before."""
    tick = schedule.schedule.latest_at_or_before(at)
    if tick is None:
        raise DefinitionError(f"Schedule '{schedule.name}' ({schedule.schedule.describe()}) has no tick at "
                              f"or before {at.isoformat()}.")
    return run_schedule_tick(defs, store, schedule, tick)


# -- sensors --------------------------------------------------------------------------------------

@dataclass
class SensorOutcome:
    requests: list[RunRequest] = field(default_factory=list)
    skip_reason: str | None = None
    error: str | None = None
    cursor: Any = KEEP


_HUNG: dict[str, threading.Thread] = {}  # sensor name -> its evaluation that outlived its timeout


def call_with_timeout(fn: Callable[[], Any], timeout: float, name: str) -> Any:
    """Run `fn` in a thread; raise TimeoutError after `timeout` seconds (the thread is abandoned, and
    the sensor is not called again while that thread still runs: hung calls do not pile up)."""
    hung = _HUNG.get(name)
    if hung is not None:
        if hung.is_alive():
            raise TimeoutError(f"sensor '{name}' is still running its evaluation that timed out; "
                               "it is not called again until that one returns")
        del _HUNG[name]
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"orch-sensor-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        _HUNG[name] = thread
        raise TimeoutError(f"sensor '{name}' did not return within {timeout:g} s (timeout_seconds)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _contexts(store: EventStore, sensor: SensorDefinition, state: TriggerState, now: float
              ) -> tuple[list[SensorContext], Any]:
    """The contexts to call the sensor with, and the cursor to keep when there is nothing new."""
    last = _utc(state.last_tick_at) if state.last_tick_at else None
    base = dict(sensor_name=sensor.name, now=_utc(now), last_tick_at=last, store=store)
    if sensor.type == ASSET_SENSOR:
        after = int(state.cursor) if state.cursor else store.max_event_id()
        events = store.asset_events(sensor.assets, after_id=after) if state.cursor else []
        cursor = str(max((e.id or 0 for e in events), default=after))
        return ([SensorContext(cursor=cursor, events=events, **base)] if events else []), cursor
    if sensor.type == RUN_STATUS_SENSOR:
        after = float(state.cursor) if state.cursor else now
        ended = store.queue.ended_since(after, sensor.statuses) if state.cursor else []
        cursor = repr(max((r.ended_at or 0 for r in ended), default=after))
        return [SensorContext(cursor=cursor, run=r, **base) for r in ended], cursor
    return [SensorContext(cursor=state.cursor, **base)], KEEP


def evaluate_sensor(store: EventStore, sensor: SensorDefinition, state: TriggerState, now: float) -> SensorOutcome:
    contexts, idle_cursor = _contexts(store, sensor, state, now)
    if not contexts:
        return SensorOutcome(skip_reason="nothing new since the last tick", cursor=idle_cursor)
    outcome = SensorOutcome(cursor=idle_cursor)
    for context in contexts:
        try:
            result = call_with_timeout(lambda c=context: sensor(c), sensor.timeout_seconds, sensor.name)
            requests, skip = requests_from(result, sensor.name)
        except Exception as exc:
            return SensorOutcome(error=f"{type(exc).__name__}: {exc}\n{_user_frames(exc)}")
        outcome.requests.extend(requests)
        outcome.skip_reason = outcome.skip_reason or skip
        if sensor.type == "sensor":
            outcome.cursor = context.cursor if context.cursor != state.cursor else KEEP
    if outcome.requests:
        outcome.skip_reason = None
    elif outcome.skip_reason is None:
        outcome.skip_reason = "the sensor requested no run"
    return outcome


def _user_frames(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:]).strip()


def sensor_requests(defs: Definitions, store: EventStore, sensor: SensorDefinition,
                    requests: list[RunRequest]) -> list[RequestedRun]:
    found = []
    for request in requests:
        job_name = request.job if isinstance(request.job, str) else request.job.name if request.job else sensor.job_name
        job = defs.jobs.get(job_name) if job_name else None
        if job_name and job is None:
            raise DefinitionError(f"Sensor '{sensor.name}' requested job '{job_name}', which is not defined.")
        if job is None and request.selection is None:
            raise DefinitionError(f"Sensor '{sensor.name}' has no job: its RunRequest must give a selection.")
        record = plan_run(defs, store, job=job, selection=request.selection, partition=request.partition,
                          tags={**request.tags, "sensor": sensor.name}, launched_by="sensor")
        found.append(RequestedRun(record, request.run_key))
    return found


def run_sensor_tick(defs: Definitions, store: EventStore, sensor: SensorDefinition, state: TriggerState,
                    now: float) -> Tick | None:
    started = time.time()
    outcome = evaluate_sensor(store, sensor, state, now)
    requested: list[RequestedRun] = []
    if outcome.error is None and outcome.requests:
        try:
            requested = sensor_requests(defs, store, sensor, outcome.requests)
        except OrchestratorError as exc:
            outcome = SensorOutcome(error=str(exc))
    if outcome.error is not None:
        status = TickStatus.FAILED
    else:
        status = TickStatus.SUCCEEDED if requested else TickStatus.SKIPPED
    tick = Tick(sensor.name, SENSOR, now, status, started, skip_reason=outcome.skip_reason, error=outcome.error,
                cursor=None if outcome.cursor is KEEP else outcome.cursor)
    return store.triggers.commit_tick(tick, requested, cursor=outcome.cursor, last_tick_at=now)


def tick_sensor(defs: Definitions, store: EventStore, sensor: SensorDefinition, now: float, owner: str,
                force: bool = False) -> Tick | None:
    """Evaluate the sensor if it is running and its interval has passed (or `force`)."""
    state = store.triggers.acquire(sensor.name, SENSOR, owner, seconds=sensor.timeout_seconds + 5)
    if state is None:
        return None
    try:
        if not force:
            if effective_status(state, sensor.default_status) != RUNNING:
                return None
            if state.last_tick_at is not None and now - state.last_tick_at < sensor.interval_seconds:
                return None
        return run_sensor_tick(defs, store, sensor, state, now)
    finally:
        store.triggers.release(sensor.name, owner)
