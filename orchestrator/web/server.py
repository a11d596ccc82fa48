"""serve(): run the UI with uvicorn. `orch ui` calls it, and `orch dev` calls it beside the daemon."""

from __future__ import annotations

import os
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
    if ready is not None:
        shown = f"[{host}]" if ":" in host else host
        original = server.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            if server.started:
                ready(f"http://{shown}:{port}")

        server.startup = startup  # type: ignore[method-assign]
    server.run()
