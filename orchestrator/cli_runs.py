"""`orch runs launch | cancel | reexecute`, `orch daemon` and `orch dev`: the run queue from the CLI."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import click

from orchestrator import render
from orchestrator.cli_options import emit, exclude_option, json_option, select_option
from orchestrator.errors import OrchestratorError
from orchestrator.launch.queue import cancel_run, enqueue_run, reexecute_run


def _queued(record: Any, as_json: bool, verb: str) -> None:
    emit(render.run_row(record), as_json,
         lambda row: click.echo(f"{verb} run {row['run_id']} ({row['assets']} assets"
                                f"{', partition ' + row['partition'] if row['partition'] else ''}); "
                                "`orch daemon` or `orch dev` executes it."))


@click.command("launch")
@select_option
@exclude_option
@click.option("--partition", default=None, help="Partition key to materialize.")
@click.option("--job", default=None, help="A job of the definitions instead of a selection.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Tags of the run (repeatable).")
@json_option
@click.pass_obj
def runs_launch(ws: Any, selection: str | None, exclude: str | None, partition: str | None, job: str | None,
                tags: tuple[str, ...], as_json: bool) -> None:
    """Queue a run; prints its id. The daemon executes it."""
    record = enqueue_run(ws.store, ws.defs, selection=selection, exclude=exclude, partition=partition,
                         tags=_tags(tags), launched_by="cli", job=job)
    if as_json:
        emit(render.run_row(record), True, lambda _: None)
    else:
        click.echo(record.run_id)


def _tags(pairs: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="--tag")
        found[key] = value
    return found


@click.command("cancel")
@click.argument("run_id")
@json_option
@click.pass_obj
def runs_cancel(ws: Any, run_id: str, as_json: bool) -> None:
    """Cancel a queued run at once, or ask a running one to stop."""
    record = cancel_run(ws.store, run_id)
    verb = "Canceled" if record.status.terminal else "Asked to stop"
    emit(render.run_row(record), as_json, lambda row: click.echo(f"{verb} run {row['run_id']} ({row['status']})."))


@click.command("reexecute")
@click.argument("run_id")
@click.option("--from-failure", is_flag=True, help="Only the assets that did not succeed.")
@json_option
@click.pass_obj
def runs_reexecute(ws: Any, run_id: str, from_failure: bool, as_json: bool) -> None:
    """Queue a run again (all of it, or from failure)."""
    record = reexecute_run(ws.store, ws.defs, run_id, from_failure=from_failure, launched_by="cli")
    _queued(record, as_json, "Queued")


def _pools(pairs: tuple[str, ...]) -> dict[str, int]:
    found = {}
    for pair in pairs:
        name, sep, slots = pair.partition("=")
        if not sep or not slots.isdigit():
            raise click.BadParameter(f"'{pair}' is not NAME=SLOTS", param_hint="--pool")
        found[name] = int(slots)
    return found


daemon_options = [
    click.option("--max-concurrent-runs", type=int, default=None, help="Runs at once (default: no limit)."),
    click.option("--pool", "pools", multiple=True, metavar="NAME=SLOTS", help="Slots of a pool (repeatable)."),
    click.option("--executor", type=click.Choice(["thread", "process", "dask"]), default=None,
                 help="How runs execute their steps."),
    click.option("--dask-address", default=None, help="Dask scheduler for --executor dask."),
    click.option("--automation-interval", type=float, default=None,
                 help="Seconds between declarative-automation evaluations (default 30; 10 under orch dev)."),
]


def _with_daemon_options(fn: Any) -> Any:
    for option in reversed(daemon_options):
        fn = option(fn)
    return fn


def _daemon(ws: Any, max_concurrent_runs: int | None, pools: tuple[str, ...], executor: str | None,
            dask_address: str | None, automation_interval: float | None, cancel_runs_on_exit: bool,
            default_interval: float = 30.0) -> Any:
    from orchestrator.automation.daemon import Daemon, DaemonOptions

    return Daemon(ws, DaemonOptions(max_concurrent_runs=max_concurrent_runs, pools=_pools(pools),
                                    executor=executor, dask_address=dask_address,
                                    automation_interval=automation_interval or default_interval,
                                    cancel_runs_on_exit=cancel_runs_on_exit))


@click.command()
@_with_daemon_options
@click.pass_obj
def daemon(ws: Any, **options: Any) -> None:
    """Run queued runs, schedules, sensors and declarative automation until stopped. Several may run
    against one PostgreSQL store."""
    _daemon(ws, cancel_runs_on_exit=False, **options).run()


@click.command()
@click.option("--port", type=int, default=3000, show_default=True, help="Port of the web UI.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web UI binds.")
@click.option("--no-ui", is_flag=True, help="The daemon only.")
@_with_daemon_options
@click.pass_obj
def dev(ws: Any, port: int, host: str, no_ui: bool, **options: Any) -> None:
    """The daemon and the web UI in one command, on embedded defaults (SQLite under ORCH_HOME).
    Ctrl-C stops everything, runs included."""
    worker = _daemon(ws, cancel_runs_on_exit=True, default_interval=10.0, **options)
    stop = threading.Event()
    server = None if no_ui else _start_ui(ws, host, port)
    try:
        worker.run(stop)
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True


def _start_ui(ws: Any, host: str, port: int) -> Any:
    """The web UI in a thread, when the web package is installed; None (and a note) otherwise."""
    try:
        from orchestrator.web.server import start_in_thread  # fastapi: only when the UI runs
    except ImportError as exc:
        render.err_console.print(f"orch dev: no web UI ({exc}); running the daemon only.", markup=False)
        return None
    token = os.environ.get("ORCH_UI_TOKEN")
    try:
        server = start_in_thread(ws, host=host, port=port, token=token)
    except OrchestratorError:
        raise
    except OSError as exc:
        raise OrchestratorError(f"orch dev: cannot serve the UI on {host}:{port}: {exc}") from exc
    print(f"orch dev: UI at http://{host}:{port}", file=sys.stderr, flush=True)
    return server
