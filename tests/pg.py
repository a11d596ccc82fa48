"""A throwaway PostgreSQL database for tests; reusable by every test package.

The server comes from ORCH_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432, no password). An
unreachable server is an error, never a skip: CI runs these tests against PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from orchestrator.storage.schema import TABLES

ALL_TABLES = ", ".join(t.name for t in TABLES)
"""Every table of the store, for a TRUNCATE that empties it between tests."""

ADMIN_URL = os.environ.get(
    "ORCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def fresh_postgres_url(prefix: str = "orch_test") -> Iterator[str]:
    """Create an empty database, yield its URL (password included), drop it afterwards."""
    admin = make_url(ADMIN_URL).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{secrets.token_hex(6)}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {admin.render_as_string(hide_password=True)} "
            f"(set ORCH_TEST_POSTGRES_URL): {exc.orig}"
        ) from exc
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        engine.dispose()
