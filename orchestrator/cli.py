"""The `orch` command: parse arguments, make one call, print."""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points
from typing import Any

import click

from orchestrator import render
from orchestrator.cli_options import emit, exclude_option, json_option, select_option
from orchestrator.cli_state import comparison, state, state_option
from orchestrator.errors import NothingModifiedError, OrchestratorError
from orchestrator.execution.executors import EXECUTORS, executor_named
from orchestrator.execution.materialize import build_plan, load_dynamic_partitions, validate_partition
from orchestrator.execution.run import execute_plan
from orchestrator.execution.tally import RunTally
from orchestrator.selection import resolve
from orchestrator.storage.events import RunStatus
from orchestrator.workspace import Workspace

EXIT_FAILED, EXIT_ERROR, EXIT_CANCELED = 1, 2, 130
GLOBAL_OPTIONS = ("--defs", "--home", "--storage")


def hoist_global_options(args: list[str]) -> list[str]:
    """`orch runs list --home H` as `orch --home H runs list`: the global options work after the
    subcommand too (up to a `--`)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS and (i == 0 or args[i - 1] not in GLOBAL_OPTIONS):
            if "=" in arg:
                front.append(arg)
            else:
                front += args[i:i + 2]
                i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


class _Group(click.Group):
    """Turns our errors into one clear line and exit status 2, not a traceback."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OrchestratorError as exc:
            render.error(str(exc))
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:  # Ctrl-C outside a run (loading definitions, a query): 130, as a shell does
            render.error("Interrupted.")
            sys.exit(EXIT_CANCELED)


@click.group(cls=_Group)
@click.option("--defs", "defs", envvar=None, help="Definitions: file.py or package.module, optional :attr.")
@click.option("--home", help="ORCH_HOME: where the store and default IO managers write.")
@click.option("--storage", help="Event store URL (sqlite:///..., postgresql://...).")
@click.version_option(package_name="orchestrator")
@click.pass_context
def main(ctx: click.Context, defs: str | None, home: str | None, storage: str | None) -> None:
    """orch: a dbt-first lakehouse orchestrator."""
    workspace = Workspace(defs, home, storage)
    ctx.obj = workspace
    ctx.call_on_close(workspace.close)


@main.group()
def assets() -> None:
    """Inspect assets."""


@assets.command("list")
@select_option
@exclude_option
@state_option
@json_option
@click.pass_obj
def assets_list(ws: Workspace, selection: str | None, exclude: str | None, state_dir: str | None,
                as_json: bool) -> None:
    """List the selected assets."""
    graph = ws.defs.graph
    keys = resolve(selection or "*", graph, exclude, comparison(ws, state_dir))
    rows = [render.asset_row(graph, k) for k in graph.toposort(keys)]
    emit(rows, as_json, render.assets_table)


@main.command()
@select_option
@exclude_option
@click.option("--partition", default=None, help="Partition key to materialize.")
@click.option("--max-concurrency", type=int, default=None, help="Steps at once.")
@click.option("--executor", type=click.Choice(EXECUTORS), default="thread", envvar="ORCH_EXECUTOR",
              show_envvar=True, help="Where steps run: threads, forked processes or a Dask cluster.")
@click.option("--dask-address", default=None, envvar="ORCH_DASK_ADDRESS", show_envvar=True,
              help="Dask scheduler for --executor dask (tcp://host:8786); default: a LocalCluster per run.")
@state_option
@json_option
@click.pass_obj
def materialize(ws: Workspace, selection: str | None, exclude: str | None, partition: str | None,
                max_concurrency: int | None, executor: str, dask_address: str | None, state_dir: str | None,
                as_json: bool) -> None:
    """Materialize the selected assets (all by default)."""
    defs = ws.defs
    load_dynamic_partitions(defs.graph, ws.store)
    try:
        run_plan = build_plan(defs, selection, exclude, comparison(ws, state_dir))
    except NothingModifiedError as nothing:  # slim CI with nothing changed is a success, as in dbt
        emit({"run_id": None, "status": "nothing_to_run", "assets": {}, "errors": {}, "reason": str(nothing)},
             as_json, lambda data: render.console.print(render.escape(data["reason"])))
        return
    partition = validate_partition(defs.graph, run_plan.asset_keys, partition)
    tally = RunTally()

    def listen(event: Any) -> None:
        tally.on_event(event)
        progress.on_event(event)

    with render.RunProgress(run_plan, enabled=not as_json) as progress:
        result = execute_plan(run_plan, store=ws.store, io_managers=ws.io_managers(),
                              resources=defs.resources, partition=partition, selection=selection,
                              exclude=exclude, max_concurrency=max_concurrency,
                              executor=executor_named(executor, dask_address), listener=listen,
                              launched_by="cli")
    summary = {
        "run_id": result.run_id,
        "status": result.status.value,
        "assets": {str(k): result.assets.get(k, "skipped") for k in run_plan.asset_keys},
        "errors": {str(k): v for k, v in result.causes.items()},
        **tally.as_json(),
    }
    emit(summary, as_json, render.run_summary)
    if result.status == RunStatus.CANCELED:
        # Abandoned step threads must not hold the exit: the store is flushed and closed already.
        sys.stdout.flush()
        sys.stderr.flush()
        ws.close()
        os._exit(EXIT_CANCELED)
    sys.exit(0 if result.status == RunStatus.SUCCEEDED else EXIT_FAILED)


@main.group()
def runs() -> None:
    """Inspect runs."""


@runs.command("list")
@click.option("--limit", type=int, default=20)
@json_option
@click.pass_obj
def runs_list(ws: Workspace, limit: int, as_json: bool) -> None:
    """The most recent runs, newest first."""
    records = [render.run_row(r) for r in ws.store.list_runs(limit=limit)]
    emit(records, as_json, render.runs_table)


@runs.command("show")
@click.argument("run_id")
@json_option
@click.pass_obj
def runs_show(ws: Workspace, run_id: str, as_json: bool) -> None:
    """One run: its events, errors and check results."""
    record = ws.store.get_run(run_id)
    detail = render.run_detail(record, ws.store.events(record.run_id))
    emit(detail, as_json, render.run_show)


@main.group(invoke_without_command=True)
@select_option
@exclude_option
@click.option("--columns", is_flag=True, help="Column-level lineage: edges between columns.")
@state_option
@json_option
@click.pass_context
def lineage(ctx: click.Context, selection: str | None, exclude: str | None, columns: bool,
            state_dir: str | None, as_json: bool) -> None:
    """Lineage edges among the selected assets (`--columns`: between their columns)."""
    if ctx.invoked_subcommand is not None:
        return
    ws: Workspace = ctx.obj
    graph = ws.defs.graph
    keys = resolve(selection or "*", graph, exclude, comparison(ws, state_dir))
    if columns:
        found = _column_lineage(ws).to_json({str(k) for k in keys})
        emit(found, as_json, lambda f: _echo_column_edges(f["edges"] + f["filter_edges"], f["errors"]))
        return
    edges = [
        {"source": str(u), "target": str(v)}
        for u, v in sorted(graph.edges(), key=lambda e: (str(e[0]), str(e[1])))
        if u in keys and v in keys
    ]
    emit({"assets": sorted(map(str, keys)), "edges": edges}, as_json, lambda _: render.lineage_tree(graph, keys))


@lineage.command("column")
@click.argument("target", metavar="ASSET.COLUMN")
@click.option("--upstream/--downstream", default=True,
              help="Where it comes from, down to source columns (default), or what it feeds: its impact.")
@click.option("--depth", type=int, default=None, help="Hops to follow (default: all).")
@click.option("--filters", is_flag=True, help="Also the filter edges (columns that decide which rows exist).")
@json_option
@click.pass_obj
def lineage_column(ws: Workspace, target: str, upstream: bool, depth: int | None, filters: bool,
                   as_json: bool) -> None:
    """One column's lineage: upstream to source columns, or downstream (its impact)."""
    found = _column_lineage(ws).trace(target, "upstream" if upstream else "downstream", depth, filters)
    emit(found, as_json, lambda f: _echo_column_edges(f["edges"], [], f.get("warnings", ())))


def _column_lineage(ws: Workspace) -> Any:
    """The `orchestrator.lineage` provider's graph of the definitions; the core never imports it."""
    from orchestrator.lineage_provider import column_lineage

    return column_lineage(ws.defs, ws.store, ws.home)


def _echo_column_edges(edges: list[dict[str, Any]], errors: list[dict[str, str]],
                       warnings: Any = ()) -> None:
    def ref(r: dict[str, Any]) -> str:
        return r["asset"] if r["column"] is None else f"{r['asset']}.{r['column']}"

    for edge in edges:
        kind = edge["kind"] + (f" ({edge['clause']})" if edge.get("clause") else "")
        click.echo(f"{ref(edge['source'])} -> {ref(edge['target'])}  [{kind}]")
    for error in errors:
        click.echo(f"error: {error['asset']}: {error['message']}", err=True)
    for warning in warnings:
        click.echo(f"warning: {warning['message']}", err=True)
    click.echo(f"{len(edges)} edges" + (f", {len(errors)} assets with errors" if errors else ""), err=True)


def _core_commands() -> None:
    from orchestrator.cli_automation import assets_status, automation, schedules, sensors
    from orchestrator.cli_backfill import backfill, partitions
    from orchestrator.cli_init import init
    from orchestrator.cli_runs import daemon, dev, runs_cancel, runs_launch, runs_reexecute
    from orchestrator.cli_ui import ui

    main.add_command(backfill)
    main.add_command(partitions)
    main.add_command(ui)
    main.add_command(init)
    for command in (runs_launch, runs_cancel, runs_reexecute):
        runs.add_command(command)
    assets.add_command(assets_status)
    for command in (daemon, dev, schedules, sensors, automation, state):
        main.add_command(command)


def _plugin_commands() -> None:
    """Integrations add command groups (e.g. `orch dbt`) through the `orchestrator.cli` entry point."""
    for entry in entry_points(group="orchestrator.cli"):
        main.add_command(entry.load(), entry.name)


_core_commands()
_plugin_commands()


if __name__ == "__main__":
    main()
