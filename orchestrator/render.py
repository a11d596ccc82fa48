"""How the CLI shows things: rich tables and progress on a terminal, plain lines otherwise."""

from __future__ import annotations

import datetime as dt
import sys
import threading
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

from orchestrator.execution.plan import Plan
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.secrets import mask_text
from orchestrator.storage.events import Event, EventType, RunRecord

# Piped output is not cut to 80 columns: keys and run ids must stay whole to be copied.
_WIDTH = None if sys.stdout.isatty() else 200
console = Console(highlight=False, width=_WIDTH)
err_console = Console(stderr=True, highlight=False, width=_WIDTH)

_STYLE = {"succeeded": "green", "failed": "red", "skipped": "yellow", "canceled": "magenta",
          "started": "cyan", "running": "cyan", "queued": "blue", "starting": "cyan"}


def _t(value: Any) -> str:
    """User or message text inside markup: shown as written (`[tool.x]` is not a style)."""
    return escape(str(value))


def error(message: str) -> None:
    err_console.print(f"[bold red]Error:[/] {_t(mask_text(message))}", markup=True, soft_wrap=True)


def _when(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds") if ts else None


def asset_row(graph: AssetGraph, key: AssetKey) -> dict[str, Any]:
    a = graph.assets[key]
    return {
        "key": str(key),
        "kind": a.kind,
        "deps": [str(p) for p in sorted(graph.parents(key), key=str)],
        "group": a.group,
        "tags": sorted(a.tags),
        "kinds": sorted(a.kinds),
        "owners": list(a.owners),
        "description": a.description,
        "resource_type": a.resource_type,
        "path": a.path,
        "partitioned": a.partitions is not None,
        "executable": a.executable,
        "checks": [c.name for c in graph.checks_for(key)],
    }


def assets_table(rows: list[dict[str, Any]]) -> None:
    table = Table(show_lines=False)
    table.add_column("key", no_wrap=True)
    for column in ("kind", "group", "deps", "tags"):
        table.add_column(column)
    for row in rows:
        table.add_row(_t(row["key"]), _t(row["kind"]), _t(row["group"]), _t(", ".join(row["deps"])),
                      _t(", ".join(row["tags"])))
    console.print(table)
    console.print(f"{len(rows)} assets")


def run_row(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "status": run.status.value,
        "selection": run.selection,
        "exclude": run.exclude,
        "partition": run.partition,
        "assets": len(run.asset_keys),
        "started_at": _when(run.started_at),
        "ended_at": _when(run.ended_at),
        "seconds": round(run.ended_at - run.started_at, 3) if run.ended_at else None,
        "launched_by": run.launched_by,
        "attempt": run.attempt,
        "parent_run_id": run.parent_run_id,
        "error": run.error,
    }


def selection_text(row: dict[str, Any]) -> str:
    """The selection as it was typed: `+group:marts --exclude tag:slow` (`*` when none was)."""
    text = row["selection"] or "*"
    return f"{text} --exclude {row['exclude']}" if row.get("exclude") else text


def runs_table(rows: list[dict[str, Any]]) -> None:
    table = Table()
    table.add_column("run_id", no_wrap=True, min_width=32)
    for column in ("status", "selection", "partition", "assets", "started_at", "seconds"):
        table.add_column(column)
    for row in rows:
        style = _STYLE.get(row["status"], "")
        table.add_row(row["run_id"], f"[{style}]{row['status']}[/]", _t(selection_text(row)),
                      _t(row["partition"] or ""), str(row["assets"]), row["started_at"] or "",
                      str(row["seconds"] or ""))
    console.print(table)


def _event_row(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type.value,
        "timestamp": _when(event.timestamp),
        "step_key": event.step_key,
        "asset_key": str(event.asset_key) if event.asset_key else None,
        "partition": event.partition,
        "message": event.message,
        "data": dict(event.data),
    }


def run_detail(run: RunRecord, events: list[Event]) -> dict[str, Any]:
    rows = [_event_row(e) for e in events]
    return {
        "run": {**run_row(run), "asset_keys": [str(k) for k in run.asset_keys]},
        "events": rows,
        "errors": [r for r in rows if r["type"] in ("step_failed", "step_retry")],
        "checks": [r for r in rows if r["type"] == "check_result"],
        "materializations": [r for r in rows if r["type"] == "materialization"],
    }


def run_show(detail: dict[str, Any]) -> None:
    run = detail["run"]
    style = _STYLE.get(run["status"], "")
    console.print(f"Run [bold]{run['run_id']}[/]: [{style}]{run['status']}[/] "
                  f"({run['assets']} assets, {run['seconds']}s, selection {_t(selection_text(run))}"
                  + (f", partition {_t(run['partition'])}" if run["partition"] else "") + ")")
    for row in detail["events"]:
        if row["type"] == "log" and row["data"].get("level") == "debug":
            continue
        label = row["asset_key"] or row["step_key"] or ""
        text = row["message"] or ""
        if row["type"] == "materialization":
            meta = row["data"].get("metadata", {})
            text = ", ".join(f"{k}={meta[k]}" for k in ("rows", "bytes") if k in meta)
        if row["type"] == "check_result":
            verdict = "passed" if row["data"].get("passed") else "FAILED"
            text = f"{row['data'].get('check')} {verdict}"
        console.print(f"{row['timestamp']}  {row['type']:<16} {label}  {text}", markup=False)
    for row in detail["errors"]:
        trace = row["data"].get("error", {}).get("traceback")
        if trace:
            console.print(f"\n[red]{row['type']} {_t(row['asset_key'] or row['step_key'])}[/]")
            console.print(trace, markup=False)


def run_summary(summary: dict[str, Any]) -> None:
    counts: dict[str, int] = {}
    for status in summary["assets"].values():
        counts[status] = counts.get(status, 0) + 1
    style = _STYLE.get(summary["status"], "")
    parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    console.print(f"Run {summary['run_id']} [{style}]{summary['status']}[/]: {parts}")
    for key, cause in summary["errors"].items():
        if summary["assets"].get(key) != "canceled":  # listed as they were canceled; counted above
            console.print(f"  [red]{_t(key)}[/]: {_t(cause)}", soft_wrap=True)
    checks = summary.get("checks")
    if checks and any(checks[k] for k in ("passed", "warned", "failed")):
        console.print(f"Checks: {checks['passed']} passed, {checks['warned']} warned, "
                      f"{checks['failed']} failed", markup=False)
        for label in ("failed", "warned"):
            for name in checks[f"{label}_checks"]:
                console.print(f"  {label}: {name}", markup=False, soft_wrap=True)
    steps = summary.get("steps") or []
    if steps:
        shown = ", ".join(f"{s['step']} {s['seconds']:.1f}s" for s in steps[:5])
        more = f" (and {len(steps) - 5} more)" if len(steps) > 5 else ""
        console.print(f"Steps: {len(steps)}; slowest: {shown}{more}", markup=False, soft_wrap=True)


def lineage_tree(graph: AssetGraph, keys: Iterable[AssetKey]) -> None:
    selected = set(keys)
    roots = [k for k in graph.toposort(selected) if not (graph.parents(k) & selected)]
    tree = Tree("lineage")

    def add(node: Tree, key: AssetKey, seen: set[AssetKey]) -> None:
        branch = node.add(_t(key))
        if key in seen:
            return
        seen.add(key)
        for child in sorted(graph.children(key) & selected, key=str):
            add(branch, child, seen)

    seen: set[AssetKey] = set()
    for root in roots:
        add(tree, root, seen)
    console.print(tree)


class _ProgressBar:
    """A rich progress bar while on a terminal; subclasses print plain lines otherwise."""

    label = "progress"

    def __init__(self, total: int, enabled: bool) -> None:
        self.enabled = enabled
        self.total = total
        self.interactive = enabled and sys.stdout.isatty()
        self._progress: Progress | None = None

    def __enter__(self):
        if self.interactive:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(), console=console)
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


class RunProgress(_ProgressBar):
    """A progress bar on a terminal; a plain line per finished asset otherwise."""

    label = "materializing"

    _DONE = {EventType.MATERIALIZATION: "succeeded", EventType.STEP_FAILED: "failed",
             EventType.STEP_SKIPPED: "skipped", EventType.STEP_CANCELED: "canceled"}

    def __init__(self, run_plan: Plan, enabled: bool = True) -> None:
        super().__init__(len(run_plan.asset_keys), enabled)
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        if not self.enabled:
            return
        if event.type == EventType.RUN_STARTED:
            console.print(f"Run {event.run_id} started: {self.total} assets", markup=False)
            return
        status = self._DONE.get(event.type)
        if status is None or event.asset_key is None:
            return
        with self._lock:
            if self._progress is not None:
                self._progress.update(self._task, advance=1, description=_t(event.asset_key))
                if status != "succeeded":
                    self._progress.console.print(f"[{_STYLE[status]}]{status}[/] {_t(event.asset_key)}: "
                                                 f"{_t(event.message or '')}", soft_wrap=True)
            else:
                detail = f": {event.message}" if event.message and status != "succeeded" else ""
                console.print(f"{status:<9} {event.asset_key}{detail}", markup=False, soft_wrap=True)


def backfills_table(rows: list[dict[str, Any]]) -> None:
    table = Table()
    table.add_column("backfill_id", no_wrap=True)
    for column in ("status", "selection", "from", "to", "chunks", "done"):
        table.add_column(column)
    for row in rows:
        style = _STYLE.get(row["status"], "")
        table.add_row(row["backfill_id"], f"[{style}]{row['status']}[/]", _t(row["selection"] or "*"),
                      _t(row["from"]), _t(row["to"]), str(row["chunks"]),
                      str(row["chunk_counts"].get("succeeded", 0)))
    console.print(table)


def backfill_summary(data: dict[str, Any], chunks: list[dict[str, Any]]) -> None:
    style = _STYLE.get(data["status"], "")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(data["chunk_counts"].items()))
    console.print(f"Backfill {data['backfill_id']} [{style}]{data['status']}[/]: {_t(data['from'])} to "
                  f"{_t(data['to'])}, {data['chunks']} chunks ({counts})")
    for chunk in chunks:
        label = f"#{chunk['seq']} {', '.join(chunk['assets'])} {chunk['range'] or '(unpartitioned)'}"
        detail = f": {chunk['error']}" if chunk.get("error") else ""
        console.print(f"  {chunk['status']:<9} {label}{detail}", markup=False, soft_wrap=True)


def partition_summary(data: dict[str, Any]) -> None:
    counts = ", ".join(f"{n} {s}" for s, n in data["counts"].items() if n)
    console.print(f"{data['asset']}: {data['partitions']} partitions ({counts})", markup=False)
    for run in data["ranges"]:
        span = run["start"] if run["start"] == run["end"] else f"{run['start']} ... {run['end']}"
        console.print(f"  {run['status']:<12} {span} ({run['count']})", markup=False)


class ChunkProgress(_ProgressBar):
    """A progress bar over a backfill's chunks on a terminal; a line per chunk otherwise."""

    label = "backfill"

    def __init__(self, chunks: list[Any], enabled: bool = True) -> None:
        super().__init__(sum(1 for c in chunks if c.status.value != "succeeded"), enabled)

    def on_chunk(self, chunk: Any, status: Any) -> None:
        if not self.enabled or status.value == "running":
            return
        label = f"{', '.join(map(str, chunk.assets))} {chunk.range_text or '(unpartitioned)'}"
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=_t(label))
        else:
            console.print(f"{status.value:<9} chunk {chunk.seq}: {label}", markup=False, soft_wrap=True)
