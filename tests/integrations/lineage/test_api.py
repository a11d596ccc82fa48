"""The library surface: one query's lineage, the graph's traversals, OpenLineage facets."""

from __future__ import annotations

import pytest

from integrations import lineage
from integrations.lineage.graph import ColumnLineageGraph
from integrations.lineage.model import AGGREGATE, DIRECT, TRANSFORM, AssetLineage, leaf
from orchestrator.errors import UnknownAssetError

SCHEMA = {"orders": {"id": "int", "customer_id": "int", "amount": "double", "status": "varchar"},
          "customers": {"id": "int", "country": "varchar"}}


def test_column_lineage_of_sql_returns_each_output_column_with_table_column_kind():
    found = lineage.column_lineage_of_sql(
        "with paid as (select * from orders where status = 'paid')\n"
        "select c.country, sum(p.amount) as revenue, count(*) as n\n"
        "from paid p join customers c on c.id = p.customer_id group by all", SCHEMA)
    assert found == {"country": [("customers", "country", "direct")], "revenue": [("orders", "amount", "aggregate")],
                     "n": []}
    assert found.filters == [("customers", "country", "group_by"), ("customers", "id", "join"),
                             ("orders", "customer_id", "join"), ("orders", "status", "where")]
    assert found.as_json()["columns"]["revenue"] == [["orders", "amount", "aggregate"]]


def test_bad_sql_raises_a_lineage_error_with_the_position():
    with pytest.raises(lineage.SqlLineageError, match=r"does not parse \(line 1"):
        lineage.column_lineage_of_sql("select (1 from orders", SCHEMA)


def _graph() -> ColumnLineageGraph:
    return ColumnLineageGraph({
        "raw/orders": leaf("raw/orders", ["id", "amount"]),
        "stg/orders": AssetLineage("stg/orders", {"order_id": {("raw/orders", "id"): DIRECT},
                                                  "cents": {("raw/orders", "amount"): TRANSFORM}},
                                   frozenset({("raw/orders", "amount", "where")})),
        "mart/revenue": AssetLineage("mart/revenue", {"total": {("stg/orders", "cents"): AGGREGATE}},
                                     frozenset({("stg/orders", "order_id", "group_by")})),
        "broken": AssetLineage("broken", None, error="SQL does not parse"),
    })


def test_upstream_downstream_depth_and_filters():
    graph = _graph()
    up = graph.upstream("mart/revenue", "total")
    assert [(str(e.source), str(e.target), e.kind) for e in up] == [
        ("raw/orders.amount", "stg/orders.cents", "transform"), ("stg/orders.cents", "mart/revenue.total", "aggregate")]
    assert len(graph.upstream("mart/revenue", "total", depth=1)) == 1
    with_filters = graph.upstream("mart/revenue", "total", filters=True)
    assert {(str(e.source), e.clause) for e in with_filters if e.is_filter} == {
        ("stg/orders.order_id", "group_by"), ("raw/orders.amount", "where")}
    down = graph.downstream("raw/orders", "amount", filters=True)
    assert {str(e.target) for e in down} == {"stg/orders.cents", "mart/revenue.total", "stg/orders"}
    assert graph.errors() == [{"asset": "broken", "message": "SQL does not parse"}]
    with pytest.raises(UnknownAssetError, match="Did you mean 'mart/revenue'"):
        graph.upstream("mart/revenu", "total")
    with pytest.raises(UnknownAssetError, match="columns of 'broken' are unknown: SQL does not parse"):
        graph.upstream("broken", "x")


def test_to_json_lists_the_edges_into_the_selected_assets():
    found = _graph().to_json({"mart/revenue"})
    assert [(e["source"]["asset"], e["target"]["asset"]) for e in found["edges"]] == [("stg/orders", "mart/revenue")]
    assert list(found["assets"]) == ["mart/revenue"]
    assert found["filter_edges"] == [{"source": {"asset": "stg/orders", "column": "order_id"},
                                      "target": {"asset": "mart/revenue", "column": None},
                                      "kind": "filter", "clause": "group_by"}]


def test_openlineage_column_lineage_facets():
    facets = lineage.column_lineage_facets(_graph(), namespace="duckdb://warehouse")
    assert set(facets) == {"stg/orders", "mart/revenue"}
    facet = facets["stg/orders"]
    assert facet["_schemaURL"].endswith("1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet")
    assert facet["fields"]["order_id"] == {"inputFields": [{
        "namespace": "duckdb://warehouse", "name": "raw/orders", "field": "id",
        "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "description": "direct", "masking": False}]}]}
    assert facet["fields"]["cents"]["inputFields"][0]["transformations"][0]["subtype"] == "TRANSFORMATION"
    assert facets["mart/revenue"]["fields"]["total"]["inputFields"][0]["transformations"][0]["subtype"] == "AGGREGATION"
    assert facet["dataset"] == [{"namespace": "duckdb://warehouse", "name": "raw/orders", "field": "amount",
                                 "transformations": [{"type": "INDIRECT", "subtype": "FILTER", "description": "where",
                                                      "masking": False}]}]
    named = lineage.column_lineage_facets(_graph(), name_of=lambda a: ("wh", a.replace("/", ".")))
    assert named["mart/revenue"]["dataset"][0]["name"] == "stg.orders"


def test_schema_names_in_any_case_resolve_as_duckdb_normalizes_them():
    """The schema is normalized up front for DuckDB (lower case); a name sqlglot must parse
    itself (quotes in it) takes sqlglot's own normalization, with the same answer."""
    upper = {"WAREHOUSE": {"MAIN": {"ORDERS": {"ID": "INT", "Amount": "DOUBLE"}}}}
    sql = "select id, sum(amount) as total from warehouse.main.orders group by id"
    found = lineage.column_lineage_of_sql(sql, upper)
    assert found["id"] == [("warehouse.main.orders", "id", "direct")]
    assert found["total"] == [("warehouse.main.orders", "amount", "aggregate")]
    quoted = {"warehouse": {"main": {"orders": {'"ID"': "INT", "amount": "DOUBLE"}}}}
    assert lineage.column_lineage_of_sql("select * from warehouse.main.orders", quoted) == found.__class__(
        {"id": [("warehouse.main.orders", "id", "direct")],
         "amount": [("warehouse.main.orders", "amount", "direct")]})
