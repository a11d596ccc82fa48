"""SqlEventStore: one SQLAlchemy Core code path for SQLite (WAL, the embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from orchestrator.errors import StorageConnectionError, StorageError
from orchestrator.keys import AssetKey
from orchestrator.secrets import escape_password_at, mask_url
from orchestrator.storage.base import LatestKey, EventStore, duplicate_run, pick_run_id, unknown_run
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, load_json
from orchestrator.storage.schema import (  # noqa: F401 - metadata: the migrations' target
    asset_failures, asset_latest, check_latest, events, metadata, runs,
)
from orchestrator.storage.sql_rows import event_from_row, event_row, run_from_row, run_row

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0004"  # the newest revision in migrations/versions; a test pins it
_MIGRATION_LOCK = 7_302_114_552_871_936_001  # pg_advisory_xact_lock key for concurrent upgrades
_WRITE = "orch_write"  # connection execution option: this transaction writes
_IN_CHUNK = 500  # asset keys per IN (...) query

_INSERT_EVENTS = events.insert()
# ids come back in parameter order; only batches with materializations need them


class SqlEventStore(EventStore):
    """The event store in SQLite or PostgreSQL; migrates the schema to head when opened.

    Accepts `sqlite:///path/orch.db` and `postgresql://user:password@host/db` (psycopg 3).
    """

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self._shown = mask_url(self.url.render_as_string(hide_password=False))
        self._engine = _create_engine(self.url)
        insert = postgresql.insert if self.url.get_backend_name() == "postgresql" else sqlite.insert
        self._dialect_insert = insert  # both dialects have ON CONFLICT
        self._upserts = {
            EventType.MATERIALIZATION: _newest_wins(insert, asset_latest, ("asset_key", "partition"),
                                                    ("event_id", "run_id", "timestamp")),
            EventType.STEP_FAILED: _newest_wins(insert, asset_failures, ("asset_key", "partition"),
                                                ("event_id", "run_id", "timestamp")),
            EventType.CHECK_RESULT: _newest_wins(insert, check_latest, ("asset_key", "check_name"),
                                                 ("event_id", "run_id", "timestamp", "passed")),
        }
        try:
            self._migrate()
        except BaseException:
            self._engine.dispose()
            raise
        from orchestrator.storage.dynamic_partitions import SqlDynamicPartitionStore
        from orchestrator.storage.sql_automation import SqlAutomationStore
        from orchestrator.storage.sql_backfills import SqlBackfillStore
        from orchestrator.storage.sql_queue import SqlRunQueue
        from orchestrator.storage.sql_triggers import SqlTriggerStore

        self.backfills = SqlBackfillStore(self)
        self.dynamic_partitions = SqlDynamicPartitionStore(self)
        self.queue = SqlRunQueue(self)
        self.triggers = SqlTriggerStore(self)
        self.automation = SqlAutomationStore(self)

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def __repr__(self) -> str:
        return f"SqlEventStore({self._shown!r})"

    # -- connections ------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._connect() as conn, self._reraise():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._connect() as conn, self._reraise():
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def _connect(self) -> sa.Connection:
        try:
            return self._engine.connect()
        except sa.exc.DBAPIError as exc:
            raise StorageConnectionError(
                f"Cannot connect to the event store at {self._shown}: {_reason(exc)}"
            ) from exc

    @contextmanager
    def _reraise(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise StorageConnectionError(
                    f"Lost the connection to the event store at {self._shown}: {_reason(exc)}"
                ) from exc
            raise StorageError(f"Event store {self._shown}: {_reason(exc)}") from exc

    def _migrate(self) -> None:
        with self._read() as conn:
            if _revision(conn) == HEAD:  # the fast path: two small queries, no alembic import
                return
        with self._write() as conn:
            # SQLite's BEGIN IMMEDIATE already serialises concurrent openers; PostgreSQL needs a lock.
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            revision = _revision(conn)
            if revision != HEAD:
                try:
                    _upgrade(conn)
                except Exception as exc:
                    raise StorageError(
                        f"Cannot migrate the event store at {self._shown} from revision "
                        f"{revision or 'none'} to {HEAD}: {exc}"
                    ) from exc

    def close(self) -> None:
        self._engine.dispose()

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        with self._write() as conn:
            self._insert_run(conn, run)

    def _insert_run(self, conn: sa.Connection, run: RunRecord) -> None:
        stmt = self._dialect_insert(runs).values(run_row(run)).on_conflict_do_nothing()
        if conn.execute(stmt.returning(runs.c.run_id)).first() is None:
            raise duplicate_run(run.run_id)

    def finish_run(self, run_id: str, status: RunStatus, ended_at: float) -> None:
        stmt = (
            runs.update()
            .where(runs.c.run_id == run_id)
            .values(status=RunStatus(status).value, ended_at=ended_at)
        )
        with self._write() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise unknown_run(run_id)

    def get_run(self, run_id: str) -> RunRecord:
        run_id = run_id.strip()
        # an exact id sorts before the longer ids it prefixes, so the limit keeps it
        stmt = (
            sa.select(runs)
            .where(sa.func.substr(runs.c.run_id, 1, len(run_id)) == run_id)
            .order_by(runs.c.run_id)
            .limit(6)
        )
        recent = sa.select(runs.c.run_id).order_by(runs.c.started_at.desc()).limit(1000)
        with self._read() as conn:
            rows = {row.run_id: row for row in conn.execute(stmt)}
            picked = pick_run_id(run_id, list(rows), lambda: conn.execute(recent).scalars().all())
        return run_from_row(rows[picked])

    def list_runs(self, limit: int = 50, status: RunStatus | None = None,
                  statuses: Collection[RunStatus] | None = None) -> list[RunRecord]:
        stmt = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).limit(limit)
        wanted = [RunStatus(s).value for s in ([status] if status is not None else statuses or ())]
        if wanted:
            stmt = stmt.where(runs.c.status.in_(wanted))
        with self._read() as conn:
            return [run_from_row(row) for row in conn.execute(stmt)]

    # -- events -----------------------------------------------------------------------------

    def append(self, events_: Sequence[Event]) -> None:
        if not events_:
            return
        rows = [event_row(e) for e in events_]
        tracked = [e for e in events_ if e.asset_key is not None and e.type in self._upserts]
        with self._write() as conn:
            if not tracked:
                conn.execute(_INSERT_EVENTS, rows)
                return
            # Plain executemany is several times faster than INSERT ... RETURNING; the ids of this
            # batch's tracked events are read back in the same transaction instead.
            before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar()
            conn.execute(_INSERT_EVENTS, rows)
            run_ids = sorted({e.run_id for e in tracked})
            types = sorted({EventType(e.type).value for e in tracked})
            found = conn.execute(
                sa.select(events.c.id, events.c.type, events.c.asset_key, events.c.partition,
                          events.c.run_id, events.c.timestamp, events.c.data)
                .where(events.c.id > before, events.c.type.in_(types), events.c.asset_key.isnot(None),
                       events.c.run_id.in_(run_ids))
                .order_by(events.c.id)
            )
            newest: dict[EventType, dict[tuple[str, str], dict[str, Any]]] = {t: {} for t in self._upserts}
            for row in found:  # the last one per key in the batch wins
                type_ = EventType(row.type)
                common = {"asset_key": row.asset_key, "event_id": row.id, "run_id": row.run_id,
                          "timestamp": row.timestamp}
                if type_ is EventType.CHECK_RESULT:
                    data = load_json(row.data)
                    if "check" not in data:
                        continue
                    key = (row.asset_key, str(data["check"]))
                    newest[type_][key] = {**common, "check_name": key[1], "passed": bool(data.get("passed"))}
                else:
                    key = (row.asset_key, row.partition or "")
                    newest[type_][key] = {**common, "partition": key[1]}
            for type_, latest in newest.items():
                if latest:  # sorted, so concurrent writers lock PostgreSQL rows in one order (no deadlock)
                    conn.execute(self._upserts[type_], [latest[k] for k in sorted(latest)])

    def events(
        self,
        run_id: str,
        types: Collection[EventType] | None = None,
        after_id: int | None = None,
    ) -> list[Event]:
        stmt = sa.select(events).where(events.c.run_id == run_id).order_by(events.c.id)
        if types is not None:
            stmt = stmt.where(events.c.type.in_([EventType(t).value for t in types]))
        if after_id is not None:
            stmt = stmt.where(events.c.id > after_id)
        with self._read() as conn:
            return [event_from_row(row) for row in conn.execute(stmt)]

    def latest_materializations(
        self, asset_keys: Collection[AssetKey] | None = None
    ) -> dict[LatestKey, Event]:
        return self._latest_joined(asset_latest, asset_keys, lambda e: (e.asset_key, e.partition or None))

    def asset_events(self, asset_keys: Collection[AssetKey], types: Collection[EventType] = (EventType.MATERIALIZATION,),
                     after_id: int | None = None, limit: int = 1000) -> list[Event]:
        stmt = (sa.select(events).where(events.c.asset_key.in_(sorted({str(k) for k in asset_keys})),
                                        events.c.type.in_([EventType(t).value for t in types]))
                .order_by(events.c.id).limit(limit))
        if after_id is not None:
            stmt = stmt.where(events.c.id > after_id)
        with self._read() as conn:
            return [event_from_row(row) for row in conn.execute(stmt)]

    def max_event_id(self) -> int:
        with self._read() as conn:
            return conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar_one()

    def latest_failures(self, asset_keys: Collection[AssetKey] | None = None) -> dict[LatestKey, Event]:
        return self._latest_joined(asset_failures, asset_keys, lambda e: (e.asset_key, e.partition or None))

    def latest_check_results(
        self, asset_keys: Collection[AssetKey] | None = None
    ) -> dict[tuple[AssetKey, str], Event]:
        return self._latest_joined(check_latest, asset_keys, lambda e: (e.asset_key, str(e.data.get("check"))))

    def _latest_joined(self, table: sa.Table, asset_keys: Collection[AssetKey] | None, key_of: Any) -> dict:
        stmt = sa.select(events).join(table, table.c.event_id == events.c.id)
        found: dict = {}
        with self._read() as conn:
            for s in _in_chunks(stmt, table.c.asset_key, asset_keys):
                for row in conn.execute(s):
                    e = event_from_row(row)
                    found[key_of(e)] = e
        return found

    def event_count(self) -> int:
        with self._read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()

    # -- reads for the web UI ---------------------------------------------------------------------

    def events_after(
        self,
        after_id: int = 0,
        *,
        limit: int = 1000,
        run_id: str | None = None,
        types: Collection[EventType] | None = None,
        step_key: str | None = None,
        asset_key: AssetKey | None = None,
    ) -> list[Event]:
        stmt = sa.select(events).where(events.c.id > after_id).order_by(events.c.id).limit(limit)
        if run_id is not None:
            stmt = stmt.where(events.c.run_id == run_id)
        if types is not None:
            stmt = stmt.where(events.c.type.in_([EventType(t).value for t in types]))
        if step_key is not None:
            stmt = stmt.where(events.c.step_key == step_key)
        if asset_key is not None:
            stmt = stmt.where(events.c.asset_key == str(asset_key))
        with self._read() as conn:
            return [event_from_row(row) for row in conn.execute(stmt)]

    def asset_history(
        self,
        asset_key: AssetKey,
        types: Collection[EventType],
        *,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Event]:
        # one indexed range per type (ix_events_asset_key_type_id), newest first, merged
        found: list[Event] = []
        with self._read() as conn:
            for type_ in sorted({EventType(t).value for t in types}):
                part = sa.select(events).where(events.c.asset_key == str(asset_key), events.c.type == type_)
                if before_id is not None:
                    part = part.where(events.c.id < before_id)
                found.extend(event_from_row(row) for row in conn.execute(part.order_by(events.c.id.desc()).limit(limit)))
        found.sort(key=lambda e: e.id or 0, reverse=True)
        return found[:limit]

    def latest_materialization_per_asset(self) -> dict[AssetKey, Event]:
        newest = sa.select(sa.func.max(asset_latest.c.event_id).label("id")).group_by(asset_latest.c.asset_key).subquery()
        stmt = sa.select(events).join(newest, newest.c.id == events.c.id)
        with self._read() as conn:
            return {e.asset_key: e for e in map(event_from_row, conn.execute(stmt)) if e.asset_key is not None}

    def runs_page(
        self,
        *,
        limit: int = 50,
        statuses: Collection[RunStatus] | None = None,
        asset_key: AssetKey | None = None,
        launched_by: str | None = None,
        started_after: float | None = None,
        started_before: float | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunRecord]:
        stmt = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).limit(limit)
        if statuses is not None:
            stmt = stmt.where(runs.c.status.in_([RunStatus(s).value for s in statuses]))
        if asset_key is not None:  # the key as it appears in the JSON list, LIKE wildcards escaped
            quoted = json.dumps(str(asset_key)).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(runs.c.asset_keys.like(f"%{quoted}%", escape="\\"))
        if launched_by is not None:
            stmt = stmt.where(runs.c.launched_by == launched_by)
        if started_after is not None:
            stmt = stmt.where(runs.c.started_at >= started_after)
        if started_before is not None:
            stmt = stmt.where(runs.c.started_at < started_before)
        if before is not None:
            at, run_id = before
            stmt = stmt.where(sa.or_(runs.c.started_at < at,
                                     sa.and_(runs.c.started_at == at, runs.c.run_id < run_id)))
        with self._read() as conn:
            return [run_from_row(row) for row in conn.execute(stmt)]


def _in_chunks(stmt: sa.Select, column: sa.Column, keys: Collection[AssetKey] | None) -> list[sa.Select]:
    if keys is None:
        return [stmt]
    ordered = sorted({str(k) for k in keys})
    return [stmt.where(column.in_(ordered[i : i + _IN_CHUNK])) for i in range(0, len(ordered), _IN_CHUNK)]


def _newest_wins(insert: Any, table: sa.Table, key: tuple[str, ...], values: tuple[str, ...]) -> Any:
    upsert = insert(table)
    return upsert.on_conflict_do_update(
        index_elements=[table.c[c] for c in key],
        set_={c: upsert.excluded[c] for c in values},
        # a concurrent transaction may have committed a newer event already
        where=table.c.event_id < upsert.excluded.event_id,
    )


def normalise_url(url: str) -> URL:
    """Parse a store URL; `postgresql://` and `postgres://` get the psycopg 3 driver."""
    try:
        parsed = make_url(escape_password_at(url))
    except sa.exc.ArgumentError:
        raise StorageError(
            f"Cannot parse the event store URL '{mask_url(url)}'; use sqlite:///path/orch.db, "
            "postgresql://user:password@host/db or memory://."
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StorageError("An in-memory SQLite store is not shared between threads; use memory://.")
    if backend not in ("sqlite", "postgresql"):
        raise StorageError(
            f"Unsupported event store URL '{mask_url(url)}': "
            "use sqlite:///path/orch.db, postgresql://user:password@host/db or memory://."
        )
    return parsed


def _create_engine(url: URL) -> sa.Engine:
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url)
    engine = sa.create_engine(url, connect_args={"timeout": 30})
    sa_event.listen(engine, "connect", _sqlite_connect)
    sa_event.listen(engine, "begin", _sqlite_begin)
    return engine


def _enable_wal(cursor: Any, timeout: float = 30.0) -> None:
    """WAL is a property of the file, set once. Switching a new file to it can fail with "database is
    locked" while another process writes, without SQLite's busy handler waiting: retry until set."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (_sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A writer takes the lock up front: a deferred transaction that reads and then writes fails
    # with "database is locked" instead of waiting when another process wrote meanwhile.
    immediate = conn.get_execution_options().get(_WRITE)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _upgrade(conn: sa.Connection) -> None:
    from alembic import command  # only imported when there is something to migrate
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _reason(exc: sa.exc.DBAPIError) -> str:
    return " ".join(str(exc.orig).split()) or type(exc.orig).__name__
