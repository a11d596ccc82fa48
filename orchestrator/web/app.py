"""create_app(defs, store): the FastAPI app of the UI, its JSON API (OpenAPI at /docs) and its pages."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from orchestrator.definitions import Definitions
from orchestrator.errors import (
    DefinitionError, ExecutionError, OrchestratorError, PartitionError, SelectionError, StorageConnectionError,
    UnknownAssetError, UnknownRunError,
)
from orchestrator.storage.backfills import UnknownBackfillError
from orchestrator.storage.base import EventStore
from orchestrator.web.context import WebContext
from orchestrator.web.security import (
    CSRF_COOKIE, CSRF_HEADER, OPEN_PATHS, SESSION_COOKIE, Guard, new_csrf_token,
)
from orchestrator.web.sources import OutsideProjectError

STATIC = Path(__file__).with_name("static")
PAGES = ("/", "/assets", "/graph", "/runs", "/backfills", "/automation", "/login")
_STATUS = [  # most specific first
    (UnknownAssetError, 404), (UnknownRunError, 404), (UnknownBackfillError, 404), (OutsideProjectError, 403), (SelectionError, 400),
    (PartitionError, 400), (DefinitionError, 400), (ExecutionError, 409), (StorageConnectionError, 503),
    (OrchestratorError, 400),
]
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}


def create_app(defs: Definitions, store: EventStore, *, home: str | Path | None = None,
               token: str | None = None, backfills: Any = None) -> FastAPI:
    """The UI over `defs` and `store`. `home` (ORCH_HOME) holds the layout cache and the column
    lineage results; `token` (default: $ORCH_UI_TOKEN; "" for none) makes every API call require it;
    `backfills` (a launching.BackfillProcesses) starts backfills. Runs go on the run queue."""
    from orchestrator.web import (
        routes_assets, routes_automation, routes_backfills, routes_graph, routes_launch, routes_lineage, routes_runs,
        routes_session,
    )

    token = (token if token is not None else os.environ.get("ORCH_UI_TOKEN")) or None  # "": no token
    guard = Guard(token)
    app = FastAPI(title="orch", summary="The orchestrator's JSON API: assets, lineage, runs, backfills.",
                  version="1", docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.ctx = WebContext(defs, store, home, backfills)
    app.state.guard = guard
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    _install_guard(app, guard)
    _install_errors(app)
    for module in (routes_session, routes_assets, routes_lineage, routes_graph, routes_runs, routes_launch,
                   routes_backfills, routes_automation):
        app.include_router(module.router, prefix="/api")
    _install_pages(app)
    return app


def _install_guard(app: FastAPI, guard: Guard) -> None:
    @app.middleware("http")
    async def check(request: Request, call_next):  # noqa: ANN001, ANN202 - starlette's signature
        path = request.url.path
        if not guard.host_allowed(request.headers.get("host")):
            return _refuse(400, "This server answers to loopback host names only (127.0.0.1, localhost); "
                                "serve with a token to accept others.")
        guarded = path.startswith("/api/") or path in ("/openapi.json", "/docs")
        how = guard.authenticated(request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE))
        if guarded and how is None and path not in OPEN_PATHS:
            return _refuse(401, "Authentication required: log in with the UI token "
                                "or send 'Authorization: Bearer <token>'.")
        problem = guard.csrf_error(how or "none", request.method, request.headers.get("host"),
                                   request.headers.get("origin"), request.headers.get(CSRF_HEADER),
                                   request.cookies.get(CSRF_COOKIE))
        if problem:
            return _refuse(403, problem)
        response = await call_next(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.cookies.get(CSRF_COOKIE):
            response.set_cookie(CSRF_COOKIE, new_csrf_token(), httponly=False, samesite="strict", path="/")
        return response


def _refuse(status: int, detail: str) -> Response:
    response = JSONResponse({"detail": detail}, status_code=status)
    for name, value in _HEADERS.items():
        response.headers[name] = value
    return response


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(OrchestratorError)
    async def orchestrator_error(_request: Request, exc: OrchestratorError) -> JSONResponse:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status)


def _install_pages(app: FastAPI) -> None:
    """The built bundle under /static, index.html for every page URL (the pages route themselves)."""
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="orch API",
                                   swagger_js_url="/static/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")
        # Swagger UI starts from one inline script: allow exactly that script, by its hash
        inline = re.findall(rb"<script>(.*?)</script>", page.body, re.S)
        hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in inline)
        page.headers["Content-Security-Policy"] = _HEADERS["Content-Security-Policy"].replace(
            "script-src 'self'", f"script-src 'self' {hashes}")
        return page

    def index() -> Response:
        page = STATIC / "index.html"
        if not page.is_file():
            return _refuse(503, "The UI bundle is not built: run `make bundle` (needs node and npm).")
        return FileResponse(page, headers={"Cache-Control": "no-cache"})

    for prefix in PAGES:
        app.add_api_route(prefix, index, methods=["GET"], include_in_schema=False)
        if prefix != "/":
            app.add_api_route(prefix + "/{rest:path}", index, methods=["GET"], include_in_schema=False)
