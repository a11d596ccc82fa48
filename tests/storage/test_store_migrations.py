"""Alembic migrations: applied on first open, skipped afterwards, shipped inside the package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import orchestrator.storage
from orchestrator.storage import Event, EventType, SqlEventStore, new_run_id
from orchestrator.storage.sql import HEAD, MIGRATIONS, metadata


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the block runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)


def test_head_constant_matches_the_revision_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_migrations_live_inside_the_package() -> None:
    package = next(iter(orchestrator.storage.__path__))
    assert MIGRATIONS.parent.samefile(package)
    assert (MIGRATIONS / "env.py").is_file()
    assert list((MIGRATIONS / "versions").glob("*.py"))


def test_opening_a_new_store_migrates_it_to_head(fresh_sql_url: str) -> None:
    with statements() as seen:
        store = SqlEventStore(fresh_sql_url)
    store.close()
    assert any(s.lstrip().upper().startswith("CREATE TABLE") for s in seen)

    engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == [HEAD]
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []  # the revisions build exactly `metadata`


def test_reopening_does_not_run_migrations(sql_url: str) -> None:
    run_id = new_run_id()
    with SqlEventStore(sql_url) as store:
        store.append([Event(run_id, EventType.LOG, 1.0, message="kept")])
    with statements() as seen:
        store = SqlEventStore(sql_url)
    with store:
        assert [e.message for e in store.events(run_id)] == ["kept"]
    assert not [s for s in seen if "CREATE" in s.upper() or "INSERT" in s.upper()]
    assert len(seen) <= 4  # a table check and one revision query (plus BEGIN on SQLite)
