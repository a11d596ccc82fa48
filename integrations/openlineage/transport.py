"""Which OpenLineage client a run uses, from the environment (None: OpenLineage is off)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

URL_ENV = "ORCH_OPENLINEAGE_URL"
NAMESPACE_ENV = "ORCH_OPENLINEAGE_NAMESPACE"
DEFAULT_NAMESPACE = "orchestrator"
STANDARD_ENV = ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG")


def enabled() -> bool:
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    return bool(os.environ.get(URL_ENV) or any(os.environ.get(k) for k in STANDARD_ENV)
                or any(k.startswith("OPENLINEAGE__TRANSPORT") for k in os.environ))


def namespace() -> str:
    return os.environ.get(NAMESPACE_ENV) or os.environ.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE


def client_from_environment() -> Any:
    """An OpenLineageClient for ORCH_OPENLINEAGE_URL (http(s)://, file://, console), else the
    client's own resolution of the OPENLINEAGE_* variables; None when OpenLineage is off."""
    if not enabled():
        return None
    from openlineage.client import OpenLineageClient

    url = os.environ.get(URL_ENV)
    if not url:
        return OpenLineageClient()
    return OpenLineageClient(transport=transport_for(url))


def transport_for(url: str) -> Any:
    parsed = urlparse(url)
    if url == "console":
        from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport

        return ConsoleTransport(ConsoleConfig())
    if parsed.scheme == "file":
        from openlineage.client.transport.file import FileConfig, FileTransport

        return FileTransport(FileConfig(log_file_path=parsed.path, append=True))
    if parsed.scheme in ("http", "https"):
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        base = f"{parsed.scheme}://{parsed.netloc}"
        endpoint = parsed.path.strip("/") or "api/v1/lineage"
        return HttpTransport(HttpConfig(url=base, endpoint=endpoint, timeout=5.0))
    raise ValueError(f"{URL_ENV}={url!r}: expected http(s)://..., file:///path or console.")
