"""What dbt steps say: a skip names the upstream failure that caused it; a canceled build is
canceled (with a message), not failed without one."""

from __future__ import annotations

import threading

from orchestrator import AssetKey, EventType, MemoryEventStore, RunStatus
from orchestrator.execution.materialize import build_plan
from orchestrator.execution.run import execute_plan

K = AssetKey.parse


def test_a_dbt_skip_names_the_failed_upstream_model(full_run, lakehouse):
    store = MemoryEventStore()
    result = lakehouse.materialize("scenarios/fragile_orders+", store=store,
                                   runner={"extra_args": ["--vars", '{"break_fragile": true}']})
    cause = result.causes[K("scenarios/fragile_daily")]
    assert cause.startswith("dbt skipped 'scenarios/fragile_daily' because dbt error in 'scenarios/fragile_orders'")
    assert "no_such_column" in cause
    assert "no_such_column" in result.causes[K("fragile_report")]  # the Python skip carries it on
    skipped = [e for e in store.events(result.run_id, types=[EventType.STEP_SKIPPED])
               if e.asset_key == K("scenarios/fragile_daily")]
    assert skipped and "scenarios/fragile_orders" in skipped[0].message
    step_failed = [e for e in store.events(result.run_id, types=[EventType.STEP_FAILED]) if e.asset_key is None]
    assert step_failed and step_failed[0].message == "2 of 2 assets did not succeed"


def test_a_canceled_dbt_step_is_canceled_with_a_message(full_run, lakehouse):
    defs = lakehouse.defs(extra_args=["--vars", '{"slow_rows": 20000000}'])
    cancel = threading.Event()

    def on_event(event):
        if event.type == EventType.STEP_STARTED and event.step_key.startswith("dbt["):
            threading.Timer(2.0, cancel.set).start()

    store = MemoryEventStore()
    result = execute_plan(build_plan(defs, "scenarios/slow_model", None), store=store, io_managers={},
                          cancel=cancel, listener=on_event)
    assert result.status == RunStatus.CANCELED
    assert result.assets[K("scenarios/slow_model")] == "canceled", result.causes
    events = store.events(result.run_id)
    outcomes = [e for e in events if e.type != EventType.LOG]  # dbt's own log lines are kept apart
    step_end = [e for e in outcomes if e.step_key == "dbt[0]" and e.asset_key is None
                and e.type != EventType.STEP_STARTED]
    assert [(e.type, e.message) for e in step_end] == [
        (EventType.STEP_CANCELED, "canceled while running (0 of 1 assets done)")]
    asset_events = [(e.type, e.message) for e in outcomes if e.asset_key == K("scenarios/slow_model")]
    assert asset_events == [(EventType.STEP_CANCELED, "canceled while running")]
    logs = [e.message for e in events if e.type == EventType.LOG and e.data.get("source") == "dbt"]
    assert any("CANCEL query model.lakehouse.slow_model" in m for m in logs), logs  # and shown on the run page
    assert not any("\x1b[" in m for m in logs)  # without the terminal's colour codes


def test_the_run_tally_counts_dbt_tests_and_times_the_dbt_steps(full_run):
    from orchestrator.execution.tally import RunTally

    result, store = full_run
    tally = RunTally()
    for event in store.events(result.run_id):
        tally.on_event(event)
    summary = tally.as_json()
    assert summary["checks"]["passed"] > 40 and summary["checks"]["failed"] == 0
    assert "unique_stg_customers_email on staging/stg_customers" in summary["checks"]["warned_checks"]
    steps = {s["step"]: s["seconds"] for s in summary["steps"]}
    assert steps["dbt[0]"] > 0 and "revenue_forecast" in steps
