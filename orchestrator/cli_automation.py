"""`orch schedules`, `orch sensors`, `orch automation evaluate` and `orch assets status`."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import click

from orchestrator.automation.overview import SCHEDULE, SENSOR, set_trigger_status, tick_row, trigger_of, trigger_rows
from orchestrator.cli_options import emit, exclude_option, json_option, select_option
from orchestrator.errors import OrchestratorError
from orchestrator.render_automation import evaluation_table, status_table, ticks_table, triggers_table
from orchestrator.selection import resolve


def parse_at(text: str | None, timezone: str = "UTC") -> dt.datetime:
    """An ISO time (`2024-12-01T02:00`, naive = in `timezone`), or now."""
    if text is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"'{text}' is not an ISO time like 2024-12-01T02:00", param_hint="--at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


def _trigger(ws: Any, kind: str, name: str) -> Any:
    return trigger_of(ws.defs, kind, name)


def _rows(ws: Any, kind: str) -> list[dict[str, Any]]:
    return trigger_rows(ws.defs, ws.store, kind)


def _set_status(ws: Any, kind: str, name: str, status: str) -> None:
    set_trigger_status(ws.defs, ws.store, kind, name, status)
    click.echo(f"{kind.capitalize()} '{name}' is {status}.")


def _trigger_group(kind: str) -> click.Group:
    @click.group(name=f"{kind}s")
    def group() -> None:
        pass

    group.help = f"The {kind}s of the definitions: list, start, stop, tick once."

    @group.command("list")
    @json_option
    @click.pass_obj
    def list_(ws: Any, as_json: bool) -> None:
        emit(_rows(ws, kind), as_json, lambda rows: triggers_table(rows, kind))

    @group.command("start")
    @click.argument("name")
    @click.pass_obj
    def start(ws: Any, name: str) -> None:
        _set_status(ws, kind, name, "running")

    @group.command("stop")
    @click.argument("name")
    @click.pass_obj
    def stop(ws: Any, name: str) -> None:
        _set_status(ws, kind, name, "stopped")

    @group.command("ticks")
    @click.argument("name", required=False)
    @click.option("--limit", type=int, default=20)
    @json_option
    @click.pass_obj
    def ticks(ws: Any, name: str | None, limit: int, as_json: bool) -> None:
        if name:
            _trigger(ws, kind, name)
        rows = [tick_row(t) for t in ws.store.triggers.ticks(name, limit) if t.type == kind]
        emit(rows, as_json, ticks_table)

    group.add_command(_tick_command(kind))
    return group


def _tick_command(kind: str) -> click.Command:
    @click.command("tick")
    @click.argument("name")
    @click.option("--at", "at", default=None, help="Evaluate as of this time (ISO; default now).")
    @json_option
    @click.pass_obj
    def tick(ws: Any, name: str, at: str | None, as_json: bool) -> None:
        """Evaluate once now (or --at), whatever its status; print the tick."""
        from orchestrator.automation.ticking import tick_schedule_at, tick_sensor

        trigger = _trigger(ws, kind, name)
        if kind == SCHEDULE:
            moment = parse_at(at, trigger.timezone)
            stored = tick_schedule_at(ws.defs, ws.store, trigger, moment)
            if stored is None:
                raise OrchestratorError(f"Schedule '{name}' already ticked for the tick at or before "
                                        f"{moment.isoformat()}: a tick runs once.")
        else:
            moment = parse_at(at)
            stored = tick_sensor(ws.defs, ws.store, trigger, moment.timestamp(), f"cli-{time.time()}", force=True)
            if stored is None:
                raise OrchestratorError(f"Sensor '{name}' is being evaluated by a daemon right now; try again.")
        emit(tick_row(stored), as_json, lambda row: ticks_table([row]))

    return tick


schedules = _trigger_group(SCHEDULE)
sensors = _trigger_group(SENSOR)


@click.group()
def automation() -> None:
    """Declarative automation: what would run, and why."""


@automation.command("evaluate")
@select_option
@exclude_option
@click.option("--at", "at", default=None, help="Evaluate as of this time (ISO, naive = UTC; default now).")
@click.option("--all", "show_all", is_flag=True, help="Also the assets that would not run.")
@json_option
@click.pass_obj
def automation_evaluate(ws: Any, selection: str | None, exclude: str | None, at: str | None, show_all: bool,
                        as_json: bool) -> None:
    """A dry run of one evaluation: which assets would run now, and which sub-conditions decided."""
    from orchestrator.automation.automation_tick import evaluate_now

    only = resolve(selection, ws.defs.graph, exclude) if selection or exclude else None
    evaluation, _ = evaluate_now(ws.defs, ws.store, parse_at(at).timestamp(), only)
    rows = [{"asset": str(d.key), "would_run": d.result, "condition": d.condition, "partition": d.partition,
             "reasons": list(d.reasons)} for d in evaluation.decisions.values()]
    data = {"at": dt.datetime.fromtimestamp(evaluation.now, dt.timezone.utc).isoformat(),
            "assets": rows, "runs": [{"partition": p, "assets": [str(k) for k in keys]} for p, keys in evaluation.runs]}
    emit(data, as_json, lambda d: evaluation_table(d, show_all))


@click.command("status")
@select_option
@exclude_option
@json_option
@click.pass_obj
def assets_status(ws: Any, selection: str | None, exclude: str | None, as_json: bool) -> None:
    """Fresh, stale (with causes), missing, failed or running; and late by freshness policy."""
    from orchestrator.automation.status import asset_statuses

    keys = resolve(selection or "*", ws.defs.graph, exclude)
    statuses = asset_statuses(ws.defs, ws.store, keys=[k for k in ws.defs.graph.order() if k in keys])
    emit([s.to_json() for s in statuses.values()], as_json, status_table)
