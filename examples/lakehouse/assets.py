"""The demo's Python assets: ingest upstream of dbt, a forecast downstream of a mart."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from examples.lakehouse import raw_data
from orchestrator import AutomationCondition, DailyPartitions, FreshnessPolicy, PartitionRange, asset

DAYS = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))


@asset(key_prefix="raw", io_manager="warehouse", group="raw", kinds=["python", "duckdb"], pool="warehouse")
def customers() -> pa.Table:
    """Customer sign-ups, as the shop's backend exports them."""
    return raw_data.customers()


@asset(key_prefix="raw", io_manager="warehouse", group="raw", kinds=["python", "duckdb"], pool="warehouse")
def orders() -> pa.Table:
    """Orders placed in 2024."""
    return raw_data.orders()


@asset(key_prefix="raw", io_manager="warehouse", group="raw", kinds=["python", "duckdb"], pool="warehouse")
def payments(orders: pa.Table) -> pa.Table:
    """Payment attempts for each order."""
    return raw_data.payments(orders)


@asset(key_prefix="raw", io_manager="warehouse", group="raw", kinds=["python", "duckdb"], pool="warehouse")
def events() -> pa.Table:
    """Clickstream events of 2024."""
    return raw_data.events_range(*DAYS)


@asset(ins={"daily": "marts/fct_daily_revenue"}, group="forecast", kinds=["python", "parquet"],
       owners=["finance-analytics@example.com"], pool="warehouse",
       automation=AutomationCondition.eager(), freshness=FreshnessPolicy(max_lag="6h"),
       column_lineage={"day": [("marts/fct_daily_revenue", "order_date", "transform")],
                       "revenue_forecast": [("marts/fct_daily_revenue", "revenue", "aggregate")]})
def revenue_forecast(context, daily: pa.Table) -> pa.Table:
    """Next 28 days of revenue: the mean of the last four same weekdays."""
    daily = daily.sort_by("order_date")
    dates = daily["order_date"].to_pylist()
    revenue = daily["revenue"].cast(pa.float64()).to_pylist()
    by_weekday: dict[int, list[float]] = {}
    for day, amount in zip(dates, revenue):
        by_weekday.setdefault(day.weekday(), []).append(amount or 0.0)
    last = max(dates)
    horizon = [last + dt.timedelta(days=i) for i in range(1, 29)]
    forecast = [sum(by_weekday.get(d.weekday(), [0.0])[-4:]) / 4 for d in horizon]
    context.add_metadata(history_days=len(dates), horizon_days=len(horizon),
                         forecast_total=round(sum(forecast), 2))
    return pa.table({"day": pa.array(horizon, pa.date32()), "revenue_forecast": forecast})


@asset(key_prefix="lake", io_manager="files", group="raw", kinds=["python", "parquet"])
def fx_rates() -> pa.Table:
    """Daily exchange rates, written as Parquet that dbt reads in place (source lake.fx_rates)."""
    return raw_data.fx_rates()


@asset(key_prefix="lake", io_manager="iceberg", group="raw", kinds=["python", "iceberg"])
def marketing_spend() -> pa.Table:
    """Daily marketing spend, an Iceberg table that dbt reads in place (source lake.marketing_spend)."""
    return raw_data.marketing_spend()


@asset(ins={"daily": "marts/fct_daily_revenue"}, partitions=DailyPartitions(start="2024-01-01"),
       io_manager="iceberg", metadata={"partition_column": "order_date", "partition_grain": "day"}, pool="warehouse",
       group="forecast", kinds=["python", "iceberg"],
       column_lineage={"order_date": [("marts/fct_daily_revenue", "order_date", "direct")],
                       "weekday": [("marts/fct_daily_revenue", "order_date", "transform")],
                       "revenue": [("marts/fct_daily_revenue", "revenue", "transform")],
                       "orders": [("marts/fct_daily_revenue", "order_count", "direct")]})
def revenue_digest(days: PartitionRange, daily: pa.Table) -> pa.Table:
    """Each day's revenue with its weekday: a daily-partitioned Iceberg asset downstream of dbt.
    It takes a PartitionRange, so a backfill writes its whole range in one Iceberg commit."""
    daily = daily.sort_by("order_date")
    return pa.table({
        "order_date": daily["order_date"],
        "weekday": [d.strftime("%A") for d in daily["order_date"].to_pylist()],
        "revenue": daily["revenue"].cast(pa.float64()),
        "orders": daily["order_count"],
    })
