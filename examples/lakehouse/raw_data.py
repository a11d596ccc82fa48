"""Deterministic raw data for the demo lakehouse.

Pure functions: they depend on pyarrow only, touch no disk and return the same tables on every run
(each uses its own seeded ``random.Random``). The orchestrator's Python assets write them as DuckDB
tables in schema ``raw``; the dbt project in ``dbt_project/`` reads them as the source ``raw``.

Value sets here are pinned by dbt tests (``accepted_values``) and by the seed
``dbt_project/seeds/country_codes.csv``: change both sides together.

>>> customers().num_rows, orders().num_rows
(500, 5000)
>>> events(datetime.date(2024, 3, 1)).equals(events(datetime.date(2024, 3, 1)))
True
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

import pyarrow as pa

__all__ = [
    "COUNTRY_CODES",
    "EVENT_TYPES",
    "ORDER_STATUSES",
    "PAYMENT_METHODS",
    "PAYMENT_STATUSES",
    "customers",
    "events",
    "events_range",
    "fx_rates",
    "marketing_spend",
    "orders",
    "payments",
]

SEED = 20240101
N_CUSTOMERS = 500
N_ORDERS = 5000
EVENTS_PER_DAY = 200
FIRST_DAY = datetime.date(2024, 1, 1)
LAST_DAY = datetime.date(2024, 12, 31)

# Kept in step with dbt_project/seeds/country_codes.csv.
COUNTRY_CODES = ("US", "CA", "MX", "BR", "AR", "GB", "DE", "FR", "ES", "NL", "IN", "JP", "AU", "SG")
ORDER_STATUSES = ("placed", "shipped", "completed", "returned", "cancelled")
PAYMENT_METHODS = ("credit_card", "bank_transfer", "gift_card", "coupon")
PAYMENT_STATUSES = ("success", "failed")
EVENT_TYPES = ("page_view", "search", "add_to_cart", "checkout", "purchase")

_FIRST_NAMES = (
    "Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "Guido", "Hedy",
    "Ivan", "Jean", "John", "Ken", "Linus", "Margaret", "Niklaus", "Radia", "Shafi", "Tim",
)
_LAST_NAMES = (
    "Allen", "Backus", "Cerf", "Dijkstra", "Engelbart", "Floyd", "Goldwasser", "Hopper", "Iverson",
    "Kay", "Knuth", "Lamport", "Liskov", "McCarthy", "Perlman", "Ritchie", "Sammet", "Thompson",
    "Turing", "Wirth",
)
_PAGES = (
    "/", "/search", "/products", "/products/detail", "/cart", "/checkout", "/account", "/help",
)

CUSTOMERS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("first_name", pa.string()),
        pa.field("last_name", pa.string()),
        pa.field("email", pa.string()),
        pa.field("country", pa.string()),
        pa.field("signup_date", pa.date32()),
        pa.field("updated_at", pa.timestamp("us")),
    ]
)
ORDERS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("customer_id", pa.int64()),
        pa.field("order_date", pa.date32()),
        pa.field("ordered_at", pa.timestamp("us")),
        pa.field("status", pa.string()),
        pa.field("order_total", pa.decimal128(10, 2)),
    ]
)
PAYMENTS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("order_id", pa.int64()),
        pa.field("payment_method", pa.string()),
        pa.field("status", pa.string()),
        pa.field("amount_cents", pa.int64()),
        pa.field("created_at", pa.timestamp("us")),
    ]
)
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("customer_id", pa.int64()),
        pa.field("session_id", pa.string()),
        pa.field("event_type", pa.string()),
        pa.field("page", pa.string()),
        pa.field("event_ts", pa.timestamp("us")),
        pa.field("event_date", pa.date32()),
    ]
)


def _days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """Days in ``[start, end)``."""
    return [start + datetime.timedelta(days=i) for i in range((end - start).days)]


def _at(day: datetime.date, rng: random.Random) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time()) + datetime.timedelta(
        seconds=rng.randrange(24 * 3600)
    )


def _signup_dates() -> list[datetime.date]:
    rng = random.Random(SEED)
    first = datetime.date(2023, 1, 1)
    span = (datetime.date(2024, 10, 1) - first).days
    return [first + datetime.timedelta(days=rng.randrange(span)) for _ in range(N_CUSTOMERS)]


def customers() -> pa.Table:
    """~500 customers. Raw quirks the staging model cleans: mixed-case country codes, emails with
    capitals and stray spaces, and four duplicate sign-ups (an email used twice, which a `warn`
    test reports)."""
    rng = random.Random(SEED + 1)
    signups = _signup_dates()
    rows: dict[str, list] = {name: [] for name in CUSTOMERS_SCHEMA.names}
    for i in range(N_CUSTOMERS):
        customer_id = i + 1
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        email = f"{first}.{last}{customer_id}@example.com".lower()
        if rng.random() < 0.1:
            email = f" {email.capitalize()} "
        country = rng.choice(COUNTRY_CODES)
        if rng.random() < 0.2:
            country = country.lower()
        updated = _at(max(signups[i], FIRST_DAY) + datetime.timedelta(days=rng.randrange(60)), rng)
        rows["id"].append(customer_id)
        rows["first_name"].append(first)
        rows["last_name"].append(last)
        rows["email"].append(email)
        rows["country"].append(country)
        rows["signup_date"].append(signups[i])
        rows["updated_at"].append(updated)
    for dup, original in ((497, 10), (498, 20), (499, 30), (500, 40)):
        rows["email"][dup - 1] = rows["email"][original - 1].strip().upper()
    return pa.table(rows, schema=CUSTOMERS_SCHEMA)


def orders() -> pa.Table:
    """~5,000 orders over 2024-01-01..2024-12-31, each on or after its customer's sign-up."""
    rng = random.Random(SEED + 2)
    signups = _signup_dates()
    weights = (10, 15, 60, 8, 7)  # placed, shipped, completed, returned, cancelled
    rows: dict[str, list] = {name: [] for name in ORDERS_SCHEMA.names}
    drafted = []
    for _ in range(N_ORDERS):
        customer_id = rng.randrange(1, N_CUSTOMERS + 1)
        first = max(signups[customer_id - 1], FIRST_DAY)
        day = first + datetime.timedelta(days=rng.randrange((LAST_DAY - first).days + 1))
        drafted.append((_at(day, rng), customer_id))
    drafted.sort()
    for i, (ordered_at, customer_id) in enumerate(drafted):
        rows["id"].append(i + 1)
        rows["customer_id"].append(customer_id)
        rows["order_date"].append(ordered_at.date())
        rows["ordered_at"].append(ordered_at)
        rows["status"].append(rng.choices(ORDER_STATUSES, weights)[0])
        rows["order_total"].append(Decimal(rng.randrange(500, 30000)) / 100)
    return pa.table(rows, schema=ORDERS_SCHEMA)


def payments(orders: pa.Table) -> pa.Table:
    """~6,000 payments for ``orders``: every order that is not cancelled is paid in full by its
    successful payments (one, or two when split with a gift card or coupon); some orders have a
    failed attempt first; a cancelled order has at most a failed attempt."""
    rng = random.Random(SEED + 3)
    rows: dict[str, list] = {name: [] for name in PAYMENTS_SCHEMA.names}

    def add(order_id: int, method: str, status: str, cents: int, at: datetime.datetime) -> None:
        rows["id"].append(len(rows["id"]) + 1)
        rows["order_id"].append(order_id)
        rows["payment_method"].append(method)
        rows["status"].append(status)
        rows["amount_cents"].append(cents)
        rows["created_at"].append(at)

    for order in orders.to_pylist():
        cents = int(order["order_total"] * 100)
        at = order["ordered_at"] + datetime.timedelta(minutes=rng.randrange(1, 30))
        main_method = rng.choices(("credit_card", "bank_transfer"), (4, 1))[0]
        if order["status"] == "cancelled":
            if rng.random() < 0.5:
                add(order["id"], main_method, "failed", cents, at)
            continue
        if rng.random() < 0.1:
            add(order["id"], main_method, "failed", cents, at)
            at += datetime.timedelta(minutes=rng.randrange(1, 10))
        if rng.random() < 0.2 and cents > 2000:
            part = rng.randrange(500, cents // 2)
            add(order["id"], rng.choice(("gift_card", "coupon")), "success", part, at)
            later = at + datetime.timedelta(seconds=30)
            add(order["id"], main_method, "success", cents - part, later)
        else:
            add(order["id"], main_method, "success", cents, at)
    return pa.table(rows, schema=PAYMENTS_SCHEMA)


def events(day: datetime.date) -> pa.Table:
    """About 200 web events on ``day``; the same day always yields the same table, whatever range
    it is generated in, so a day is a partition that can be re-ingested. A quarter of the events are
    anonymous (null ``customer_id``)."""
    rng = random.Random(f"events-{SEED}-{day.isoformat()}")
    n = EVENTS_PER_DAY + rng.randrange(-20, 21)
    rows: dict[str, list] = {name: [] for name in EVENTS_SCHEMA.names}
    stamps = sorted(_at(day, rng) for _ in range(n))
    for i, ts in enumerate(stamps):
        customer_id = None if rng.random() < 0.25 else rng.randrange(1, N_CUSTOMERS + 1)
        rows["event_id"].append(day.toordinal() * 1000 + i)
        rows["customer_id"].append(customer_id)
        rows["session_id"].append(f"{day:%Y%m%d}-{rng.randrange(60):02d}")
        rows["event_type"].append(rng.choices(EVENT_TYPES, (60, 15, 12, 8, 5))[0])
        rows["page"].append(rng.choice(_PAGES))
        rows["event_ts"].append(ts)
        rows["event_date"].append(day)
    return pa.table(rows, schema=EVENTS_SCHEMA)


def events_range(start: datetime.date, end: datetime.date) -> pa.Table:
    """Events of every day in ``[start, end)`` (end exclusive), concatenated in day order."""
    days = _days(start, end)
    if not days:
        return EVENTS_SCHEMA.empty_table()
    return pa.concat_tables([events(day) for day in days])


FX_CURRENCIES = ("EUR", "GBP", "JPY", "CAD")


def fx_rates() -> pa.Table:
    """Daily US dollars per unit of four currencies over 2024 (a random walk, seeded)."""
    rng = random.Random(SEED + 7)
    level = {"EUR": 1.09, "GBP": 1.27, "JPY": 0.0069, "CAD": 0.74}
    days, currencies, rates = [], [], []
    day = FIRST_DAY
    while day <= LAST_DAY:
        for currency in FX_CURRENCIES:
            level[currency] *= 1 + rng.gauss(0, 0.003)
            days.append(day)
            currencies.append(currency)
            rates.append(round(level[currency], 6))
        day += datetime.timedelta(days=1)
    return pa.table({"rate_date": pa.array(days, pa.date32()), "currency": currencies,
                     "usd_per_unit": pa.array(rates, pa.float64())})


MARKETING_CHANNELS = ("search", "social", "email", "affiliates")


def marketing_spend() -> pa.Table:
    """Daily spend in US dollars per marketing channel over 2024 (seeded)."""
    rng = random.Random(SEED + 11)
    days, channels, spend = [], [], []
    day = FIRST_DAY
    while day <= LAST_DAY:
        for channel in MARKETING_CHANNELS:
            days.append(day)
            channels.append(channel)
            spend.append(Decimal(f"{rng.uniform(50, 900):.2f}"))
        day += datetime.timedelta(days=1)
    return pa.table({"spend_date": pa.array(days, pa.date32()), "channel": channels,
                     "spend_usd": pa.array(spend, pa.decimal128(12, 2))})
