"""The raw world a generated project reads: `raw` source tables (made with DuckDB) and seed CSVs.

Each raw column lists the ways a staging model may select it (`Variant`: a SQL template over the raw
column, the output name, and the lineage kind of that expression). The data are fixed (independent
of the generator's seed) and deterministic: every value is an expression of the row number `i`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WINDOW, DIRECT, TRANSFORM, AGGREGATE = -1, 0, 1, 2
KINDS = {WINDOW: "window", DIRECT: "direct", TRANSFORM: "transform", AGGREGATE: "aggregate"}
"""window: read by the PARTITION BY / ORDER BY of the window function computing the column."""
SOURCE_NAME = "raw"

# Type categories the generator reasons with, and the DuckDB type of a typed NULL of each.
NULL_TYPES = {
    "int": "bigint",
    "num": "double",
    "str": "varchar",
    "date": "date",
    "ts": "timestamp",
    "bool": "boolean",
}

COUNTRIES = ("us", "de", "fr", "gb", "nl", "es", "it", "se", "pl", "jp")
REGIONS = ("North America", "Europe", "Asia Pacific")
COUNTRY_REGION = {"us": "North America", "jp": "Asia Pacific"}
STATUSES = ("placed", "shipped", "completed", "returned", "cancelled")
SEGMENTS = ("consumer", "corporate", "home_office")
CURRENCIES = ("usd", "eur", "gbp")
METHODS = ("card", "bank_transfer", "voucher", "cash")
EVENT_TYPES = ("view", "click", "add_to_cart", "purchase")
DEVICES = ("desktop", "mobile", "tablet")
DEPARTMENTS = ("apparel", "electronics", "home", "outdoor")


@dataclass(frozen=True)
class Variant:
    """One way a staging model selects a raw column: `expr` is a template over `{c}`."""

    expr: str
    name: str
    kind: int = DIRECT
    type: str | None = None  # None: the raw column's type category
    role: str | None = None  # None: the raw column's role
    values: tuple[str, ...] | None = None  # None: the raw column's values (if any)
    not_null: bool = False  # the expression is never null (coalesce)


@dataclass(frozen=True)
class RawColumn:
    name: str
    sql_type: str
    type: str  # int num str date ts bool
    role: str  # key date ts measure attr flag
    data: str  # DuckDB expression over the row number i (sources only)
    variants: tuple[Variant, ...]
    nullable: bool = False
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RawTable:
    name: str
    rows: int
    pk: str
    columns: tuple[RawColumn, ...]
    weight: float = 1.0  # how often staging models read it
    seed_rows: tuple[tuple[str, ...], ...] = ()  # seeds only: the CSV body


def _pick(values: tuple[str, ...], mult: int) -> str:
    literal = ", ".join(f"'{v}'" for v in values)
    return f"[{literal}][1 + (i * {mult}) % {len(values)}]"


def _id(out: str) -> RawColumn:
    return RawColumn("id", "bigint", "int", "key", "i", (Variant("{c}", out),))


def _fk(name: str, data: str) -> RawColumn:
    return RawColumn(name, "bigint", "int", "key", data, (Variant("{c}", name),))


def _day(start: str, mult: int, span: int) -> str:
    return f"date '{start}' + cast((i * {mult}) % {span} as integer)"


def _minute(start: str, mult: int) -> str:
    return f"timestamp '{start} 00:00:00' + to_minutes(cast((i * {mult}) % 525600 as bigint))"


def _ts(name: str, data: str, date_name: str, ts_name: str) -> RawColumn:
    as_date = Variant("cast({c} as date)", date_name, TRANSFORM, "date", "date")
    return RawColumn(name, "timestamp", "ts", "ts", data, (as_date, as_date, Variant("{c}", ts_name)))


def _upper(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.upper() for v in values)


T = TRANSFORM
SOURCES: tuple[RawTable, ...] = (
    RawTable("customers", 300, "id", weight=2.0, columns=(
        _id("customer_id"),
        RawColumn("name", "varchar", "str", "attr", "'Customer ' || i",
                  (Variant("{c}", "customer_name"), Variant("trim({c})", "customer_name", T))),
        RawColumn("email", "varchar", "str", "attr",
                  "case when i % 11 = 0 then null else 'User' || i || '@example.com' end",
                  (Variant("lower({c})", "email", T),
                   Variant("coalesce(lower({c}), 'unknown')", "email", T, not_null=True)),
                  nullable=True),
        RawColumn("country", "varchar", "str", "attr", _pick(COUNTRIES, 7),
                  (Variant("upper({c})", "country_code", T, role="key", values=_upper(COUNTRIES)),),
                  values=COUNTRIES),
        RawColumn("segment", "varchar", "str", "attr", _pick(SEGMENTS, 5),
                  (Variant("{c}", "segment"), Variant("lower({c})", "segment", T)), values=SEGMENTS),
        _ts("created_at", "timestamp '2023-01-01 00:00:00' + to_hours(cast((i * 37) % 16000 as bigint))",
            "signup_date", "created_at"),
        RawColumn("is_active", "boolean", "bool", "flag", "i % 7 <> 0",
                  (Variant("{c}", "is_active"), Variant("coalesce({c}, false)", "is_active", T))),
    )),
    RawTable("orders", 1000, "id", weight=3.0, columns=(
        _id("order_id"),
        _fk("customer_id", "1 + (i * 7) % 300"),
        _fk("store_id", "1 + (i * 3) % 20"),
        RawColumn("order_date", "date", "date", "date", _day("2024-01-01", 13, 366),
                  (Variant("{c}", "order_date"),)),
        RawColumn("status", "varchar", "str", "attr", _pick(STATUSES, 3),
                  (Variant("{c}", "status"), Variant("lower(trim({c}))", "status", T)), values=STATUSES),
        RawColumn("amount", "decimal(12, 2)", "num", "measure", "((i * 7919) % 50000) / 100.0",
                  (Variant("cast({c} as double)", "amount", T),
                   Variant("round(cast({c} as double), 2)", "order_amount", T))),
        RawColumn("discount", "double", "num", "measure",
                  "case when i % 5 = 0 then null else ((i * 17) % 30) / 100.0 end",
                  (Variant("{c}", "discount"), Variant("coalesce({c}, 0)", "discount", T, not_null=True)),
                  nullable=True),
        RawColumn("currency", "varchar", "str", "attr", _pick(CURRENCIES, 2),
                  (Variant("upper({c})", "currency_code", T, values=_upper(CURRENCIES)),),
                  values=CURRENCIES),
    )),
    RawTable("order_items", 1000, "id", weight=1.5, columns=(
        _id("order_item_id"),
        _fk("order_id", "1 + (i * 11) % 1000"),
        _fk("product_id", "1 + (i * 7) % 120"),
        RawColumn("quantity", "bigint", "int", "measure", "1 + (i * 3) % 5", (Variant("{c}", "quantity"),)),
        RawColumn("unit_price", "double", "num", "measure", "((i * 389) % 10000) / 100.0 + 1",
                  (Variant("{c}", "unit_price"), Variant("round({c}, 2)", "unit_price", T))),
        RawColumn("order_date", "date", "date", "date", _day("2024-01-01", 17, 366),
                  (Variant("{c}", "order_date"),)),
    )),
    RawTable("products", 120, "id", columns=(
        _id("product_id"),
        RawColumn("name", "varchar", "str", "attr", "'Product ' || i",
                  (Variant("{c}", "product_name"), Variant("upper({c})", "product_name", T))),
        _fk("category_id", "1 + (i * 5) % 12"),
        RawColumn("list_price", "double", "num", "measure", "10 + (i * 97) % 500",
                  (Variant("{c}", "list_price"),)),
        RawColumn("cost", "double", "num", "measure", "5 + (i * 53) % 250",
                  (Variant("{c}", "cost"), Variant("round({c} * 1.05, 2)", "landed_cost", T))),
        RawColumn("launched_on", "date", "date", "date", _day("2022-01-01", 29, 900),
                  (Variant("{c}", "launch_date"),)),
        RawColumn("is_discontinued", "boolean", "bool", "flag", "i % 9 = 0",
                  (Variant("{c}", "is_discontinued"),)),
    )),
    RawTable("payments", 800, "id", weight=1.5, columns=(
        _id("payment_id"),
        _fk("order_id", "1 + (i * 13) % 1000"),
        _fk("customer_id", "1 + (i * 17) % 300"),
        RawColumn("method", "varchar", "str", "attr", _pick(METHODS, 3),
                  (Variant("{c}", "payment_method"),), values=METHODS),
        RawColumn("amount", "double", "num", "measure", "((i * 601) % 40000) / 100.0",
                  (Variant("{c}", "paid_amount"), Variant("round({c}, 2)", "paid_amount", T))),
        _ts("paid_at", _minute("2024-01-01", 211), "payment_date", "paid_at"),
    )),
    RawTable("events", 1000, "id", weight=2.0, columns=(
        _id("event_id"),
        _fk("customer_id", "1 + (i * 19) % 300"),
        _fk("product_id", "1 + (i * 23) % 120"),
        RawColumn("event_type", "varchar", "str", "attr", _pick(EVENT_TYPES, 3),
                  (Variant("{c}", "event_type"),), values=EVENT_TYPES),
        _ts("occurred_at", _minute("2024-01-01", 149), "event_date", "occurred_at"),
        RawColumn("duration_ms", "bigint", "int", "measure",
                  "case when i % 13 = 0 then null else (i * 631) % 600000 end",
                  (Variant("{c}", "duration_ms"), Variant("{c} / 1000.0", "duration_s", T, "num")),
                  nullable=True),
    )),
    RawTable("inventory", 600, "id", columns=(
        _id("inventory_id"),
        _fk("product_id", "1 + (i * 7) % 120"),
        _fk("store_id", "1 + (i * 11) % 20"),
        RawColumn("snapshot_date", "date", "date", "date", _day("2024-01-01", 3, 180),
                  (Variant("{c}", "snapshot_date"),)),
        RawColumn("on_hand", "bigint", "int", "measure", "(i * 37) % 200", (Variant("{c}", "on_hand"),)),
        RawColumn("reorder_point", "bigint", "int", "measure", "10 + (i * 7) % 40",
                  (Variant("{c}", "reorder_point"),)),
    )),
    RawTable("sessions", 700, "id", columns=(
        _id("session_id"),
        _fk("customer_id", "1 + (i * 29) % 300"),
        _fk("store_id", "1 + (i * 7) % 20"),
        _ts("started_at", _minute("2024-01-01", 97), "session_date", "started_at"),
        RawColumn("pages", "bigint", "int", "measure", "1 + (i * 13) % 40", (Variant("{c}", "pages"),)),
        RawColumn("device", "varchar", "str", "attr", _pick(DEVICES, 2),
                  (Variant("{c}", "device"), Variant("upper({c})", "device", T, values=_upper(DEVICES))),
                  values=DEVICES),
    )),
)


def _seed_col(name: str, sql_type: str, type_: str, role: str, values=None, out: str | None = None):
    return RawColumn(name, sql_type, type_, role, "", (Variant("{c}", out or name),), values=values)


def _region(country: str) -> str:
    return COUNTRY_REGION.get(country, "Europe")


SEEDS: tuple[RawTable, ...] = (
    RawTable("stores", 20, "store_id", columns=(
        _seed_col("store_id", "bigint", "int", "key"),
        _seed_col("store_name", "varchar", "str", "attr"),
        _seed_col("country_code", "varchar", "str", "key", _upper(COUNTRIES)),
        _seed_col("region", "varchar", "str", "attr", REGIONS),
        _seed_col("opened_on", "date", "date", "date", out="opened_date"),
    ), seed_rows=tuple(
        (str(i), f"Store {i}", COUNTRIES[i % 10].upper(), _region(COUNTRIES[i % 10]),
         f"2020-{1 + i % 12:02d}-{1 + (i * 7) % 28:02d}")
        for i in range(1, 21)
    )),
    RawTable("product_categories", 12, "category_id", columns=(
        _seed_col("category_id", "bigint", "int", "key"),
        _seed_col("category_name", "varchar", "str", "attr"),
        _seed_col("department", "varchar", "str", "attr", DEPARTMENTS),
    ), seed_rows=tuple((str(i), f"Category {i}", DEPARTMENTS[i % 4]) for i in range(1, 13))),
    RawTable("country_codes", 10, "country_code", columns=(
        _seed_col("country_code", "varchar", "str", "key", _upper(COUNTRIES)),
        _seed_col("country_name", "varchar", "str", "attr"),
        _seed_col("region", "varchar", "str", "attr", REGIONS),
    ), seed_rows=tuple((c.upper(), f"Country {c.upper()}", _region(c)) for c in COUNTRIES)),
)


def seed_csv(table: RawTable) -> str:
    lines = [",".join(c.name for c in table.columns)]
    lines += [",".join(row) for row in table.seed_rows]
    return "\n".join(lines) + "\n"


def create_raw_tables(warehouse_path: str | Path) -> dict[str, int]:
    """Create the `raw` source tables in a DuckDB file (replacing them); returns rows per table.

    >>> import tempfile, pathlib
    >>> create_raw_tables(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")["orders"]
    1000
    """
    import duckdb

    path = Path(warehouse_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"create schema if not exists {SOURCE_NAME}")
        for table in SOURCES:
            cols = ",\n    ".join(f"cast({c.data} as {c.sql_type}) as {c.name}" for c in table.columns)
            con.execute(
                f"create or replace table {SOURCE_NAME}.{table.name} as\n"
                f"select\n    {cols}\nfrom range(1, {table.rows + 1}) as r(i)\norder by i"
            )
    finally:
        con.close()
    return {table.name: table.rows for table in SOURCES}
