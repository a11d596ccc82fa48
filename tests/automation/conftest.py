"""Automation tests run against the in-memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.storage import EventStore, open_store


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    url = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path / 'orch.db'}"}.get(request.param) \
        or request.getfixturevalue("empty_postgres_url")
    with open_store(url, tmp_path) as opened:
        yield opened
