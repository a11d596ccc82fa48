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
    return request.getfixturevalue("empty_postgres_url")


@pytest.fixture
def empty_postgres_url(postgres_url: str) -> str:
    """The session's PostgreSQL store, migrated and emptied for this test."""
    SqlEventStore(postgres_url).close()  # migrated
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1),
                              poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {ALL_TABLES}")
    engine.dispose()
    return postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new SQL database that no store has opened yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        with fresh_postgres_url() as url:
            yield url
