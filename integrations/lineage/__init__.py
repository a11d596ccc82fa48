"""Column-level lineage from SQL with sqlglot (the one home of sqlglot in this repository).

    from integrations import lineage

    lineage.column_lineage_of_sql("select id as order_id from orders", {"orders": {"id": "int"}})
    graph = lineage.column_lineage(defs, store=store, home=home)   # every asset of a project
    graph.upstream("marts/fct_orders", "revenue")                  # down to the source columns
    graph.downstream("raw/orders", "amount")                       # impact
    lineage.column_lineage_facets(graph)                           # OpenLineage columnLineage facets

    @asset(ins={"clv": "marts/customer_lifetime_value"})
    def tiers(context, clv):                                       # lineage inferred from its SQL
        return lineage.sql(context, "select customer_id, lifetime_value > 1000 as vip from {clv}", clv=clv)

Module map: query (one query); prepare (parse, dbt's ephemeral CTEs, qualify); walk + filters
(the scope walk: value edges, filter edges); model (edges and kinds); schemas + iceberg_schemas
(where columns come from); dbt_manifest / render / compile / dbt_units (dbt projects); declared
(hand-written lineage); python_assets / duck (Python assets); engine / parallel / store (the
whole graph, in worker processes, saved); graph (the result); openlineage; provider (the CLI's
entry point).
"""

from __future__ import annotations

from integrations.lineage.duck import SqlLog, declare_sql, sql
from integrations.lineage.graph import ColumnLineageGraph
from integrations.lineage.model import AssetLineage, ColumnEdge, ColumnRef
from integrations.lineage.openlineage import column_lineage_facets
from integrations.lineage.prepare import SqlLineageError
from integrations.lineage.provider import column_lineage, dbt_column_lineage
from integrations.lineage.query import SqlColumnLineage, column_lineage_of_sql

__all__ = [
    "AssetLineage",
    "ColumnEdge",
    "ColumnLineageGraph",
    "ColumnRef",
    "SqlColumnLineage",
    "SqlLineageError",
    "SqlLog",
    "column_lineage",
    "column_lineage_facets",
    "column_lineage_of_sql",
    "dbt_column_lineage",
    "declare_sql",
    "sql",
]
