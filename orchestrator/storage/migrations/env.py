"""Alembic environment of the event store.

SqlEventStore runs it with its open connection in `config.attributes["connection"]`; for writing a new
revision by hand, `sqlalchemy.url` in the config is used instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from orchestrator.storage.schema import metadata


def run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url", ""))
    with engine.begin() as conn:
        run(conn)
    engine.dispose()
