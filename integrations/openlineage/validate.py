"""Validate OpenLineage events (as JSON) against the spec as openlineage-python ships it.

openlineage-python carries no OpenLineage.json: it ships classes generated from the spec (attrs,
with the spec's required fields, types, enums and validators). `event_schema()` rebuilds a JSON
Schema from those generated classes (the RunEvent and the facets this integration emits, by
their spec names), and `validate(event)` checks a received event against it with jsonschema; it
also rebuilds the RunEvent through the generated classes, whose validators check the run id is a
UUID and the event time an ISO date-time. Errors name the path in the event.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

import attr

FACETS = {
    "schema": ("openlineage.client.generated.schema_dataset", "SchemaDatasetFacet"),
    "columnLineage": ("openlineage.client.generated.column_lineage_dataset", "ColumnLineageDatasetFacet"),
    "dataQualityAssertions": ("openlineage.client.generated.data_quality_assertions_dataset",
                              "DataQualityAssertionsDatasetFacet"),
    "parent": ("openlineage.client.generated.parent_run", "ParentRunFacet"),
    "errorMessage": ("openlineage.client.generated.error_message_run", "ErrorMessageRunFacet"),
}


SPEC_REQUIRED = {"producer", "schemaURL", "_producer", "_schemaURL"}
"""Required by the spec though the generated classes fill them in by default."""


class InvalidEvent(ValueError):
    pass


def _class(module: str, name: str) -> type:
    import importlib

    return getattr(importlib.import_module(module), name)


def _json_name(field: attr.Attribute) -> str:
    return field.name  # as serialized: facets keep their `_producer` / `_schemaURL`


def _schema_of(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if tp is Any or tp is None:
        return {}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = [_schema_of(a, defs) for a in options]
        return {"anyOf": [*inner, {"type": "null"}]} if len(options) < len(typing.get_args(tp)) else {"anyOf": inner}
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return {"type": "array", "items": _schema_of(item, defs)}
    if origin is dict:
        args = typing.get_args(tp)
        return {"type": "object", "additionalProperties": _schema_of(args[1] if args else Any, defs)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if isinstance(tp, type) and attr.has(tp):
        name = f"{tp.__module__}.{tp.__qualname__}"
        if name not in defs:
            defs[name] = {}
            attr.resolve_types(tp)
            properties, required = {}, []
            for field in attr.fields(tp):
                if not field.init and field.name not in ("schemaURL", "_schemaURL"):
                    continue
                key = _json_name(field)
                properties[key] = _schema_of(field.type, defs)
                if field.default is attr.NOTHING or key in SPEC_REQUIRED:
                    required.append(key)
            defs[name] = {"type": "object", "properties": properties, "required": required}
        return {"$ref": f"#/$defs/{name}"}
    return {}


def event_schema() -> dict[str, Any]:
    """A JSON Schema of a RunEvent with the known facets, from the generated classes."""
    from openlineage.client.event_v2 import RunEvent

    defs: dict[str, Any] = {}
    root = _schema_of(RunEvent, defs)
    facet_refs = {name: _schema_of(_class(*where), defs) for name, where in FACETS.items()}
    for name, schema in defs.items():  # facets by name wherever a `facets` mapping is
        if "facets" in schema.get("properties", {}):
            schema["properties"]["facets"] = {"type": "object", "properties": facet_refs}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **root, "$defs": defs}


def validate(event: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> None:
    """Raise InvalidEvent saying where `event` (the JSON of a RunEvent) departs from the spec."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema or event_schema())
    errors = sorted(validator.iter_errors(event), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(the event)"
        raise InvalidEvent(f"{len(errors)} schema error(s); first at {where}: {first.message}")
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

    try:
        RunEvent(eventType=RunState(event["eventType"]), eventTime=event["eventTime"],
                 run=Run(runId=event["run"]["runId"]), job=Job(namespace=event["job"]["namespace"],
                                                              name=event["job"]["name"]),
                 producer=event["producer"])
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidEvent(f"rejected by openlineage-python's RunEvent: {exc}") from None
