"""Schedules and sensors as the CLI lists them and the web UI shows them: one row per trigger with
its status and last tick, and starting or stopping one. `orch schedules|sensors` and the API call these."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from orchestrator.errors import DefinitionError, did_you_mean
from orchestrator.storage.triggers import Tick

SCHEDULE, SENSOR = "schedule", "sensor"
STATUSES = ("running", "stopped")


def _when(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds") if ts else None


def tick_row(tick: Tick) -> dict[str, Any]:
    return {"id": tick.id, "name": tick.name, "type": tick.type, "tick_at": _when(tick.tick_at),
            "status": tick.status.value, "run_ids": list(tick.run_ids), "skip_reason": tick.skip_reason,
            "error": tick.error, "cursor": tick.cursor, "started_at": _when(tick.started_at)}


def trigger_of(defs: Any, kind: str, name: str) -> Any:
    """The schedule or sensor `name`; an unknown one raises with a suggestion."""
    found = defs.schedules if kind == SCHEDULE else defs.sensors
    if name not in found:
        raise DefinitionError(f"No {kind} '{name}'.{did_you_mean(name, found)} Known {kind}s: "
                              f"{', '.join(sorted(found)) or 'none'}.")
    return found[name]


def trigger_rows(defs: Any, store: Any, kind: str) -> list[dict[str, Any]]:
    """Every schedule (or sensor): job, effective status, last tick; a schedule's cron and next tick,
    a sensor's type, interval and cursor."""
    from orchestrator.automation.ticking import effective_status

    states = store.triggers.states()
    found = defs.schedules if kind == SCHEDULE else defs.sensors
    rows = []
    for name, trigger in sorted(found.items()):
        state = states.get(name)
        last = store.triggers.ticks(name, limit=1)
        row = {"name": name, "job": trigger.job_name, "status": effective_status(state, trigger.default_status),
               "default_status": trigger.default_status,
               "last_tick": tick_row(last[0]) if last else None}
        if kind == SCHEDULE:
            row.update(cron=trigger.cron, timezone=trigger.timezone,
                       next_tick=trigger.schedule.next_after(dt.datetime.now(dt.timezone.utc)).isoformat())
        else:
            row.update(type=trigger.type, interval_seconds=trigger.interval_seconds,
                       cursor=state.cursor if state else None)
        rows.append(row)
    return rows


def set_trigger_status(defs: Any, store: Any, kind: str, name: str, status: str) -> None:
    """Start (`running`) or stop (`stopped`) a schedule or sensor of the definitions."""
    from orchestrator.automation import ticking

    trigger_of(defs, kind, name)
    if status not in STATUSES:
        raise DefinitionError(f"A {kind} is started or stopped: status must be one of {STATUSES}, not '{status}'.")
    ticking.set_trigger_status(store, name, kind, status, time.time())
