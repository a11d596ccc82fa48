"""Web UI fixtures: the shop's definitions over a real store (SQLite and PostgreSQL), a TestClient,
and a real server on a free port for streams and the browser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator import materialize
from orchestrator.definitions import Definitions, load_definitions
from orchestrator.storage.base import EventStore
from orchestrator.storage.open import open_store
from orchestrator.web.app import create_app
from tests.conftest import FIXTURES

SHOP = FIXTURES / "defs" / "web_shop.py"
LOCAL = "http://127.0.0.1"


@dataclass
class Shop:
    defs: Definitions
    store: EventStore
    home: Path

    def run(self, selection: str, **kw: Any) -> Any:
        return materialize(self.defs, selection, store=self.store, home=self.home, **kw)


@pytest.fixture
def shop(storage_url: str, tmp_path: Path) -> Iterator[Shop]:
    store = open_store(storage_url, tmp_path)
    yield Shop(load_definitions(str(SHOP)), store, tmp_path)
    store.close()


@pytest.fixture
def memory_shop(tmp_path: Path) -> Shop:
    """The shop over the in-memory store: for tests about the server, not the store."""
    return Shop(load_definitions(str(SHOP)), open_store("memory://", tmp_path), tmp_path)


@pytest.fixture
def client(shop: Shop) -> Iterator[TestClient]:
    with TestClient(create_app(shop.defs, shop.store, home=shop.home, token=""), base_url=LOCAL) as found:
        yield found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """uvicorn serving an app in a thread, as `orch ui` does; stopped at teardown."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"{LOCAL}:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, name="orch-test-ui", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test UI server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
