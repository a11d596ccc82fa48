"""`orch dbt ...`: commands the dbt integration adds to the CLI (via the orchestrator.cli entry point)."""

from __future__ import annotations

import time

import click

from integrations.dbt.project import DbtProject
from orchestrator import render


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


@dbt.command()
@click.option("--project-dir", default=None, help="A dbt project (default: those in the definitions).")
@click.pass_context
def parse(ctx: click.Context, project_dir: str | None) -> None:
    """Parse the dbt project(s) and refresh the cached manifest and assets."""
    # Loading the definitions reads each project's manifest: a missing, stale or corrupt one is
    # parsed right there, even under ORCH_DBT_REPARSE=never, since repairing it is this command's job.
    DbtProject.parse_requested = True
    try:
        projects = _projects(ctx, project_dir)
    finally:
        DbtProject.parse_requested = False
    started = time.perf_counter()
    for project in projects:
        if not project.parsed_here:
            project.parse()
        nodes = project.nodes()
        render.console.print(
            f"Parsed {project.project_dir} in {time.perf_counter() - started:.1f}s: "
            f"{len(nodes.assets)} assets, {len(nodes.checks)} checks -> {project.manifest_path}",
            markup=False,
        )
        started = time.perf_counter()
