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
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, dump_json, load_json

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0003"  # the newest revision in migrations/versions; a test pins it
_MIGRATION_LOCK = 7_302_114_552_871_936_001  # pg_advisory_xact_lock key for concurrent upgrades
_WRITE = "orch_write"  # connection execution option: this transaction writes
_IN_CHUNK = 500  # asset keys per IN (...) query

metadata = sa.MetaData()
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("selection", sa.Text),
    sa.Column("asset_keys", sa.Text, nullable=False),  # JSON list of key strings
    sa.Column("partition", sa.Text),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("ended_at", sa.Double),
    sa.Column("tags", sa.Text),  # JSON object, NULL when empty
    sa.Index("ix_runs_started_at", "started_at"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
    sa.Column("step_key", sa.Text),
    sa.Column("asset_key", sa.Text),
    sa.Column("partition", sa.Text),
    sa.Column("message", sa.Text),
    sa.Column("data", sa.Text),  # JSON object, NULL when empty
    sa.Index("ix_events_run_id_id", "run_id", "id"),
    sa.Index("ix_events_asset_key_type_id", "asset_key", "type", "id"),
)

asset_latest = sa.Table(
    "asset_latest",
    metadata,
    sa.Column("asset_key", sa.Text, primary_key=True),
    sa.Column("partition", sa.Text, primary_key=True),  # '' for an unpartitioned materialization
    sa.Column("event_id", _Id, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
)

backfills = sa.Table(
    "backfills",
    metadata,
    sa.Column("backfill_id", sa.String(64), primary_key=True),
    sa.Column("selection", sa.Text),
    sa.Column("exclude", sa.Text),
    sa.Column("range_start", sa.Text, nullable=False),
    sa.Column("range_end", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("options", sa.Text),  # JSON object
    sa.Column("error", sa.Text),
    sa.Index("ix_backfills_created_at", "created_at"),
)

backfill_chunks = sa.Table(
    "backfill_chunks",
    metadata,
    sa.Column("backfill_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("asset_keys", sa.Text, nullable=False),  # JSON list of key strings
    sa.Column("range_start", sa.Text),
    sa.Column("range_end", sa.Text),
    sa.Column("partitions", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column("updated_at", sa.Double),
)

dynamic_partitions = sa.Table(
    "dynamic_partitions",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("partition_key", sa.Text, primary_key=True),
    sa.Column("added_at", sa.Double, nullable=False),
)

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
        upsert = insert(asset_latest)
        self._upsert_latest = upsert.on_conflict_do_update(
            index_elements=[asset_latest.c.asset_key, asset_latest.c.partition],
            set_={c: upsert.excluded[c] for c in ("event_id", "run_id", "timestamp")},
            # a concurrent transaction may have committed a newer event already
            where=asset_latest.c.event_id < upsert.excluded.event_id,
        )
        try:
            self._migrate()
        except BaseException:
            self._engine.dispose()
            raise
        from orchestrator.storage.dynamic_partitions import SqlDynamicPartitionStore
        from orchestrator.storage.sql_backfills import SqlBackfillStore

        self.backfills = SqlBackfillStore(self)
        self.dynamic_partitions = SqlDynamicPartitionStore(self)

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
        row = {
            "run_id": run.run_id,
            "status": RunStatus(run.status).value,
            "selection": run.selection,
            "asset_keys": json.dumps([str(k) for k in run.asset_keys]),
            "partition": run.partition,
            "started_at": run.started_at,
            "ended_at": run.ended_at,
            "tags": dump_json(run.tags),
        }
        with self._write() as conn:
            stmt = self._dialect_insert(runs).values(row).on_conflict_do_nothing()
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
        return _run(rows[picked])

    def list_runs(self, limit: int = 50, status: RunStatus | None = None) -> list[RunRecord]:
        stmt = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(runs.c.status == RunStatus(status).value)
        with self._read() as conn:
            return [_run(row) for row in conn.execute(stmt)]

    # -- events -----------------------------------------------------------------------------

    def append(self, events_: Sequence[Event]) -> None:
        if not events_:
            return
        rows = [_event_row(e) for e in events_]
        materialized = [
            i for i, e in enumerate(events_) if e.type == EventType.MATERIALIZATION and e.asset_key
        ]
        with self._write() as conn:
            if not materialized:
                conn.execute(_INSERT_EVENTS, rows)
                return
            # Plain executemany is several times faster than INSERT ... RETURNING; the ids of this
            # batch's materializations are read back in the same transaction instead.
            before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar()
            conn.execute(_INSERT_EVENTS, rows)
            run_ids = sorted({rows[i]["run_id"] for i in materialized})
            found = conn.execute(
                sa.select(events.c.id, events.c.asset_key, events.c.partition, events.c.run_id,
                          events.c.timestamp)
                .where(events.c.id > before, events.c.type == EventType.MATERIALIZATION.value,
                       events.c.run_id.in_(run_ids))
                .order_by(events.c.id)
            )
            latest: dict[tuple[str, str], dict[str, Any]] = {}
            for row in found:  # the last one per (asset, partition) in the batch wins
                key = (row.asset_key, row.partition or "")
                latest[key] = {"asset_key": key[0], "partition": key[1], "event_id": row.id,
                               "run_id": row.run_id, "timestamp": row.timestamp}
            # sorted, so concurrent writers lock PostgreSQL rows in one order (no deadlock)
            conn.execute(self._upsert_latest, [latest[k] for k in sorted(latest)])

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
            return [_event(row) for row in conn.execute(stmt)]

    def latest_materializations(
        self, asset_keys: Collection[AssetKey] | None = None
    ) -> dict[LatestKey, Event]:
        stmt = sa.select(events).join(asset_latest, asset_latest.c.event_id == events.c.id)
        if asset_keys is None:
            stmts = [stmt]
        else:
            keys = sorted({str(k) for k in asset_keys})
            stmts = [
                stmt.where(asset_latest.c.asset_key.in_(keys[i : i + _IN_CHUNK]))
                for i in range(0, len(keys), _IN_CHUNK)
            ]
        found: dict[LatestKey, Event] = {}
        with self._read() as conn:
            for s in stmts:
                for row in conn.execute(s):
                    e = _event(row)
                    found[(e.asset_key, e.partition or None)] = e  # type: ignore[index]
        return found

    def event_count(self) -> int:
        with self._read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()


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


def _event_row(e: Event) -> dict[str, Any]:
    return {
        "run_id": e.run_id,
        "type": EventType(e.type).value,
        "timestamp": e.timestamp,
        "step_key": e.step_key,
        "asset_key": None if e.asset_key is None else str(e.asset_key),
        "partition": e.partition,
        "message": e.message,
        "data": dump_json(e.data),
    }


def _event(row: sa.Row[Any]) -> Event:
    return Event(
        run_id=row.run_id,
        type=EventType(row.type),
        timestamp=row.timestamp,
        step_key=row.step_key,
        asset_key=None if row.asset_key is None else AssetKey.parse(row.asset_key),
        partition=row.partition,
        message=row.message,
        data=load_json(row.data),
        id=row.id,
    )


def _run(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        status=RunStatus(row.status),
        selection=row.selection,
        asset_keys=tuple(AssetKey.parse(k) for k in json.loads(row.asset_keys)),
        partition=row.partition,
        started_at=row.started_at,
        ended_at=row.ended_at,
        tags=load_json(row.tags),
    )
