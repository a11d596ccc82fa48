"""open_store picks the store from a URL; connection failures name the URL, never its password."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import StorageConnectionError, StorageError
from orchestrator.storage import MemoryEventStore, SqlEventStore, open_store
from orchestrator.storage.sql import normalise_url


def test_no_url_means_sqlite_in_home(tmp_path: Path) -> None:
    home = tmp_path / "a" / "home"
    with open_store(None, home) as store:
        assert isinstance(store, SqlEventStore)
        assert store.url.get_backend_name() == "sqlite"
    assert (home / "orch.db").is_file()


def test_memory_url_means_the_in_memory_store(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://", tmp_path), MemoryEventStore)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls_use_psycopg_3(scheme: str) -> None:
    assert normalise_url(f"{scheme}://u:p@db.example:5433/orch").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg2://u@h/d").drivername == "postgresql+psycopg2"


def test_unreachable_postgres_names_the_url_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(StorageConnectionError) as info:
        open_store("postgresql://orch:s3cr3t-pw@127.0.0.1:1/orch", tmp_path)
    message = str(info.value)
    assert "postgresql+psycopg://orch:***@127.0.0.1:1/orch" in message
    assert "refused" in message.lower()
    assert "s3cr3t-pw" not in message


def test_sqlite_file_in_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(StorageConnectionError, match="unable to open database file"):
        open_store(f"sqlite:///{tmp_path}/missing/orch.db", tmp_path)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://u:pw1@h/db", r"Unsupported event store URL 'mysql://u:\*\*\*@h/db'"),
        ("sqlite://", "use memory://"),
        ("sqlite:///:memory:", "use memory://"),
        ("not a url", "Cannot parse the event store URL"),
    ],
)
def test_unsupported_urls(url: str, match: str, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=match) as info:
        open_store(url, tmp_path)
    assert "pw1" not in str(info.value)
