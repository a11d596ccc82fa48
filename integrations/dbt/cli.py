"""`orch dbt ...`: commands the dbt integration adds to the CLI (via the orchestrator.cli entry point)."""

from __future__ import annotations

import time

import click
import yaml

from integrations.dbt.project import DbtProject
from orchestrator import render
from orchestrator.cli_options import emit, json_option
from orchestrator.selection import resolve


def _projects(ctx: click.Context, project_dir: str | None) -> list[DbtProject]:
    if project_dir:
        return [DbtProject(project_dir)]
    found: dict[str, DbtProject] = {}
    for definition in ctx.obj.defs.assets:
        project = getattr(definition.runner, "project", None)
        if isinstance(project, DbtProject):
            found[str(project.project_dir)] = project
    if not found:
        raise click.UsageError("No dbt project in the definitions; pass --project-dir.")
    return list(found.values())


@click.group()
def dbt() -> None:
    """dbt projects of the definitions."""


def _vars(text: str | None) -> dict:
    if not text:
        return {}
    try:
        found = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"not YAML or JSON: {exc}", param_hint="--vars") from None
    if not isinstance(found, dict):
        raise click.BadParameter(f"expected a mapping like '{{key: value}}', got {text!r}", param_hint="--vars")
    return found


@dbt.command()
@click.option("--project-dir", default=None, help="A dbt project (default: those in the definitions).")
@click.option("--vars", "vars_text", default=None,
              help="dbt vars for the parse, YAML or JSON ('{enable_x: true}'), over the project's own.")
@click.pass_context
def parse(ctx: click.Context, project_dir: str | None, vars_text: str | None) -> None:
    """Parse the dbt project(s) and refresh the cached manifest and assets."""
    extra = _vars(vars_text)
    # Loading the definitions reads each project's manifest: a missing, stale or corrupt one is
    # parsed right there, even under ORCH_DBT_REPARSE=never, since repairing it is this command's job.
    DbtProject.parse_requested = True
    try:
        projects = _projects(ctx, project_dir)
    finally:
        DbtProject.parse_requested = False
    started = time.perf_counter()
    for project in projects:
        if extra:
            project.vars = {**project.vars, **extra}
        if extra or not project.parsed_here:
            project.parse()
        nodes = project.nodes()
        render.console.print(
            f"Parsed {project.project_dir} in {time.perf_counter() - started:.1f}s: "
            f"{len(nodes.assets)} assets, {len(nodes.checks)} checks -> {project.manifest_path}",
            markup=False,
        )
        started = time.perf_counter()


@dbt.command()
@click.option("--select", "-s", "selection", default=None, help="Sources whose freshness to check (selection).")
@json_option
@click.pass_obj
def freshness(ws: object, selection: str | None, as_json: bool) -> None:
    """Check the freshness of the dbt sources (`freshness:` + `loaded_at_field`); record the results."""
    from integrations.dbt.freshness import check_freshness

    defs = ws.defs
    keys = {str(k) for k in resolve(selection or "*", defs.graph)}
    run = check_freshness(defs, ws.store, keys)
    rows = [{"asset": key, "passed": r.passed, **r.metadata} for key, r in sorted(run.results.items())]
    found = {"run_id": run.run_id, "status": run.status.value, "checks": rows}
    emit(found, as_json, _freshness_table)
    if run.status.value != "succeeded":
        raise SystemExit(1)


def _freshness_table(found: dict) -> None:
    for row in found["checks"]:
        age = f"{row['age_seconds'] / 3600:.1f} h old" if row.get("age_seconds") is not None else row.get("message", "")
        render.console.print(f"{row['status']:<14} {row['asset']:<40} {age}", markup=False)
    render.console.print(f"{len(found['checks'])} sources, run {found['run_id'][:8]}: {found['status']}", markup=False)
