"""Shared fixtures: event store URLs for SQLite and PostgreSQL (a fresh database per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import fresh_postgres_url

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_url("orch_suite") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path) -> str:
    """The same test runs once per backend of the event store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'orch.db'}"
    return request.getfixturevalue("postgres_url")
