"""Arrow data against an Iceberg table's schema: normalize the data, plan safe evolution or refuse.

Evolution is decided on top-level columns, before anything is written:

- a column the table lacks is added (as optional: existing rows have no value for it);
- a column the data has wider than the table is widened: int -> long, float -> double,
  decimal(P,S) -> decimal(P2,S) with P2 > P; data narrower than the table is cast on write;
- a nullable column whose table column is required makes the table column optional;
- anything else (string -> long, timestamp -> date, a changed nested type, a required column the
  data lacks) is refused with an IOManagerError naming the column and both types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.io.pyarrow import UnsupportedPyArrowTypeException
from pyiceberg.schema import Schema
from pyiceberg.table.update.schema import UpdateSchema
from pyiceberg.types import (
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StructType,
)

from orchestrator.errors import IOManagerError
from orchestrator.keys import AssetKey

WIDENINGS = "int -> long, float -> double, decimal(P,S) -> decimal(P2,S) with P2 > P"


def normalize_schema(schema: pa.Schema) -> pa.Schema:
    """The schema Iceberg can store: timestamps in microseconds (UTC when zoned), dictionaries decoded."""
    return pa.schema([f.with_type(_normal_type(f.type)) for f in schema], metadata=schema.metadata)


def _normal_type(arrow_type: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(arrow_type):
        return pa.timestamp("us", "UTC" if arrow_type.tz is not None else None)
    if pa.types.is_dictionary(arrow_type):
        return _normal_type(arrow_type.value_type)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pa.list_(arrow_type.value_field.with_type(_normal_type(arrow_type.value_type)))
    if pa.types.is_struct(arrow_type):
        return pa.struct([f.with_type(_normal_type(f.type)) for f in arrow_type])
    return arrow_type


def normalize(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` cast to the normalized `schema` (nanoseconds are truncated to microseconds)."""
    if table.schema.equals(schema):
        return table
    return table.cast(schema, safe=False)


def to_iceberg(asset: AssetKey, schema: pa.Schema) -> Schema:
    """The Iceberg schema of (normalized) Arrow data, or an IOManagerError for unsupported types."""
    try:
        return Catalog._convert_schema_if_needed(schema)
    except (TypeError, ValueError, UnsupportedPyArrowTypeException) as exc:
        raise IOManagerError(
            f"Asset '{asset}': the data cannot be stored in Iceberg: {str(exc).rstrip('.')}. Cast the "
            "column to a supported type (e.g. duration -> int64, time -> string, null -> string)."
        ) from exc


@dataclass
class Evolution:
    """What must change in a table's schema to take the data: nothing when empty."""

    added: list[NestedField] = field(default_factory=list)
    widened: list[tuple[str, IcebergType, IcebergType]] = field(default_factory=list)
    relaxed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.widened or self.relaxed)

    def describe(self) -> list[str]:
        return ([f"added {f.name} ({f.field_type})" for f in self.added]
                + [f"widened {name}: {old} -> {new}" for name, old, new in self.widened]
                + [f"made {name} optional" for name in self.relaxed])

    def apply(self, update: UpdateSchema) -> None:
        for added in self.added:
            update.add_column(added.name, added.field_type, required=False)
        for name, _, new in self.widened:
            update.update_column(name, field_type=new)
        for name in self.relaxed:
            update.make_column_optional(name)


def plan_evolution(asset: AssetKey, table_name: str, table: Schema, data: Schema) -> Evolution:
    """How `table` must evolve to take `data`; IOManagerError (naming every conflict) when it cannot."""
    existing = {f.name: f for f in table.fields}
    evolution, conflicts = Evolution(), []
    for new in data.fields:
        old = existing.get(new.name)
        if old is None:
            evolution.added.append(new)
            continue
        if not same_type(old.field_type, new.field_type):
            if _widens(old.field_type, new.field_type):
                evolution.widened.append((new.name, old.field_type, new.field_type))
            elif not _widens(new.field_type, old.field_type):  # narrower data is cast on write
                conflicts.append(f"column '{new.name}' is {old.field_type} in the table but "
                                 f"{new.field_type} in the data")
        if old.required and not new.required:
            evolution.relaxed.append(new.name)
    names = {f.name for f in data.fields}
    conflicts += [f"required column '{f.name}' ({f.field_type}) is missing from the data"
                  for f in table.fields if f.required and f.name not in names]
    if conflicts:
        raise IOManagerError(
            f"Asset '{asset}': the data does not fit the Iceberg table {table_name}: "
            f"{'; '.join(conflicts)}. Only safe changes are applied (new columns; {WIDENINGS}); "
            "nothing was written. Cast the data to the table's types, or drop the table to change them."
        )
    return evolution


def _widens(old: IcebergType, new: IcebergType) -> bool:
    """Whether Iceberg can widen a column of type `old` to type `new` (a metadata-only change)."""
    if isinstance(old, IntegerType):
        return isinstance(new, LongType)
    if isinstance(old, FloatType):
        return isinstance(new, DoubleType)
    if isinstance(old, DecimalType) and isinstance(new, DecimalType):
        return new.scale == old.scale and new.precision > old.precision
    return False


def same_type(a: IcebergType, b: IcebergType) -> bool:
    """Type equality that ignores field ids (the data's schema has none)."""
    if isinstance(a, StructType) and isinstance(b, StructType):
        return _same_fields(a.fields, b.fields)
    if isinstance(a, ListType) and isinstance(b, ListType):
        return same_type(a.element_type, b.element_type)
    if isinstance(a, MapType) and isinstance(b, MapType):
        return same_type(a.key_type, b.key_type) and same_type(a.value_type, b.value_type)
    return a == b


def _same_fields(a: Iterable[NestedField], b: Iterable[NestedField]) -> bool:
    a, b = list(a), list(b)
    return len(a) == len(b) and all(x.name == y.name and same_type(x.field_type, y.field_type)
                                    for x, y in zip(a, b, strict=True))
