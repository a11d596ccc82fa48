"""How the CLI shows schedules, sensors, ticks, automation evaluations and asset statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from rich.table import Table

from orchestrator.render import console

_STATE_STYLE = {"fresh": "green", "stale": "yellow", "missing": "dim", "failed": "red", "running": "cyan",
                "external": "dim", "stopped": "dim", "succeeded": "green",
                "skipped": "yellow", "pass": "green", "warn": "yellow", "fail": "red"}


def _styled(value: str | None) -> str:
    if value is None:
        return ""
    style = _STATE_STYLE.get(value, "")
    return f"[{style}]{escape(value)}[/]" if style else escape(value)


def _when(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds") if ts else None


def ticks_table(rows: list[dict[str, Any]]) -> None:
    table = Table()
    for column in ("name", "tick_at", "status", "runs", "reason"):
        table.add_column(column, no_wrap=column in ("name", "tick_at"))
    for row in rows:
        reason = row["error"] or row["skip_reason"] or ""
        table.add_row(escape(row["name"]), row["tick_at"] or "", _styled(row["status"]),
                      escape(", ".join(r[:8] for r in row["run_ids"])), escape(reason.splitlines()[0] if reason else ""))
    console.print(table)


def triggers_table(rows: list[dict[str, Any]], kind: str) -> None:
    table = Table()
    columns = ["name", "job", "status", "cron" if kind == "schedule" else "interval", "next / last tick"]
    for column in columns:
        table.add_column(column)
    for row in rows:
        when = row.get("next_tick") if kind == "schedule" else None
        last = row["last_tick"]
        last_text = f"last {last['tick_at']} {last['status']}" if last else "never ticked"
        status = "[green]running[/]" if row["status"] == "running" else _styled(row["status"])
        table.add_row(escape(row["name"]), escape(row["job"] or ""), status,
                      escape(f"{row['cron']} ({row['timezone']})" if kind == "schedule" else f"{row['interval_seconds']:g}s"),
                      escape((f"next {when}; " if when else "") + last_text))
    console.print(table)
    if not rows:
        console.print(f"No {kind}s in the definitions.")


def evaluation_table(data: dict[str, Any], show_all: bool) -> None:
    rows = [r for r in data["assets"] if show_all or r["would_run"]]
    table = Table(title=f"automation at {data['at']}")
    for column in ("asset", "would run", "condition", "because"):
        table.add_column(column, no_wrap=column == "asset")
    for row in rows:
        table.add_row(escape(row["asset"]), "[green]yes[/]" if row["would_run"] else "no", escape(row["condition"]),
                      escape("; ".join(row["reasons"])))
    console.print(table)
    runs = data["runs"]
    console.print(f"{sum(1 for r in data['assets'] if r['would_run'])} of {len(data['assets'])} assets with a "
                  f"condition would run, in {len(runs)} run{'s' if len(runs) != 1 else ''}"
                  + ("" if show_all else " (--all shows the others)"))


def status_table(rows: list[dict[str, Any]]) -> None:
    table = Table()
    for column in ("asset", "state", "freshness", "last materialized", "why"):
        table.add_column(column, no_wrap=column == "asset")
    for row in rows:
        freshness = row["freshness"]
        table.add_row(escape(row["asset"]), _styled(row["state"]),
                      _styled(freshness) + (" [red](late)[/]" if row["late"] else ""),
                      _when(row["last_materialized_at"]) or "", escape("; ".join(row["causes"])
                                                                   or (row["freshness_message"] or "")))
    console.print(table)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    late = sum(1 for r in rows if r["late"])
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + (f"; {late} late" if late else ""))
