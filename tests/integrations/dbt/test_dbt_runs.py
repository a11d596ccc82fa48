"""Real dbt builds on a copy of the demo project: dbt segments are single invocations, results
stream per node, failures skip only what depends on them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import duckdb
import pytest

from orchestrator import AssetKey, DuckDBIOManager, EventType, InputContext, MemoryEventStore, RunStatus
from orchestrator.execution.materialize import build_plan
from orchestrator.execution.run import execute_plan

K = AssetKey.parse


def test_ingest_dbt_python_dbt_runs_as_single_dbt_invocations(full_run, lakehouse):
    result, store = full_run
    assert result.status == RunStatus.SUCCEEDED, result.causes
    started = [e.step_key for e in store.events(result.run_id, types=[EventType.STEP_STARTED])]
    dbt_steps = [s for s in started if s.startswith("dbt[")]
    # ingest -> ONE dbt build -> Python (forecast, scores) -> ONE dbt build (the summary)
    assert dbt_steps == ["dbt[0]", "dbt[1]"]
    assert result.value("revenue_forecast").num_rows == 28
    with duckdb.connect(str(lakehouse.warehouse), read_only=True) as con:
        tiers = dict(con.sql("select tier, customers from main.customer_scores_summary").fetchall())
    assert sum(tiers.values()) == 500


def test_an_in_process_build_releases_the_warehouse_file(full_run, lakehouse):
    # dbt-duckdb keeps its database open (keep_open, the demo profile's default) during a build; the
    # runner closes it afterwards, so another process can open the warehouse for writing.
    code = ("import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "con.execute('create or replace table main.lock_probe as select 1 as x'); print('ok')")
    done = subprocess.run([sys.executable, "-c", code, str(lakehouse.warehouse)],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_python_reads_a_dbt_view_over_an_iceberg_table(full_run, lakehouse):
    # staging/stg_marketing_spend is a view over iceberg_scan(...): reading it needs DuckDB's iceberg
    # extension, which the warehouse IO manager's on_connect hook points DuckDB at (no download).
    defs = lakehouse.defs()
    graph = defs.graph
    key = K("staging/stg_marketing_spend")
    context = InputContext(key, metadata=graph.assets[key].metadata)
    table = defs.io_managers["warehouse"].read(context)
    assert table.num_rows > 0 and "spend" in " ".join(table.column_names)
    bare = DuckDBIOManager(lakehouse.warehouse)
    with pytest.raises(Exception, match="iceberg"):
        bare.read(InputContext(key, metadata=graph.assets[key].metadata))


def test_results_stream_per_node_with_dbt_metadata(full_run):
    result, store = full_run
    materializations = {str(e.asset_key): e for e in store.events(result.run_id, types=[EventType.MATERIALIZATION])}
    fct = materializations["marts/fct_orders"].data["metadata"]
    assert fct["relation_name"].endswith('"marts"."fct_orders"') and fct["execution_time"] > 0
    assert materializations["marts/fct_orders"].step_key == "dbt[0]"
    assert "intermediate/int_order_payments" not in materializations  # ephemeral: no step of its own
    checks = [e for e in store.events(result.run_id, types=[EventType.CHECK_RESULT])]
    by_name = {e.data["check"]: e for e in checks}
    assert by_name["unique_fct_orders_order_id"].data["passed"] is True
    assert by_name["unique_stg_customers_email"].data["metadata"]["status"] == "warn"
    assert by_name["source_unique_raw_orders_id"].asset_key == K("raw/orders")  # tests on a Python-made source
    # Each node's event lands as that node finishes, not all at the end of the build.
    times = sorted(e.timestamp for e in materializations.values() if e.step_key == "dbt[0]")
    assert times[-1] - times[0] > 0.2


def test_a_failed_model_skips_its_dbt_and_python_downstream_and_the_rest_runs(full_run, lakehouse):
    store = MemoryEventStore()
    result = lakehouse.materialize(
        "scenarios/fragile_orders+ marts/dim_customers", store=store,
        runner={"extra_args": ["--vars", '{"break_fragile": true}']},
    )
    assert result.assets[K("scenarios/fragile_orders")] == "failed"
    assert "no_such_column" in result.causes[K("scenarios/fragile_orders")]
    assert result.assets[K("scenarios/fragile_daily")] == "skipped"
    assert result.assets[K("fragile_report")] == "skipped"
    assert result.assets[K("marts/dim_customers")] == "succeeded"
    assert result.status == RunStatus.FAILED


def test_a_compilation_error_fails_that_model_with_dbts_message(full_run, lakehouse):
    result = lakehouse.materialize("scenarios/refuses_to_compile marts/dim_customers",
                                   runner={"extra_args": ["--vars", '{"fail_compile": true}']})
    assert result.assets[K("scenarios/refuses_to_compile")] == "failed"
    assert "refuses_to_compile was told to fail" in result.causes[K("scenarios/refuses_to_compile")]
    assert result.assets[K("marts/dim_customers")] == "succeeded"


def test_subprocess_backend_streams_the_same_results(full_run, lakehouse):
    store = MemoryEventStore()
    result = lakehouse.materialize("staging/stg_orders seeds/country_codes", store=store,
                                   runner={"backend": "subprocess",
                                           "dbt_executable": str(lakehouse_dbt())})
    assert result.status == RunStatus.SUCCEEDED, result.causes
    checks = {e.data["check"] for e in store.events(result.run_id, types=[EventType.CHECK_RESULT])}
    assert "unique_stg_orders_order_id" in checks
    meta = store.events(result.run_id, types=[EventType.MATERIALIZATION])[0].data["metadata"]
    assert meta["execution_time"] > 0


def test_the_subprocess_backend_without_dbt_says_so(lakehouse):
    result = lakehouse.materialize("staging/stg_orders", runner={"backend": "subprocess",
                                                                  "dbt_executable": "no-such-dbt"})
    assert result.assets[K("staging/stg_orders")] == "failed"
    assert "'no-such-dbt' was not found" in result.causes[K("staging/stg_orders")]


def test_cancel_stops_dbt_midway(full_run, lakehouse):
    defs = lakehouse.defs(extra_args=["--vars", '{"slow_rows": 20000000}'])
    run_plan = build_plan(defs, "scenarios/slow_model", None)
    cancel = threading.Event()

    def on_event(event):
        if event.type == EventType.STEP_STARTED and event.step_key.startswith("dbt["):
            threading.Timer(3.0, cancel.set).start()

    started = time.monotonic()
    result = execute_plan(run_plan, store=MemoryEventStore(), io_managers={}, cancel=cancel,
                          listener=on_event)
    assert result.status == RunStatus.CANCELED
    assert result.assets[K("scenarios/slow_model")] != "succeeded"
    assert time.monotonic() - started < 60


def lakehouse_dbt():
    import sys
    from pathlib import Path

    return Path(sys.executable).parent / "dbt"


@pytest.mark.parametrize("selection, expected", [
    ("path:models/staging", {"staging/stg_customers", "staging/stg_orders", "staging/stg_payments",
                             "staging/stg_events", "staging/stg_fx_rates", "staging/stg_marketing_spend"}),
    ("resource_type:seed", {"seeds/country_codes"}),
    ("config.materialized:incremental", {"marts/fct_daily_revenue", "marts/fct_daily_events"}),
    ("source:ml", {"ml/customer_scores"}),
    ("tag:finance,resource_type:model", {"marts/fct_orders", "marts/customer_lifetime_value",
                                         "marts/fct_daily_revenue"}),
    ("test_type:singular", {"marts/fct_orders", "marts/fct_daily_revenue"}),
    ("fqn:lakehouse.intermediate.*", {"intermediate/int_order_payments"}),
])
def test_dbt_selection_methods_work_on_the_whole_graph(lakehouse, selection, expected):
    from orchestrator import resolve

    assert {str(k) for k in resolve(selection, lakehouse.defs().graph)} == expected


def test_a_new_model_file_is_parsed_automatically(lakehouse):
    from integrations.dbt import DbtProject

    (lakehouse.root / "models" / "scenarios" / "added_later.sql").write_text(
        "select customer_id from {{ ref('dim_customers') }}\n"
    )
    keys = {str(a.key) for a in DbtProject(lakehouse.root).nodes().assets}
    assert "scenarios/added_later" in keys
