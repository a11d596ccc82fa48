"""The web UI: `create_app(defs, store)` is a FastAPI app serving a JSON API and the built pages.

Importing this package is light: FastAPI is imported by `orchestrator.web.app` only.

    from orchestrator.web.app import create_app
    from orchestrator.web.server import serve
"""
