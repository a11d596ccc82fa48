"""Serving the UI of a workspace as `orch ui` and `orch dev` do: start_in_thread answers on its port,
warms the pages' data, refuses a port in use and a bind beyond loopback without a token."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from orchestrator.web.security import InsecureBindError
from orchestrator.web.server import start_in_thread
from orchestrator.workspace import Workspace
from tests.web.conftest import SHOP, free_port


def test_the_ui_of_a_workspace_serves_from_a_thread(tmp_path: Path) -> None:
    ws = Workspace(str(SHOP), str(tmp_path), None)
    port = free_port()
    server = start_in_thread(ws, port=port, token="")
    try:
        assets = httpx.get(f"http://127.0.0.1:{port}/api/assets", timeout=30).json()
        assert {a["key"] for a in assets["assets"]} >= {"orders", "revenue"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/launch", timeout=30).json()["backfills"] is True
        page = httpx.get(f"http://127.0.0.1:{port}/graph", timeout=30)
        assert page.status_code == 200 and "/static/app.js" in page.text
    finally:
        server.should_exit = True
        ws.close()


def test_a_port_in_use_or_an_open_bind_without_a_token_is_refused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCH_UI_TOKEN", raising=False)
    ws = Workspace(str(SHOP), str(tmp_path), None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="did not start"):
            start_in_thread(ws, port=taken.getsockname()[1], token="")
    with pytest.raises(InsecureBindError, match="ORCH_UI_TOKEN"):
        start_in_thread(ws, host="0.0.0.0", port=free_port())
    ws.close()
