"""The facets of one materialization's output dataset: schema, columnLineage, dataQualityAssertions.

Built with openlineage-python's generated classes, so the events are what its spec says they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openlineage.client.generated import column_lineage_dataset as cl
from openlineage.client.generated import data_quality_assertions_dataset as dq
from openlineage.client.generated import schema_dataset as sd

PRODUCER = "https://github.com/orchestrator/orchestrator/tree/main/integrations/openlineage"


def schema_facet(columns: Sequence[tuple[str, str | None]]) -> sd.SchemaDatasetFacet | None:
    if not columns:
        return None
    return sd.SchemaDatasetFacet(fields=[sd.SchemaDatasetFacetFields(name=name, type=type_ or None,
                                                                     ordinal_position=i + 1)
                                         for i, (name, type_) in enumerate(columns)], producer=PRODUCER)


def recorded_columns(metadata: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """The Arrow schema an IO manager recorded (`[[name, type], ...]`) in materialization metadata."""
    found = []
    for item in metadata.get("schema") or ():
        if isinstance(item, (list, tuple)) and item:
            found.append((str(item[0]), str(item[1]) if len(item) > 1 else None))
    return found


def column_lineage_facet(facet: Mapping[str, Any] | None) -> cl.ColumnLineageDatasetFacet | None:
    """integrations.lineage's facet (a plain dict in the same shape) as the generated class."""
    if not facet:
        return None

    def inputs(items: Sequence[Mapping[str, Any]]) -> list[cl.InputField]:
        return [cl.InputField(namespace=i["namespace"], name=i["name"], field=i["field"],
                              transformations=[cl.Transformation(type=t["type"], subtype=t.get("subtype"),
                                                                 description=t.get("description"),
                                                                 masking=t.get("masking"))
                                               for t in i.get("transformations") or ()])
                for i in items]

    fields = {name: cl.Fields(inputFields=inputs(f["inputFields"])) for name, f in facet["fields"].items()}
    return cl.ColumnLineageDatasetFacet(fields=fields, dataset=inputs(facet.get("dataset") or ()),
                                        producer=PRODUCER)


def assertions_facet(checks: Sequence[Mapping[str, Any]], columns: Mapping[str, str | None] | None = None
                     ) -> dq.DataQualityAssertionsDatasetFacet | None:
    """Check results (`{check, passed, blocking, metadata}` of CHECK_RESULT events) as assertions;
    `columns`: the column each check tests, by check name (from its definition)."""
    if not checks:
        return None
    found = []
    for check in checks:
        metadata = check.get("metadata") or {}
        found.append(dq.Assertion(assertion=str(check.get("check")), success=bool(check.get("passed")),
                                  column=metadata.get("column_name") or (columns or {}).get(check.get("check"))
                                  or None,
                                  severity="error" if check.get("blocking") else "warn",
                                  name=str(check.get("check"))))
    return dq.DataQualityAssertionsDatasetFacet(assertions=found, producer=PRODUCER)
