"""Shared fixtures: event store URLs for SQLite and PostgreSQL (a fresh database per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator.storage.sql import SqlEventStore

from tests.pg import ALL_TABLES, fresh_postgres_url

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_url("orch_suite") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path) -> str:
    """The same test runs once per backend of the event store, on an empty store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'orch.db'}"
    url = request.getfixturevalue("postgres_url")
    SqlEventStore(url).close()  # migrated
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                              poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {ALL_TABLES}")
    engine.dispose()
    return url
