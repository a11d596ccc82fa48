"""Where columns come from, in order of trust; the first source that knows a table wins whole."""

from __future__ import annotations

import json

import duckdb

from integrations.lineage.schemas import (
    CatalogSchemas,
    DocumentedSchemas,
    HookSchemas,
    Layers,
    RecordedSchemas,
    SeedFileSchemas,
    WarehouseSchemas,
)
from orchestrator import AssetKey, Event, EventType, MemoryEventStore
from orchestrator.storage.events import RunRecord, RunStatus

RELATION = ("warehouse", "raw", "orders")


def test_first_source_that_knows_a_table_wins_with_its_whole_column_list(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw; create table raw.orders (id integer, amount double, note varchar)")
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"nodes": {}, "sources": {"source.x.raw.orders": {
        "metadata": {"database": "warehouse", "schema": "raw", "name": "orders"},
        "columns": {"amount": {"name": "amount", "type": "DOUBLE", "index": 2},
                    "id": {"name": "id", "type": "INTEGER", "index": 1}}}}}))
    seed = tmp_path / "stores.csv"
    seed.write_text("store_id,region\n1,EU\n")
    layers = [
        RecordedSchemas({"raw/orders": [["id", "int64"], ["amount", "double"]]}),
        WarehouseSchemas(path),
        HookSchemas("iceberg", lambda asset, relation: {"x": "int"} if asset == "lake/x" else None),
        CatalogSchemas(catalog),
        SeedFileSchemas({"seeds/stores": (seed, {"region": "varchar"})}),
        DocumentedSchemas({"raw/orders": {"id": "UNKNOWN"}, "raw/only_documented": {"a": "UNKNOWN"}}),
    ]
    assert Layers(layers).lookup("raw/orders", RELATION) == ({"id": "int64", "amount": "double"}, "recorded")
    assert Layers(layers[1:]).lookup("raw/orders", RELATION) == (
        {"id": "INTEGER", "amount": "DOUBLE", "note": "VARCHAR"}, "warehouse")
    assert Layers(layers[2:]).lookup("raw/orders", RELATION) == ({"id": "INTEGER", "amount": "DOUBLE"}, "catalog")
    assert Layers(layers).lookup("lake/x", None) == ({"x": "int"}, "iceberg")
    assert Layers(layers).lookup("seeds/stores", None) == ({"store_id": "UNKNOWN", "region": "varchar"}, "seed_file")
    assert Layers(layers).lookup("raw/only_documented", None) == ({"a": "UNKNOWN"}, "documented")
    assert Layers(layers).lookup("raw/nothing", None) is None


def test_a_missing_warehouse_is_never_created(tmp_path):
    absent = tmp_path / "no" / "warehouse.duckdb"
    assert WarehouseSchemas(absent).columns("raw/orders", RELATION) is None
    assert not absent.exists() and not absent.parent.exists()


def test_recorded_schemas_come_from_the_newest_materialization_in_the_store():
    store = MemoryEventStore()
    store.create_run(RunRecord("r1", RunStatus.STARTED, None, (AssetKey.parse("raw/orders"),), None, 0.0))
    for ts, schema in ((1.0, [["id", "int64"]]), (2.0, [["id", "int64"], ["amount", "double"]])):
        store.append([Event("r1", EventType.MATERIALIZATION, ts, asset_key=AssetKey.parse("raw/orders"),
                            data={"metadata": {"schema": schema}})])
    assert RecordedSchemas.from_store(store).columns("raw/orders", None) == {"id": "int64", "amount": "double"}
