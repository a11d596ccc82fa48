"""Catalog trouble is an IOManagerError naming the catalog, never its password."""

from __future__ import annotations

import sqlite3

import pytest

from integrations.iceberg import IcebergIOManager
from orchestrator.errors import IOManagerError
from tests.integrations.iceberg.conftest import day_rows, read, write


def test_an_unreachable_postgres_catalog_is_named_without_its_password(tmp_path):
    io = IcebergIOManager("postgresql://orch:s3cret-pw@127.0.0.1:1/lake", tmp_path / "wh")

    with pytest.raises(IOManagerError) as caught:
        write(io, "raw/events", day_rows("2024-01-01", 1))
    message = str(caught.value)
    assert "Cannot reach the Iceberg catalog postgresql+psycopg://orch:***@127.0.0.1:1/lake" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(caught.value.__cause__)
    with pytest.raises(IOManagerError, match="Cannot reach the Iceberg catalog") as caught:
        read(io, "raw/events")
    assert "s3cret-pw" not in str(caught.value)


def test_a_catalog_locked_by_another_process_is_reported_after_the_lock_timeout(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    io = IcebergIOManager(url, tmp_path / "wh", lock_timeout=0.3)
    write(io, "raw/events", day_rows("2024-01-01", 1))
    holder = sqlite3.connect(tmp_path / "catalog.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(IOManagerError, match=f"The Iceberg catalog {url}.* is locked by another process"):
            write(io, "raw/events", day_rows("2024-01-02", 1))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    write(io, "raw/events", day_rows("2024-01-02", 1))  # free again: works


def test_an_unsupported_catalog_url_says_what_is_supported(tmp_path):
    io = IcebergIOManager("mysql://u:pw@host/db", tmp_path / "wh")
    with pytest.raises(IOManagerError, match=r"Unsupported Iceberg catalog URL 'mysql://u:\*\*\*@host/db'"):
        write(io, "t", day_rows("2024-01-01", 1))


def test_other_catalog_types_pass_their_properties_through(tmp_path):
    io = IcebergIOManager(catalog_properties={"type": "rest", "uri": "http://user:pw@127.0.0.1:1/catalog"})
    assert io.config.properties["type"] == "rest"
    assert io.config.shown == "http://user:***@127.0.0.1:1/catalog"
    unreachable = r"Cannot reach the Iceberg catalog http://user:\*\*\*@127.0.0.1:1"
    with pytest.raises(IOManagerError, match=unreachable) as caught:
        write(io, "t", day_rows("2024-01-01", 1))
    assert ":pw@" not in str(caught.value)


def test_a_sql_catalog_url_and_another_catalog_type_do_not_mix(tmp_path):
    io = IcebergIOManager("sqlite:///x.db", catalog_properties={"type": "rest", "uri": "http://h/c"})
    with pytest.raises(IOManagerError, match="both catalog_url 'sqlite:///x.db'.*type 'rest'"):
        write(io, "t", day_rows("2024-01-01", 1))
