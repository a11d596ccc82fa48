"""Which Iceberg catalog to open, and errors about it that name it without its password.

- nothing given: a SQL catalog in SQLite at `$ORCH_HOME/iceberg_catalog.db`, warehouse `$ORCH_HOME/iceberg`;
- `sqlite:///path.db` or `postgresql://user:pw@host/db` (the event store's URL style): a SQL catalog,
  PostgreSQL through psycopg 3;
- `catalog_properties={"type": "rest", "uri": ...}` (or any pyiceberg catalog type): passed through
  to pyiceberg's `load_catalog`.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError
from sqlalchemy.engine import URL, make_url

from orchestrator.errors import IOManagerError
from orchestrator.secrets import mask_url

CATALOG_FILE = "iceberg_catalog.db"
WAREHOUSE_DIR = "iceberg"
CONNECT_TIMEOUT = 10  # seconds, for PostgreSQL


@dataclass(frozen=True)
class CatalogConfig:
    """A resolved catalog: pyiceberg properties, and how to name it in messages."""

    name: str
    properties: Mapping[str, str]
    shown: str
    secret: str | None = None  # scrubbed from error messages

    @property
    def is_sql(self) -> bool:
        return self.properties.get("type", "sql") == "sql"


def resolve(catalog_url: str | None, warehouse: str | Path | None, properties: Mapping[str, Any] | None,
            name: str, home: Path, lock_timeout: float) -> CatalogConfig:
    """The catalog the IO manager's arguments describe (home is `$ORCH_HOME`, resolved by the caller)."""
    props = {k: str(v) for k, v in (properties or {}).items()}
    if props.get("type", "sql") != "sql":  # REST, Glue, Hive...: pass through
        if catalog_url is not None:
            raise IOManagerError(
                f"IcebergIOManager got both catalog_url '{_hide_password(catalog_url)}' (a SQL catalog) and "
                f"catalog_properties of type '{props['type']}': give the {props['type']} catalog's `uri` in "
                "catalog_properties, or drop its `type` to use the SQL catalog."
            )
        if warehouse is not None:
            props.setdefault("warehouse", _warehouse_uri(warehouse))
        uri = props.get("uri", props["type"])
        return CatalogConfig(name, props, _hide_password(uri), urllib.parse.urlsplit(uri).password)
    if catalog_url is None:
        catalog_url = props.pop("uri", None) or f"sqlite:///{home / CATALOG_FILE}"
    url = _sql_url(catalog_url, lock_timeout)
    if url.drivername.startswith("sqlite") and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    location = warehouse if warehouse is not None else props.pop("warehouse", None) or home / WAREHOUSE_DIR
    props.update(type="sql", uri=url.render_as_string(hide_password=False), warehouse=_warehouse_uri(location))
    return CatalogConfig(name, props, url.render_as_string(hide_password=True), url.password)

CREATE_RACE_RETRIES = 3


def open_catalog(config: CatalogConfig) -> Catalog:
    with catalog_errors(config):
        if not config.is_sql:
            return load_catalog(config.name, **config.properties)
        props = dict(config.properties)
        url = make_url(props["uri"])
        if url.drivername.startswith("sqlite") and url.database:
            _enable_wal(url.database)
        attempts = 1
        while True:
            try:
                return SqlCatalog(config.name, **props)
            except sqlalchemy.exc.DBAPIError as exc:
                # pyiceberg creates its tables when they are missing; two processes opening a new
                # catalog at once both try, and the loser finds them made: open it again.
                if attempts >= CREATE_RACE_RETRIES or not _lost_create_race(exc):
                    raise
                attempts += 1


def _lost_create_race(exc: Exception) -> bool:
    text = str(exc).lower()
    return "already exists" in text or "duplicate" in text


def ensure_namespace(catalog: Catalog, namespace: tuple[str, ...]) -> None:
    """Create the namespace unless it exists (concurrent creators are fine)."""
    if catalog.namespace_exists(namespace):
        return
    try:
        catalog.create_namespace_if_not_exists(namespace)
    except (NamespaceAlreadyExistsError, sqlalchemy.exc.IntegrityError):  # a concurrent creator won
        pass


@contextmanager
def catalog_errors(config: CatalogConfig, what: str = "") -> Iterator[None]:
    """Turn database errors (unreachable, locked, refused) into IOManagerError naming the catalog."""
    try:
        yield
    except sqlalchemy.exc.DBAPIError as exc:
        detail = _scrub(str(exc.orig if exc.orig is not None else exc).strip(), config.secret)
        if "locked" in detail.lower():
            message = (f"The Iceberg catalog {config.shown} is locked by another process{what}: {detail}. "
                       "Wait for it to finish (or raise lock_timeout), then retry.")
        else:
            message = (f"Cannot reach the Iceberg catalog {config.shown}{what}: {detail}. Check that the "
                       "database is running and the URL, user and password are right.")
        raise IOManagerError(message) from None
    except (ConnectionError, OSError) as exc:  # a REST catalog that does not answer
        raise IOManagerError(
            f"Cannot reach the Iceberg catalog {config.shown}{what}: {_scrub(str(exc), config.secret)}."
        ) from None


def _sql_url(url: str, lock_timeout: float) -> URL:
    """sqlite:///path.db or postgresql://... as a SQLAlchemy URL with a lock or connect timeout."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError as exc:
        raise IOManagerError(f"Not a catalog URL: '{_hide_password(url)}' ({exc}).") from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "postgresql+psycopg" and "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT)})
    elif parsed.drivername == "sqlite" and "timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"timeout": str(lock_timeout)})
    if not (parsed.drivername.startswith("sqlite") or parsed.drivername.startswith("postgresql")):
        raise IOManagerError(
            f"Unsupported Iceberg catalog URL '{parsed.render_as_string(hide_password=True)}': use "
            "sqlite:///path.db or postgresql://user:password@host/db, or pass "
            "catalog_properties={'type': 'rest', 'uri': ...} for a REST catalog."
        )
    return parsed


def _warehouse_uri(location: str | Path) -> str:
    text = str(location)
    if "://" in text:
        return text
    path = Path(text).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()


def _enable_wal(path: str) -> None:
    """WAL lets readers load tables while a writer commits (a setting stored in the file, set once)."""
    with suppress(sqlite3.Error):
        con = sqlite3.connect(path, timeout=1)
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()


def _hide_password(uri: str) -> str:
    return mask_url(uri)


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text
