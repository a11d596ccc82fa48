"""What every `orch` command shares: the selection and --json options, and JSON-or-table output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

select_option = click.option("--select", "-s", "selection", default=None, help="Selection (dbt grammar).")
exclude_option = click.option("--exclude", "-x", default=None, help="Selection to leave out.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def emit(data: Any, as_json: bool, show: Callable[[Any], None]) -> None:
    """`data` as indented JSON with --json, else drawn by `show`."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        show(data)
