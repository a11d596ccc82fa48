"""Store fixtures: every store test runs against memory, SQLite (a tmp file) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator.storage import EventStore, SqlEventStore, open_store
from tests.pg import ALL_TABLES, fresh_postgres_url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One database for the session; the store fixtures empty it before each test."""
    with fresh_postgres_url() as url:
        SqlEventStore(url).close()  # migrate once
        yield url


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def _emptied(engine: sa.Engine) -> str:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {ALL_TABLES} RESTART IDENTITY")
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def postgres_store_url(postgres_engine: sa.Engine) -> str:
    """An empty, migrated PostgreSQL store."""
    return _emptied(postgres_engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated SQL store."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'orch.db'}"
        SqlEventStore(url).close()
        return url
    return _emptied(request.getfixturevalue("postgres_engine"))


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'orch.db'}"
    else:
        url = _emptied(request.getfixturevalue("postgres_engine"))
    with open_store(url, tmp_path) as opened:
        yield opened
