"""Resources: validated fields, EnvVar read at run time and never shown, injection by parameter
name, name clashes, one setup/teardown per run, IO managers as resources."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from orchestrator import (
    ConfigurableResource, Definitions, EnvVar, IOManager, MemoryEventStore, MemoryIOManager, asset,
    materialize,
)
from orchestrator.errors import DefinitionError, ExecutionError, ResourceError
from orchestrator.io.base import not_materialized
from orchestrator.keys import AssetKey

LIFECYCLE: list[str] = []
_LOCK = threading.Lock()


class Warehouse(ConfigurableResource):
    path: str
    threads: int = 4

    def setup(self) -> None:
        with _LOCK:
            LIFECYCLE.append(f"setup {self.path}")

    def teardown(self) -> None:
        with _LOCK:
            LIFECYCLE.append("teardown")


@asset
def orders() -> list[int]:
    return [1, 2, 3]


@asset
def loaded(orders: list[int], warehouse: Warehouse) -> str:
    return f"{len(orders)} rows into {warehouse.path} with {warehouse.threads} threads"


@asset
def audited(orders: list[int], warehouse) -> str:  # no annotation: the name alone is the wiring
    return warehouse.path


@asset
def summary(loaded: str, audited: str) -> str:
    return f"{loaded}; {audited}"


@pytest.fixture(autouse=True)
def _fresh_lifecycle():
    LIFECYCLE.clear()


def test_fields_are_validated_when_the_resource_is_made():
    assert Warehouse(path="w.duckdb", threads="8").threads == 8
    with pytest.raises(ResourceError, match="field 'threads'"):
        Warehouse(path="w.duckdb", threads="many")
    with pytest.raises(ResourceError, match="missing required"):
        Warehouse(threads=EnvVar("THREADS"))
    with pytest.raises(ResourceError, match="nope"):
        Warehouse(path=EnvVar("P"), nope=1)


def test_a_parameter_naming_a_resource_receives_it_and_is_no_dependency():
    defs = Definitions(assets=[orders, loaded, audited, summary],
                       resources={"warehouse": Warehouse(path="w.duckdb")})
    assert defs.graph.parents(AssetKey.coerce("loaded")) == {AssetKey.coerce("orders")}
    assert defs.graph.parents(AssetKey.coerce("audited")) == {AssetKey.coerce("orders")}
    result = materialize(defs)
    assert result.success, result.causes
    assert result.value("summary") == "3 rows into w.duckdb with 4 threads; w.duckdb"


def test_setup_and_teardown_happen_once_per_run_even_with_parallel_users():
    defs = Definitions(assets=[orders, loaded, audited, summary],
                       resources={"warehouse": Warehouse(path="w.duckdb")})
    materialize(defs, max_concurrency=4)
    assert LIFECYCLE == ["setup w.duckdb", "teardown"]
    materialize(defs, "orders")  # a run that uses no resource sets none up
    assert LIFECYCLE == ["setup w.duckdb", "teardown"]
    materialize(defs)
    assert LIFECYCLE == ["setup w.duckdb", "teardown"] * 2


def test_teardown_also_runs_when_an_asset_fails():
    @asset
    def broken(warehouse: Warehouse) -> None:
        raise RuntimeError("boom")

    result = materialize(Definitions(assets=[broken], resources={"warehouse": Warehouse(path="w")}))
    assert not result.success
    assert LIFECYCLE == ["setup w", "teardown"]


def test_env_var_is_read_at_run_time_and_never_shown(monkeypatch):
    monkeypatch.delenv("ORCH_TEST_WAREHOUSE", raising=False)
    resource = Warehouse(path=EnvVar("ORCH_TEST_WAREHOUSE"))  # not set yet: fine until a run
    defs = Definitions(assets=[orders, loaded], resources={"warehouse": resource})
    store = MemoryEventStore()

    failed = materialize(defs, store=store)
    assert failed.assets[AssetKey.coerce("loaded")] == "failed"
    assert "ORCH_TEST_WAREHOUSE, which is not set" in failed.causes[AssetKey.coerce("loaded")]

    monkeypatch.setenv("ORCH_TEST_WAREHOUSE", "/very/secret/path")
    result = materialize(defs, store=store)
    assert result.value("loaded") == "3 rows into /very/secret/path with 4 threads"
    assert LIFECYCLE == ["setup /very/secret/path", "teardown"]
    monkeypatch.setenv("ORCH_TEST_WAREHOUSE", "/another/path")  # the next run reads it again
    assert materialize(defs).value("loaded").endswith("/another/path with 4 threads")

    events = [e for run in store.list_runs(10) for e in store.events(run.run_id)]
    assert "secret" not in repr(events) and "secret" not in repr(resource)


def test_a_value_from_the_environment_that_fails_validation_is_not_repeated(monkeypatch):
    monkeypatch.setenv("ORCH_TEST_THREADS", "hunter2-secret")
    resource = Warehouse(path="w", threads=EnvVar("ORCH_TEST_THREADS"))
    result = materialize(Definitions(assets=[orders, loaded], resources={"warehouse": resource}))
    cause = result.causes[AssetKey.coerce("loaded")]
    assert "Resource 'warehouse' (Warehouse) is not valid: field 'threads'" in cause
    assert "hunter2" not in cause


def test_resolved_resources_mask_what_came_from_the_environment(monkeypatch):
    monkeypatch.setenv("ORCH_TEST_WAREHOUSE", "/very/secret/path")
    ready = Warehouse(path=EnvVar("ORCH_TEST_WAREHOUSE")).resolved()
    assert ready.path == "/very/secret/path"
    assert "secret" not in repr(ready) and "secret" not in str(ready)


def test_a_resource_named_like_an_asset_is_an_error_naming_both():
    with pytest.raises(DefinitionError) as error:
        Definitions(assets=[orders, loaded], resources={"orders": Warehouse(path="w"),
                                                        "warehouse": Warehouse(path="w")})
    message = str(error.value)
    assert "Resource 'orders' (Warehouse)" in message and "asset 'orders'" in message
    assert "test_resources" in message  # where the asset is defined


def test_a_parameter_naming_both_a_resource_and_a_sibling_asset_is_an_error():
    @asset(key_prefix="raw")
    def warehouse() -> int:
        return 1

    @asset(key_prefix="raw")
    def uses(warehouse) -> int:
        return warehouse

    with pytest.raises(DefinitionError, match="Resource 'warehouse' .* asset 'raw/warehouse'.*"
                                              "parameter 'warehouse' of asset 'raw/uses'"):
        Definitions(assets=[warehouse, uses], resources={"warehouse": Warehouse(path="w")})


def test_a_missing_resource_is_an_error_before_the_run_starts():
    store = MemoryEventStore()
    with pytest.raises(ExecutionError, match="'loaded' needs resource 'warehouse'"):
        materialize([orders, loaded], store=store)
    assert store.list_runs(10) == []


def test_materialize_resources_swap_the_definitions_own():
    defs = Definitions(assets=[orders, loaded], resources={"warehouse": Warehouse(path="prod.duckdb")})
    swapped = materialize(defs, resources={"warehouse": Warehouse(path="local.duckdb")})
    assert swapped.value("loaded").endswith("local.duckdb with 4 threads")
    assert materialize([orders, loaded], resources={"warehouse": Warehouse(path="x")}).success


class Connection:
    def __init__(self) -> None:
        self.open = True


class Pool(ConfigurableResource):
    """for_run() yields something else than the resource: a connection, closed at the end."""

    size: int = 1

    def for_run(self, name: str = "resource"):
        import contextlib

        @contextlib.contextmanager
        def lifecycle():
            connection = Connection()
            LIFECYCLE.append("open")
            yield connection
            connection.open = False
            LIFECYCLE.append("close")

        return lifecycle()


def test_for_run_can_yield_what_assets_receive():
    seen: list[Connection] = []

    @asset
    def queried(db: Pool) -> bool:
        seen.append(db)
        return db.open

    assert materialize(Definitions(assets=[queried], resources={"db": Pool()})).value("queried") is True
    assert isinstance(seen[0], Connection) and not seen[0].open
    assert LIFECYCLE == ["open", "close"]


def test_a_failing_teardown_is_a_warning_not_a_failed_run():
    class Flaky(ConfigurableResource):
        def teardown(self) -> None:
            raise OSError("disk gone")

    @asset
    def uses(flaky: Flaky) -> int:
        return 1

    store = MemoryEventStore()
    result = materialize(Definitions(assets=[uses], resources={"flaky": Flaky()}), store=store)
    assert result.success
    logs = [e.message for e in store.events(result.run_id) if e.type.value == "log"]
    assert any("teardown of resource 'flaky' failed: OSError: disk gone" in m for m in logs)


class JsonFiles(ConfigurableResource, IOManager):
    """An IO manager that is a resource: its root comes from the environment, checked at setup."""

    root: str

    def setup(self) -> None:
        Path(self.root).mkdir(parents=True, exist_ok=True)
        LIFECYCLE.append("io setup")

    def write(self, context: Any, value: Any) -> dict[str, Any]:
        (Path(self.root) / f"{context.asset_key.path[-1]}.json").write_text(json.dumps(value))
        return {"format": "json"}

    def read(self, context: Any) -> Any:
        path = Path(self.root) / f"{context.asset_key.path[-1]}.json"
        if not path.exists():
            raise not_materialized(context.asset_key, context.partition, str(path))
        return json.loads(path.read_text())


def test_io_managers_are_resources_too(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_TEST_JSON_ROOT", str(tmp_path / "json"))
    defs = Definitions(assets=[orders, loaded],
                       resources={"io_manager": JsonFiles(root=EnvVar("ORCH_TEST_JSON_ROOT")),
                                  "warehouse": Warehouse(path="w")})
    assert "io_manager" in defs.io_managers
    result = materialize(defs, home=tmp_path / "home", store=MemoryEventStore())  # values not kept
    assert result.success, result.causes
    assert json.loads((tmp_path / "json" / "orders.json").read_text()) == [1, 2, 3]
    assert result.value("loaded").startswith("3 rows")  # read back through a fresh setup
    assert LIFECYCLE.count("io setup") == 2  # the run, then value()
    memory = MemoryIOManager()
    assert materialize(defs, resources={"io_manager": memory}).success  # swapped: tests run in memory
    assert memory.has(AssetKey.coerce("orders"))


def test_process_workers_share_the_resource_set_up_before_they_fork(tmp_path):
    class Counter(ConfigurableResource):
        def setup(self) -> None:
            object.__setattr__(self, "_pid", __import__("os").getpid())

    @asset
    def where(counter: Counter) -> int:
        return counter._pid

    result = materialize(Definitions(assets=[where], resources={"counter": Counter()}),
                         home=tmp_path, store=MemoryEventStore(), executor="process")
    assert result.success, result.causes
    assert result.value("where") == __import__("os").getpid()
