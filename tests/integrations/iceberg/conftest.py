"""IcebergIOManager on real catalogs: SQLite in tmp_path and PostgreSQL (one fresh database per session).

Tests on PostgreSQL share the database; each gets a catalog name of its own, so tables never collide.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integrations.iceberg import IcebergIOManager
from orchestrator.io.base import InputContext, OutputContext
from orchestrator.keys import AssetKey
from tests.integrations.iceberg.data import DAILY, counts_by_day, day_rows  # noqa: F401 - re-exported
from tests.pg import fresh_postgres_url

@pytest.fixture(scope="session")
def iceberg_postgres_url() -> Iterator[str]:
    with fresh_postgres_url("orch_iceberg") as url:
        yield url.replace("postgresql+psycopg://", "postgresql://")  # the event store's URL style


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Arguments for IcebergIOManager: a SQLite or a PostgreSQL catalog, a warehouse in tmp_path."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = request.getfixturevalue("iceberg_postgres_url")
    return {"catalog_url": url, "warehouse": tmp_path / "warehouse",
            "catalog_name": f"test_{secrets.token_hex(4)}"}


@pytest.fixture
def make_io(catalog: dict[str, Any]) -> Callable[..., IcebergIOManager]:
    return lambda **kw: IcebergIOManager(**{**catalog, **kw})


@pytest.fixture
def io(make_io: Callable[..., IcebergIOManager]) -> IcebergIOManager:
    return make_io()


def write(io: IcebergIOManager, key: str, value: Any, partition: str | None = None,
          metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return dict(io.write(OutputContext(AssetKey.parse(key), partition, "run-1", metadata or {}), value))


def read(io: IcebergIOManager, key: str, partition: str | None = None, metadata: dict[str, Any] | None = None,
         **kw: Any) -> Any:
    return io.read(InputContext(AssetKey.parse(key), partition, metadata=metadata or {}, **kw))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest resets warning filters per test; the IO manager silences this one (a replace that finds
    # nothing to delete, e.g. a partition's first write) at import, as in production.
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:Delete operation did not match any records"))
