"""Python assets: lineage declared on the asset, or inferred from the SQL it runs through
`lineage.sql()`; schemas recorded by IO managers feed `SELECT *`."""

from __future__ import annotations

import pyarrow as pa
import pytest

from integrations.lineage.model import DIRECT, TRANSFORM
from integrations import lineage
from integrations.lineage.declared import declared_lineage
from orchestrator import Definitions, MemoryEventStore, asset, materialize
from orchestrator.errors import ExecutionError


@asset(key_prefix="raw")
def orders() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "amount": [10.0, 20.0, 5.0], "status": ["paid", "void", "paid"]})


@asset(key_prefix="shop", ins={"orders": "raw/orders"})
def paid_orders(context, orders: pa.Table) -> pa.Table:
    return lineage.sql(context, "select *, amount * 1.2 as gross from {orders} where status = 'paid'", orders=orders)


@asset(key_prefix="shop", ins={"paid": "shop/paid_orders"}, metadata={"column_lineage": {
    "revenue": [("shop/paid_orders", "gross", "aggregate")],
    "orders": [],
}})
def revenue(paid: pa.Table) -> pa.Table:
    return pa.table({"revenue": [sum(paid["gross"].to_pylist())], "orders": [paid.num_rows]})


def test_sql_run_through_the_helper_is_recorded_and_its_lineage_inferred(tmp_path):
    store = MemoryEventStore()
    defs = Definitions(assets=[orders, paid_orders, revenue])
    result = materialize(defs, home=tmp_path, store=store)
    assert result.value("shop/paid_orders").column_names == ["id", "amount", "status", "gross"]

    graph = lineage.column_lineage(defs, store=store, home=tmp_path)
    paid = graph.assets["shop/paid_orders"]
    assert paid.origin == "python_sql"
    assert paid.column_names == ["id", "amount", "status", "gross"]  # `*` from the recorded Arrow schema
    assert paid.columns["gross"] == {("raw/orders", "amount"): TRANSFORM}
    assert paid.filters == {("raw/orders", "status", "where")}
    assert graph.assets["raw/orders"].schema_source == "recorded"
    upstream = {(e.source.asset, e.source.column, e.kind) for e in graph.upstream("shop/revenue", "revenue")}
    assert upstream == {("shop/paid_orders", "gross", "aggregate"), ("raw/orders", "amount", "transform")}


def test_before_any_run_an_asset_without_declaration_has_unknown_lineage(tmp_path):
    graph = lineage.column_lineage(Definitions(assets=[orders, paid_orders, revenue]), home=tmp_path)
    assert graph.assets["shop/paid_orders"].columns is None
    assert graph.assets["shop/paid_orders"].origin == "unknown"
    assert graph.assets["shop/revenue"].origin == "declared"
    assert graph.errors() == []


def test_declare_sql_gives_lineage_before_any_run(tmp_path):
    @asset(key_prefix="shop", ins={"orders": "raw/orders"},
           metadata=lineage.declare_sql("select id, upper(status) as status from {orders}"))
    def labelled(orders: pa.Table) -> pa.Table:
        return orders

    graph = lineage.column_lineage(Definitions(assets=[orders, labelled]), home=tmp_path)
    assert graph.assets["shop/labelled"].columns == {"id": {("raw/orders", "id"): DIRECT},
                                                     "status": {("raw/orders", "status"): TRANSFORM}}


def test_declarations_accept_tuples_dicts_and_strings_and_report_mistakes():
    found = declared_lineage("x", {"a": [("up", "a")], "b": [{"asset": "up", "column": "b", "kind": "direct"}],
                                   "c": ["up.c", {"asset": "up", "column": "k", "kind": "filter", "clause": "join"}]})
    assert found.columns == {"a": {("up", "a"): TRANSFORM}, "b": {("up", "b"): DIRECT}, "c": {("up", "c"): TRANSFORM}}
    assert found.filters == {("up", "k", "join")}
    bad = declared_lineage("x", {"a": [("up", "a", "copied")]})
    assert bad.columns is None and "Unknown column lineage kind 'copied'" in bad.error


def test_the_helper_runs_outside_a_run_with_a_log_and_names_missing_tables():
    log = lineage.SqlLog()
    out = lineage.sql(log, "select sum(amount) as total from {orders}", orders=orders.fn())
    assert out.to_pylist() == [{"total": 35.0}]
    assert log.metadata["lineage_sql"]["tables"] == {"orders": None}
    with pytest.raises(ExecutionError, match="no table given for {customers}"):
        lineage.sql(None, "select * from {customers}")
