"""`orch ui`: the web UI alone (`orch dev` runs it beside the daemon)."""

from __future__ import annotations

import os
from typing import Any

import click

from orchestrator import render


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; anything but loopback requires a token.")
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--token", default=None, help="Require this token (default: $ORCH_UI_TOKEN).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="warning", show_default=True)
@click.pass_obj
def ui(ws: Any, host: str, port: int, token: str | None, log_level: str) -> None:
    """Serve the web UI: asset catalog and graph, asset pages, runs, backfills."""
    from orchestrator.web.security import check_bind
    from orchestrator.web.server import app_for, serve

    token = token or os.environ.get("ORCH_UI_TOKEN") or None
    check_bind(host, token)  # before loading anything: a refused bind fails at once
    app = app_for(ws, token)

    def ready(url: str) -> None:
        render.console.print(f"orch UI on {url}  ({len(ws.defs.graph)} assets; Ctrl-C to stop)", markup=False)

    serve(app, host, port, token, log_level=log_level, ready=ready)
