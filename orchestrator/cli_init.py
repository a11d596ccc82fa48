"""`orch init NAME [--dbt PATH]`: scaffold a project that `orch assets list` and its own tests
accept at once."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator import render
from orchestrator.scaffold import init_project


@click.command("init")
@click.argument("name")
@click.option("--dbt", "dbt_path", default=None, type=click.Path(path_type=Path),
              help="An existing dbt project to wire in, with its profile.")
def init(name: str, dbt_path: Path | None) -> None:
    """Create the project NAME (a new folder): pyproject with [tool.orchestrator], definitions,
    example assets and their tests."""
    target = Path(name)
    written = init_project(target, dbt_path)
    show = render.console.print
    show(f"Created {target}/ ({len(written)} files):", markup=False)
    for path in written:
        show(f"  {path.relative_to(target)}", markup=False)
    show("Next:", markup=False)
    for step in (f"cd {target}", "orch assets list", "orch materialize", "python -m pytest"):
        show(f"  {step}", markup=False)
