"""serve(): run the UI with uvicorn. `orch ui` calls it, and `orch dev` calls it beside the daemon."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from orchestrator.web.security import check_bind

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 3000


def serve(app: Any | Callable[[], Any], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          token: str | None = None, *, log_level: str = "warning", ready: Callable[[str], None] | None = None) -> None:
    """Serve `app` (a FastAPI app, or a function making one) until interrupted.

    `token` (default: $ORCH_UI_TOKEN) is required for any host but loopback; the app must have
    been made with the same token (`create_app(..., token=token)`). `ready(url)` is called once the
    socket listens. Blocks; run it in a thread or a subprocess beside other work.
    """
    import uvicorn

    token = (token if token is not None else os.environ.get("ORCH_UI_TOKEN")) or None
    check_bind(host, token)
    if not hasattr(app, "router") and callable(app):
        app = app()
    guard = getattr(getattr(app, "state", None), "guard", None)
    if token and guard is not None and guard.token != token:
        raise ValueError("serve(token=...) differs from the token the app was created with.")
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=2,
                            proxy_headers=False, server_header=False, access_log=log_level in ("info", "debug"))
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    original = server.startup

    async def startup(sockets: Any = None) -> None:
        await original(sockets)
        if server.started:
            warm_in_background(app)
            if ready is not None:
                ready(f"http://{shown}:{port}")

    server.startup = startup  # type: ignore[method-assign]
    server.run()


def warm_in_background(app: Any) -> threading.Thread:
    """Compute what the first pages need (the layout, the asset states) while nobody waits, then move
    the long-lived objects out of the garbage collector's way (a full collection would walk the
    definitions and the states snapshot again and again)."""
    from orchestrator.memory import paused_gc

    def warm() -> None:
        ctx = app.state.ctx
        with paused_gc(freeze=True):
            ctx.layout_json()
            ctx.states.refresh()
            ctx.states.statuses()

    thread = threading.Thread(target=warm, name="orch-ui-warm", daemon=True)
    thread.start()
    return thread


def app_for(ws: Any, token: str | None = None) -> Any:
    """The UI of a Workspace (`orch ui`, `orch dev`): its definitions, store and home, and backfills
    started in child processes that open the same workspace."""
    from orchestrator.web.app import create_app
    from orchestrator.web.launching import BackfillProcesses

    return create_app(ws.defs, ws.store, home=ws.home, token=token or "",
                      backfills=BackfillProcesses(ws.environment(), ws.home))


def start_in_thread(ws: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, token: str | None = None,
                    *, log_level: str = "warning", timeout: float = 30.0) -> Any:
    """Serve the workspace's UI from a thread (for `orch dev`); returns the uvicorn Server once it
    listens (set `should_exit = True` to stop it). A port that cannot be bound raises OSError."""
    import uvicorn

    token = token if token is not None else os.environ.get("ORCH_UI_TOKEN") or None
    check_bind(host, token)
    app = app_for(ws, token)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level,
                                           timeout_graceful_shutdown=2, server_header=False))
    failed: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as exc:  # noqa: BLE001 - uvicorn exits (SystemExit) when it cannot bind
            failed.append(exc)

    thread = threading.Thread(target=run, name="orch-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise OSError(f"the web UI did not start on {host}:{port}"
                          + (f" ({failed[0]!r})" if failed else " (is the port in use?)"))
        time.sleep(0.02)
    warm_in_background(app)
    return server
