"""The same lineage as OpenLineage `columnLineage` dataset facets (ColumnLineageDatasetFacet 1-2-0).

    facets = column_lineage_facets(graph, namespace="duckdb://warehouse")
    facets["marts/fct_orders"]["fields"]["order_id"]["inputFields"][0]
    # {"namespace": ..., "name": "intermediate/int_order_payments", "field": "order_id",
    #  "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "description": "", "masking": False}]}

Value edges are DIRECT transformations (direct -> IDENTITY, transform -> TRANSFORMATION,
aggregate -> AGGREGATION), listed per output field; window edges (a window function's PARTITION BY
/ ORDER BY columns) are INDIRECT / WINDOW inputs of that field. Filter edges are INDIRECT and apply to the
whole dataset, so they go in the facet's `dataset` list (where/having/qualify/incremental -> FILTER,
join -> JOIN, group_by -> GROUP_BY, window -> WINDOW, order_by -> SORT).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from integrations.lineage.graph import ColumnLineageGraph
from integrations.lineage.model import ColumnEdge

SCHEMA_URL = ("https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json"
              "#/$defs/ColumnLineageDatasetFacet")
PRODUCER = "https://github.com/orchestrator/orchestrator/tree/main/integrations/lineage"
VALUE_SUBTYPES = {"direct": "IDENTITY", "transform": "TRANSFORMATION", "aggregate": "AGGREGATION"}
FILTER_SUBTYPES = {"where": "FILTER", "having": "FILTER", "qualify": "FILTER", "incremental": "FILTER",
                   "join": "JOIN", "group_by": "GROUP_BY", "window": "WINDOW", "order_by": "SORT"}


def column_lineage_facets(graph: ColumnLineageGraph, namespace: str = "orchestrator",
                          name_of: Callable[[str], tuple[str, str]] | None = None,
                          assets: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
    """`{asset: columnLineage facet}` for every asset with edges (or those in `assets`).

    `name_of(asset) -> (namespace, name)` names the input datasets (default: `namespace` and the
    asset key); the facet belongs on the output dataset of the same asset.
    """
    naming = name_of or (lambda asset: (namespace, asset))
    facets: dict[str, dict[str, Any]] = {}
    for asset, lineage in sorted(graph.assets.items()):
        if assets is not None and asset not in assets:
            continue
        fields: dict[str, Any] = {}
        for edge in lineage.edges():
            indirect = edge.kind == "window"
            fields.setdefault(edge.target.column, {"inputFields": []})["inputFields"].append(
                _input(edge, naming, "INDIRECT" if indirect else "DIRECT",
                       "WINDOW" if indirect else VALUE_SUBTYPES[edge.kind]))
        dataset = [_input(e, naming, "INDIRECT", FILTER_SUBTYPES.get(e.clause or "", "FILTER"))
                   for e in lineage.filter_edges()]
        if fields or dataset:
            facets[asset] = {"_producer": PRODUCER, "_schemaURL": SCHEMA_URL, "fields": fields, "dataset": dataset}
    return facets


def _input(edge: ColumnEdge, naming: Callable[[str], tuple[str, str]], type_: str, subtype: str) -> dict[str, Any]:
    namespace, name = naming(edge.source.asset)
    description = edge.clause or edge.kind
    return {"namespace": namespace, "name": name, "field": edge.source.column,
            "transformations": [{"type": type_, "subtype": subtype, "description": description, "masking": False}]}
