"""Data versions, staleness and freshness on real materializations (Parquet files, SHA-256)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pytest

from orchestrator import (
    AssetKey, AssetSpec, AutomationCondition, Definitions, FreshnessPolicy, asset, materialize,
)
from orchestrator.automation.automation_tick import evaluate_now, run_automation
from orchestrator.automation.freshness import parse_duration
from orchestrator.automation.status import asset_statuses, check_freshness
from orchestrator.errors import DefinitionError
from orchestrator.launch.queue import enqueue_run
from orchestrator.storage import EventStore

K = AssetKey.parse
ROWS = {"n": [1, 2, 3]}


@asset(code_version="1")
def raw() -> pa.Table:
    return pa.table(ROWS)


@asset(automation=AutomationCondition.eager(), freshness=FreshnessPolicy(max_lag="6h", warn_lag="4h"))
def doubled(raw: pa.Table) -> pa.Table:
    return pa.table({"n": [v * 2 for v in raw["n"].to_pylist()]})


@asset(automation=AutomationCondition.eager())
def total(doubled: pa.Table) -> int:
    return sum(doubled["n"].to_pylist())


feed = AssetSpec("vendor/feed")
DEFS = Definitions(assets=[raw, doubled, total, feed])


def states(store: EventStore, defs: Definitions = DEFS, now: float | None = None) -> dict[str, tuple[str, tuple]]:
    return {str(k): (s.state, s.causes) for k, s in asset_statuses(defs, store, now).items()}


def test_materializations_record_their_code_and_input_versions(store: EventStore, tmp_path: Path) -> None:
    materialize(DEFS, store=store, home=tmp_path)
    latest = store.latest_materializations()
    raw_version = latest[(K("raw"), None)].data["metadata"]["data_version"]
    assert len(raw_version) == 64  # the file's SHA-256
    doubled_event = latest[(K("doubled"), None)]
    assert doubled_event.data["input_versions"] == {"raw": raw_version}
    assert latest[(K("raw"), None)].data["code_version"] == "1"
    assert states(store)["total"] == ("fresh", ())
    assert states(store)["vendor/feed"] == ("external", ())


def test_identical_data_rebuilds_nothing_and_new_data_makes_downstream_stale(store: EventStore, tmp_path: Path) -> None:
    materialize(DEFS, store=store, home=tmp_path)
    materialize(DEFS, "raw", store=store, home=tmp_path)  # the same bytes again: the same SHA-256
    assert states(store)["doubled"] == ("fresh", ())
    evaluation, _ = evaluate_now(DEFS, store)
    assert evaluation.requested == []
    ROWS["n"] = [1, 2, 3, 4]
    try:
        materialize(DEFS, "raw", store=store, home=tmp_path)
    finally:
        ROWS["n"] = [1, 2, 3]
    found = states(store)
    assert found["doubled"][0] == "stale" and found["doubled"][1][0].startswith("upstream 'raw' has a new data version")
    assert found["total"] == ("stale", ("upstream 'doubled' is stale",))
    evaluation, _ = evaluate_now(DEFS, store)
    assert evaluation.runs == [(None, (K("doubled"), K("total")))]  # one run for the eager chain


def test_a_changed_code_version_is_stale_and_said_so(store: EventStore, tmp_path: Path) -> None:
    materialize(DEFS, store=store, home=tmp_path)
    changed = Definitions(assets=[dataclasses.replace(raw, code_version="2"), doubled, total, feed])
    assert states(store, changed)["raw"] == ("stale", ("code version changed (1 → 2)",))
    assert states(store, changed)["doubled"] == ("stale", ("upstream 'raw' is stale",))


def test_missing_failed_and_running_states(store: EventStore, tmp_path: Path) -> None:
    assert states(store)["raw"] == ("missing", ("never materialized",))

    @asset
    def broken(raw):
        raise RuntimeError("bad input")

    defs = Definitions(assets=[raw, broken])
    materialize(defs, store=store, home=tmp_path)
    assert states(store, defs)["broken"][0] == "failed"
    assert "RuntimeError: bad input" in states(store, defs)["broken"][1][0]
    enqueue_run(store, defs, selection="broken")
    assert states(store, defs)["broken"] == ("running", ("a run of it is queued or running",))


def test_freshness_passes_warns_and_fails_with_the_clock_and_records_transitions(store: EventStore, tmp_path: Path) -> None:
    result = materialize(DEFS, store=store, home=tmp_path)
    at = store.latest_materializations([K("doubled")])[(K("doubled"), None)].timestamp
    hour = 3600.0
    seen = []
    for offset in (1 * hour, 2 * hour, 5 * hour, 5.5 * hour, 7 * hour, 8 * hour):
        seen += [(c.previous, c.state) for c in check_freshness(DEFS, store, at + offset)]
    assert seen == [(None, "pass"), ("pass", "warn"), ("warn", "fail")]
    status = asset_statuses(DEFS, store, at + 7 * hour)[K("doubled")]
    assert (status.freshness, status.late) == ("fail", True)
    assert status.freshness_message == "last materialized 7h ago, more than the allowed 6h"
    history = store.automation.freshness_history(K("doubled"))
    assert [e.state for e in history] == ["fail", "warn", "pass"]
    assert result.success


def test_freshness_policies_from_dbt_meta_and_bad_ones() -> None:
    policy = FreshnessPolicy.from_mapping({"warn_after": {"count": 12, "period": "hour"},
                                           "error_after": {"count": 1, "period": "day"}})
    assert (policy.evaluate(0.0, 13 * 3600).state, policy.evaluate(0.0, 25 * 3600).state) == ("warn", "fail")
    assert FreshnessPolicy.from_mapping({"max_lag": "30m"}).evaluate(None, 0.0).message == "never materialized"
    assert parse_duration("1d12h").total_seconds() == 36 * 3600
    with pytest.raises(DefinitionError, match="Cannot read max_lag '6 hours'"):
        FreshnessPolicy(max_lag="6 hours")
    with pytest.raises(DefinitionError, match="warn_lag .* must be less than max_lag"):
        FreshnessPolicy(max_lag="1h", warn_lag="2h")
    with pytest.raises(DefinitionError, match="unknown: lag"):
        FreshnessPolicy.from_mapping({"lag": "1h"})


def test_a_cron_freshness_policy_fails_from_the_tick_until_materialized() -> None:
    policy = FreshnessPolicy(max_lag="1h", cron="0 9 * * *")
    nine = 1_733_043_600.0  # 2024-12-01 09:00 UTC
    assert policy.evaluate(nine - 1800, nine + 60).state == "pass"
    assert policy.evaluate(nine - 7200, nine + 60).state == "fail"


def test_the_daemons_evaluation_enqueues_runs_and_records_why(store: EventStore, tmp_path: Path) -> None:
    materialize(DEFS, "raw", store=store, home=tmp_path)
    record = run_automation(DEFS, store, 1_900_000_000.0, "d1")
    assert [r["assets"] for r in record.requested["runs"]] == [["doubled", "total"]]
    assert record.requested["reasons"]["doubled"][0] == "missing: never materialized"
    run = store.get_run(record.requested["runs"][0]["run_id"])
    assert (run.launched_by, run.status.value) == ("automation", "queued")
    again = run_automation(DEFS, store, 1_900_000_030.0, "d1")
    assert again.requested["runs"] == []  # in progress now
    states_ = store.automation.asset_states()
    assert states_[K("doubled")].requested_run_id == run.run_id
