"""End to end: the demo raw data through the real dbt project (dbt-duckdb), in process.

The raw tables from ``examples/lakehouse/raw_data.py`` are loaded into a fresh DuckDB file, the
project is parsed once, and every later dbt invocation reuses that manifest (as the orchestrator's
in-process runner does). dbt's target and log directories live in the test's tmp dir, so the
repository stays clean.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

from integrations.iceberg import IcebergIOManager
from orchestrator import AssetKey, OutputContext

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
EVENTS_START, EVENTS_END = datetime.date(2024, 1, 1), datetime.date(2024, 3, 1)  # 2 month batches
REVENUE_STATUSES = ("shipped", "completed")
WARN_TEST = "test.lakehouse.unique_stg_customers_email"


def _load_raw_data() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "lakehouse_raw_data", REPO / "examples" / "lakehouse" / "raw_data.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


raw_data = _load_raw_data()


@dataclass
class Dbt:
    """Runs dbt in process against one warehouse file, with target/ and logs/ outside the repo."""

    warehouse: Path
    workdir: Path
    manifest: Any = None

    def __call__(self, *args: str) -> dbtRunnerResult:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("ORCH_WAREHOUSE_PATH", str(self.warehouse))
            env.setenv("ORCH_HOME", str(self.workdir))  # where the Parquet source lake.fx_rates is
            return dbtRunner(manifest=self.manifest).invoke(
                [
                    *args,
                    "--project-dir", str(PROJECT),
                    "--profiles-dir", str(PROJECT),
                    "--target-path", str(self.workdir / "target"),
                    "--log-path", str(self.workdir / "logs"),
                    "--quiet",
                ]
            )

    def ok(self, *args: str) -> Any:
        """Invoke and return the per-node results; fail the test if the invocation failed."""
        outcome = self(*args)
        assert outcome.success, f"dbt {' '.join(args)} failed: {outcome.exception}"
        return outcome.result


@dataclass
class Lakehouse:
    dbt: Dbt
    raw: dict[str, pa.Table]
    build: Any  # RunExecutionResult of the first `dbt build`

    def query(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.dbt.warehouse))
        try:
            return con.sql(sql).fetchall()
        finally:
            con.close()

    def scalar(self, sql: str) -> Any:
        return self.query(sql)[0][0]

    def execute(self, sql: str) -> None:
        con = duckdb.connect(str(self.dbt.warehouse))
        try:
            con.execute(sql)
        finally:
            con.close()


def _raw_tables() -> dict[str, pa.Table]:
    orders = raw_data.orders()
    return {
        "customers": raw_data.customers(),
        "orders": orders,
        "payments": raw_data.payments(orders),
        "events": raw_data.events_range(EVENTS_START, EVENTS_END),
    }


def _load(warehouse: Path, tables: dict[str, pa.Table]) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema raw")
        for name, table in tables.items():
            con.register("arrow_tbl", table)
            con.execute(f"create table raw.{name} as select * from arrow_tbl")
            con.unregister("arrow_tbl")
    finally:
        con.close()


@pytest.fixture(scope="module")
def lakehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lakehouse]:
    workdir = tmp_path_factory.mktemp("lakehouse")
    raw = _raw_tables()
    _load(workdir / "warehouse.duckdb", raw)
    fx_file = workdir / "files" / "lake" / "fx_rates" / "data.parquet"
    fx_file.parent.mkdir(parents=True)
    pq.write_table(raw_data.fx_rates(), fx_file)
    IcebergIOManager(home=workdir).write(OutputContext(AssetKey.parse("lake/marketing_spend")),
                                         raw_data.marketing_spend())
    dbt = Dbt(warehouse=workdir / "warehouse.duckdb", workdir=workdir)
    dbt.manifest = dbt.ok("parse")
    build = dbt.ok(
        "build",
        "--event-time-start", EVENTS_START.isoformat(),
        "--event-time-end", EVENTS_END.isoformat(),
    )
    yield Lakehouse(dbt=dbt, raw=raw, build=build)


def _revenue_orders(raw: dict[str, pa.Table]) -> pa.Table:
    orders = raw["orders"]
    return orders.filter(pc.is_in(orders["status"], value_set=pa.array(REVENUE_STATUSES)))


def _days(start: str, end: str) -> list[datetime.date]:
    first, last = datetime.date.fromisoformat(start), datetime.date.fromisoformat(end)
    return [first + datetime.timedelta(days=i) for i in range((last - first).days)]


# --- the build -----------------------------------------------------------------------------------


def test_build_runs_every_node_and_only_the_known_test_warns(lakehouse: Lakehouse) -> None:
    statuses = {r.node.unique_id: str(r.status) for r in lakehouse.build.results}
    not_ok = {
        uid: status
        for uid, status in statuses.items()
        if status not in ("success", "pass")
        and not (uid.startswith("exposure.") and status == "no-op")
    }
    assert list(not_ok.values()) == ["warn"]
    [warned] = not_ok
    assert warned.startswith(WARN_TEST)
    [warn_result] = [r for r in lakehouse.build.results if r.node.unique_id == warned]
    assert warn_result.failures == 4  # four customers signed up twice with one email

    kinds = {uid.split(".")[0] for uid in statuses}
    assert kinds >= {"seed", "snapshot", "model", "test"}
    built_models = {uid.split(".")[-1] for uid in statuses if uid.startswith("model.")}
    assert "int_order_payments" not in built_models  # ephemeral: compiled into fct_orders
    assert {"stg_orders", "fct_orders", "fct_daily_revenue", "fct_daily_events"} <= built_models


def test_manifest_has_every_resource_type_and_materialization(lakehouse: Lakehouse) -> None:
    manifest = json.loads((lakehouse.dbt.workdir / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["dbt_schema_version"].endswith("/manifest/v12.json")
    nodes = manifest["nodes"].values()
    models = [n for n in nodes if n["resource_type"] == "model"]
    materializations = {n["config"]["materialized"] for n in models}
    assert materializations == {"view", "table", "incremental", "ephemeral"}
    assert {n["resource_type"] for n in nodes} == {"model", "seed", "snapshot", "test"}
    tests = [n for n in nodes if n["resource_type"] == "test"]
    assert any("test_metadata" in t for t in tests)  # generic
    assert any("test_metadata" not in t for t in tests)  # singular
    assert len(manifest["sources"]) == 6  # raw.* in the warehouse; lake.*: a Parquet file, an Iceberg table
    assert manifest["exposures"] and manifest["groups"]

    revenue = manifest["nodes"]["model.lakehouse.fct_daily_revenue"]
    assert revenue["config"]["meta"]["partition"] == {"column": "order_date", "grain": "day", "start": "2024-01-01"}
    assert revenue["config"]["incremental_strategy"] == "delete+insert"
    events = manifest["nodes"]["model.lakehouse.fct_daily_events"]
    assert events["config"]["incremental_strategy"] == "microbatch"
    assert events["config"]["event_time"] == "event_date"


# --- the marts hold what the raw data says ------------------------------------------------------


def test_fct_orders_are_the_shipped_and_completed_orders(lakehouse: Lakehouse) -> None:
    expected = _revenue_orders(lakehouse.raw)
    assert lakehouse.scalar("select count(*) from marts.fct_orders") == expected.num_rows
    assert lakehouse.scalar("select sum(amount_paid) from marts.fct_orders") == (
        pc.sum(expected["order_total"]).as_py()
    )

    payments = lakehouse.raw["payments"]
    paid = payments.filter(
        pc.and_(
            pc.equal(payments["status"], "success"),
            pc.is_in(payments["order_id"], value_set=expected["id"]),
        )
    )
    assert lakehouse.scalar("select sum(amount_paid) * 100 from marts.fct_orders") == (
        pc.sum(paid["amount_cents"]).as_py()
    )
    assert lakehouse.scalar("select bool_and(is_fully_paid) from marts.fct_orders") is True


def test_dim_customers_and_lifetime_value_cover_every_customer(lakehouse: Lakehouse) -> None:
    n_customers = lakehouse.raw["customers"].num_rows
    assert lakehouse.scalar("select count(*) from marts.dim_customers") == n_customers
    assert lakehouse.scalar("select count(*) from marts.dim_customers where region is null") == 0
    with_orders = len(pc.unique(lakehouse.raw["orders"]["customer_id"]))
    assert lakehouse.scalar(
        "select count(*) from marts.dim_customers where customer_type = 'prospect'"
    ) == n_customers - with_orders

    assert lakehouse.scalar("select count(*) from marts.customer_lifetime_value") == n_customers
    assert lakehouse.scalar("select sum(lifetime_value) from marts.customer_lifetime_value") == (
        pc.sum(_revenue_orders(lakehouse.raw)["order_total"]).as_py()
    )
    ranks = lakehouse.query(
        "select region, min(region_rank) from marts.customer_lifetime_value group by region"
    )
    assert ranks and all(best == 1 for _, best in ranks)
    assert lakehouse.scalar(
        "select max(cumulative_share) from marts.customer_lifetime_value"
    ) == pytest.approx(1.0)


def test_daily_revenue_is_revenue_orders_per_day(lakehouse: Lakehouse) -> None:
    per_day = _revenue_orders(lakehouse.raw).group_by("order_date").aggregate(
        [("id", "count"), ("order_total", "sum")]
    )
    expected = {
        row["order_date"]: (row["id_count"], row["order_total_sum"]) for row in per_day.to_pylist()
    }
    actual = {
        day: (count, revenue)
        for day, count, revenue in lakehouse.query(
            "select order_date, order_count, revenue from marts.fct_daily_revenue"
        )
    }
    assert actual == expected


def test_daily_events_are_built_one_batch_per_month(lakehouse: Lakehouse) -> None:
    [result] = [r for r in lakehouse.build.results if r.node.name == "fct_daily_events"]
    starts = sorted(start.date() for start, _ in result.batch_results.successful)
    assert starts == [datetime.date(2024, 1, 1), datetime.date(2024, 2, 1)]
    assert not result.batch_results.failed

    days, events = lakehouse.query(
        "select count(distinct event_date), sum(event_count) from marts.fct_daily_events"
    )[0]
    assert (days, events) == (60, lakehouse.raw["events"].num_rows)


def test_snapshot_holds_one_current_version_per_customer(lakehouse: Lakehouse) -> None:
    assert lakehouse.query(
        "select count(*), count(*) filter (where dbt_valid_to is null)"
        " from snapshots.customers_snapshot"
    ) == [(500, 500)]


def test_ephemeral_model_leaves_nothing_in_the_warehouse(lakehouse: Lakehouse) -> None:
    assert lakehouse.query(
        "select table_schema, table_name from information_schema.tables"
        " where table_name = 'int_order_payments'"
    ) == []


# --- rebuilding ranges --------------------------------------------------------------------------


def _rewritten_days(lakehouse: Lakehouse) -> set[datetime.date]:
    return {
        day
        for (day,) in lakehouse.query(
            "select order_date from marts.fct_daily_revenue where dbt_invocation_id <> 'stale'"
        )
    }


def _daily_revenue(lakehouse: Lakehouse) -> list[tuple]:
    return lakehouse.query(
        "select * exclude (dbt_invocation_id) from marts.fct_daily_revenue order by order_date"
    )


def test_vars_start_and_end_rebuild_exactly_those_days(lakehouse: Lakehouse) -> None:
    before = _daily_revenue(lakehouse)
    lakehouse.execute("update marts.fct_daily_revenue set dbt_invocation_id = 'stale'")

    lakehouse.dbt.ok(
        "run", "-s", "fct_daily_revenue", "--vars", "{start: 2024-03-01, end: 2024-03-08}"
    )

    assert _rewritten_days(lakehouse) == set(_days("2024-03-01", "2024-03-08"))
    assert _daily_revenue(lakehouse) == before  # same rows, none duplicated
    assert lakehouse.scalar(
        "select count(*) = count(distinct order_date) from marts.fct_daily_revenue"
    )


def test_incremental_run_without_vars_redoes_only_the_newest_day(lakehouse: Lakehouse) -> None:
    before = _daily_revenue(lakehouse)
    lakehouse.execute("update marts.fct_daily_revenue set dbt_invocation_id = 'stale'")

    lakehouse.dbt.ok("run", "-s", "fct_daily_revenue")

    assert _rewritten_days(lakehouse) == {before[-1][0]}
    assert _daily_revenue(lakehouse) == before


def test_microbatch_event_time_flags_rebuild_exactly_those_batches(lakehouse: Lakehouse) -> None:
    before = lakehouse.query("select * from marts.fct_daily_events order by all")

    [result] = lakehouse.dbt.ok(
        "run", "-s", "fct_daily_events",
        "--event-time-start", "2024-02-01", "--event-time-end", "2024-03-01",
    ).results

    starts = [start.date() for start, _ in result.batch_results.successful]
    assert starts == [datetime.date(2024, 2, 1)]
    assert lakehouse.query("select * from marts.fct_daily_events order by all") == before


def test_raw_data_is_deterministic() -> None:
    assert raw_data.customers().equals(raw_data.customers())
    orders = raw_data.orders()
    assert orders.equals(raw_data.orders())
    assert raw_data.payments(orders).equals(raw_data.payments(raw_data.orders()))
    day = datetime.date(2024, 1, 15)
    assert raw_data.events(day).equals(
        raw_data.events_range(day, day + datetime.timedelta(days=1))
    )
    assert str(pc.sum(orders["order_total"]).type).startswith("decimal")
    assert isinstance(pc.sum(orders["order_total"]).as_py(), Decimal)
