"""Which rows a partition key (or a range of keys) selects in an Iceberg table, and the table's spec.

An asset's partitioning comes from its metadata: `partition_column` (required) and `partition_grain`
(`hour`, `day`, `week`, `month`, `year` or `identity`; the -ly forms work too). Without a grain, the
key's format decides: 'YYYY-MM-DD' is a day, 'YYYY-MM-DD-HH:MM' an hour, anything else identity.
When the context also carries the asset's `PartitionsDefinition` (attribute `partitions`), its
windows (and time zone) are used, and ranges of static keys can be listed.

A time grain becomes the matching Iceberg transform (a week is stored as days: Iceberg has no week
transform) and a partition selects `start <= column < end`; identity selects `column IN (keys)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import (
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    In,
    LessThan,
)
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import (
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    YearTransform,
)
from pyiceberg.types import DateType, IcebergType, TimestampType, TimestamptzType

from orchestrator.errors import IOManagerError
from orchestrator.keys import AssetKey

RANGE_SEPARATOR = "..."  # as orchestrator.partitions.PartitionRange renders an inclusive range
GRAINS = {
    "hour": "hour", "hourly": "hour", "day": "day", "daily": "day", "week": "week", "weekly": "week",
    "month": "month", "monthly": "month", "year": "year", "yearly": "year", "identity": "identity",
}
_TRANSFORMS: dict[str, type[Transform[Any, Any]]] = {
    "hour": HourTransform, "day": DayTransform, "week": DayTransform, "month": MonthTransform,
    "year": YearTransform, "identity": IdentityTransform,
}
_KEY_FORMATS = ("%Y-%m-%d-%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%Y-%m", "%Y")


def split_range(partition: str) -> tuple[str, str]:
    """('2024-01-01', '2024-01-03') for '2024-01-01...2024-01-03'; a single key is its own range."""
    start, sep, end = partition.partition(RANGE_SEPARATOR)
    return (start, end) if sep else (partition, partition)


def grain_of_key(key: str) -> str:
    """The grain a key's format implies: 'YYYY-MM-DD' day, 'YYYY-MM-DD-HH:MM' hour, else identity."""
    for fmt, grain in (("%Y-%m-%d", "day"), ("%Y-%m-%d-%H:%M", "hour")):
        try:
            dt.datetime.strptime(key, fmt)
            return grain
        except ValueError:
            continue
    return "identity"


@dataclass(frozen=True)
class Partitioning:
    """How an asset's table is partitioned: a column and a grain (and the definition, if known)."""

    asset: AssetKey
    column: str
    grain: str
    timezone: str = "UTC"
    definition: Any = None  # an orchestrator.partitions.PartitionsDefinition, when the context has it

    @property
    def transform(self) -> Transform[Any, Any]:
        return _TRANSFORMS[self.grain]()

    @property
    def field_name(self) -> str:
        if self.grain == "identity":
            return self.column
        return f"{self.column}_{'day' if self.grain == 'week' else self.grain}"

    def spec(self, schema: Schema) -> PartitionSpec:
        """The partition spec for a table with `schema` (which must have the column)."""
        field = _find(self, schema)
        return PartitionSpec(PartitionField(source_id=field.field_id, field_id=1000,
                                            transform=self.transform, name=self.field_name))

    def matches(self, spec: PartitionSpec, schema: Schema) -> bool:
        """Whether a table's spec partitions exactly by this column and transform."""
        fields = [(schema.find_column_name(f.source_id), f.transform) for f in spec.fields]
        return fields == [(self.column, self.transform)]

    def select(self, partition: str, schema: Schema) -> Selection:
        """The rows of `partition` (a key or 'START...END') in a table with `schema`."""
        field_type = _find(self, schema).field_type
        start, end = split_range(partition)
        if self.grain == "identity":
            return self._select_values(partition, self._keys(start, end), field_type)
        return self._select_window(partition, self._window(start)[0], self._window(end)[1], field_type)

    # -- identity --------------------------------------------------------------------------------

    def _keys(self, start: str, end: str) -> list[str]:
        if start == end:
            return [start]
        if self.definition is None:
            raise IOManagerError(
                f"Asset '{self.asset}': the range '{start}{RANGE_SEPARATOR}{end}' of identity partitions "
                "cannot be listed without the asset's partitions definition. Write one key at a time, "
                "or set a time `partition_grain` in the asset's metadata."
            )
        return list(self.definition.keys_in_range(start, end))

    def _select_values(self, partition: str, keys: Sequence[str], field_type: IcebergType) -> Selection:
        arrow_type = _arrow_type(field_type)
        try:
            values = pa.array(list(keys)).cast(arrow_type).to_pylist()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise IOManagerError(
                f"Asset '{self.asset}': partition '{partition}' is not a value of the partition column "
                f"'{self.column}' ({field_type}): {exc}"
            ) from exc
        literals = [_literal(v) for v in values]
        expression = EqualTo(self.column, literals[0]) if len(literals) == 1 else In(self.column, literals)
        return Selection(self, partition, expression, values=pa.array(values, arrow_type))

    # -- time windows ----------------------------------------------------------------------------

    def _window(self, key: str) -> tuple[dt.datetime, dt.datetime]:
        window = getattr(self.definition, "window", None)
        if window is not None and self.grain == _grain_of_definition(self.definition):
            try:
                return window(key)
            except Exception as exc:  # a PartitionError: not a key of this definition
                raise IOManagerError(f"Asset '{self.asset}': {exc}") from exc
        start = _parse_key(self.asset, key).replace(tzinfo=ZoneInfo(self.timezone))
        return start, _window_end(start, self.grain)

    def _select_window(self, partition: str, start: dt.datetime, end: dt.datetime,
                       field_type: IcebergType) -> Selection:
        if isinstance(field_type, DateType):
            if self.grain == "hour":
                raise IOManagerError(
                    f"Asset '{self.asset}': partition_grain 'hour' needs a timestamp column; "
                    f"'{self.column}' is a date."
                )
            low, high = start.date(), end.date()
        elif isinstance(field_type, TimestamptzType):
            low, high = start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)
        elif isinstance(field_type, TimestampType):  # wall-clock time in the partitions' time zone
            low, high = start.replace(tzinfo=None), end.replace(tzinfo=None)
        else:
            raise IOManagerError(
                f"Asset '{self.asset}': partition_grain '{self.grain}' needs a date or timestamp "
                f"partition column; '{self.column}' is {field_type}. Use partition_grain 'identity', "
                "or partition by a date column."
            )
        expression = And(GreaterThanOrEqual(self.column, _literal(low)), LessThan(self.column, _literal(high)))
        return Selection(self, partition, expression, low=low, high=high)


@dataclass(frozen=True)
class Selection:
    """The rows of one partition or range: a row filter, and a check that data stays inside it."""

    partitioning: Partitioning
    partition: str
    expression: BooleanExpression
    low: Any = None  # a window [low, high) ...
    high: Any = None
    values: pa.Array | None = None  # ... or a set of values

    def check(self, table: pa.Table) -> None:
        """Raise IOManagerError when some rows of `table` lie outside the partition."""
        column = self.partitioning.column
        if column not in table.column_names:
            raise IOManagerError(
                f"Asset '{self.partitioning.asset}': the data has no partition column '{column}' "
                f"(columns: {', '.join(table.column_names)}). Add it, or fix `partition_column`."
            )
        values = table[column]
        if self.values is not None:
            inside = pc.is_in(values, value_set=self.values.cast(values.type))
        else:
            inside = pc.and_(pc.greater_equal(values, _scalar(self.low, values.type)),
                             pc.less(values, _scalar(self.high, values.type)))
        outside = pc.invert(pc.fill_null(inside, False))
        count = pc.sum(outside).as_py() or 0
        if count:
            example = values.filter(outside)[0].as_py()
            raise IOManagerError(
                f"Asset '{self.partitioning.asset}' partition '{self.partition}': {count} row(s) do not "
                f"belong to the partition (e.g. {column} = {example!r}). Return only the rows of the partition."
            )


def partitioning_for(asset: AssetKey, metadata: Mapping[str, Any], partition: str | None,
                     definition: Any = None, column_type: IcebergType | None = None) -> Partitioning | None:
    """The asset's partitioning from its metadata (and definition), or None when it has no column."""
    column = metadata.get("partition_column")
    if not column:
        if partition is not None:
            raise IOManagerError(
                f"Asset '{asset}' is partitioned but has no `partition_column` in its metadata: "
                "IcebergIOManager needs it to know which rows a partition holds, "
                "e.g. @asset(partitions=..., metadata={'partition_column': 'order_date'})."
            )
        return None
    grain = metadata.get("partition_grain") or _grain_of_definition(definition)
    if grain is None:
        if partition is not None:
            grain = grain_of_key(split_range(partition)[0])
        else:  # no key to tell: a date or time column is partitioned by day
            grain = "day" if isinstance(column_type, (DateType, TimestampType, TimestamptzType)) else "identity"
    if grain not in GRAINS:
        raise IOManagerError(
            f"Asset '{asset}': unknown partition_grain '{grain}'. "
            f"Use one of {', '.join(sorted(set(GRAINS.values())))}."
        )
    timezone = metadata.get("partition_timezone") or getattr(definition, "timezone", None) or "UTC"
    return Partitioning(asset, str(column), GRAINS[grain], str(timezone), definition)


def partitioning_of_spec(asset: AssetKey, spec: PartitionSpec, schema: Schema) -> Partitioning | None:
    """The partitioning an existing table's spec implies (for reads without the asset's metadata)."""
    if len(spec.fields) != 1:
        return None
    field = spec.fields[0]
    for grain in ("hour", "day", "month", "year", "identity"):
        if field.transform == _TRANSFORMS[grain]():
            return Partitioning(asset, schema.find_column_name(field.source_id), grain)
    return None


def _grain_of_definition(definition: Any) -> str | None:
    grain = getattr(definition, "grain", None)  # TimeWindowPartitions: hourly, daily, weekly, monthly
    if grain is not None:
        return GRAINS.get(grain)
    return "identity" if definition is not None else None


def _find(partitioning: Partitioning, schema: Schema) -> Any:
    try:
        return schema.find_field(partitioning.column)
    except ValueError:
        raise IOManagerError(
            f"Asset '{partitioning.asset}' has no partition column '{partitioning.column}' "
            f"(columns: {', '.join(f.name for f in schema.fields)}). Add it to the data, or fix "
            "`partition_column` in the asset's metadata."
        ) from None


def _parse_key(asset: AssetKey, key: str) -> dt.datetime:
    for fmt in _KEY_FORMATS:
        try:
            return dt.datetime.strptime(key, fmt)
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(key).replace(tzinfo=None)
    except ValueError:
        raise IOManagerError(
            f"Asset '{asset}': partition '{key}' is not a date or time, but its partition_grain is a "
            "time grain. Use keys like 2024-01-31 (day) or 2024-01-31-13:00 (hour)."
        ) from None


def _window_end(start: dt.datetime, grain: str) -> dt.datetime:
    if grain in ("month", "year"):
        months = 1 if grain == "month" else 12
        month0 = start.month - 1 + months
        return start.replace(year=start.year + month0 // 12, month=month0 % 12 + 1)
    return start + {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1),
                    "week": dt.timedelta(weeks=1)}[grain]


def _literal(value: Any) -> Any:
    """A value pyiceberg's expressions accept: dates and times as ISO strings."""
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _scalar(value: Any, arrow_type: pa.DataType) -> pa.Scalar:
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is None and isinstance(value, dt.datetime):
        value = value.replace(tzinfo=None)
    return pa.scalar(value, arrow_type)


def _arrow_type(field_type: IcebergType) -> pa.DataType:
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    return schema_to_pyarrow(field_type)
