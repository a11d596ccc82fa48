"""Declarative automation, evaluated purely: (graph, snapshot, clock) -> what runs, and why."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from orchestrator import AssetKey, AssetSpec, AutomationCondition, DailyPartitions, Definitions, asset
from orchestrator.automation.evaluate import Snapshot, condition_of, evaluate_automation, next_states
from orchestrator.automation.staleness import MaterializationInfo
from orchestrator.errors import DefinitionError

K = AssetKey.parse
EAGER = AutomationCondition.eager()
NOW = dt.datetime(2024, 12, 2, 12, 0, tzinfo=dt.timezone.utc).timestamp()


@asset(code_version="r1")
def raw():
    return 1


@asset(automation=EAGER, code_version="s1")
def staged(raw):
    return raw


@asset(automation=EAGER, code_version="m1")
def mart(staged):
    return staged


GRAPH = Definitions(assets=[raw, staged, mart]).graph


def info(version: str, *, at: float = NOW - 3600, code: str | None = None, inputs: dict | None = None,
         event_id: int = 1, partition: str | None = None) -> MaterializationInfo:
    return MaterializationInfo(event_id, at, "run", partition, version, code, inputs)


def fresh_latest() -> dict:
    """raw -> staged -> mart, all materialized and each having read its upstream's current version."""
    return {
        (K("raw"), None): info("v1", code="r1", inputs={}, event_id=1),
        (K("staged"), None): info("s-v1", code="s1", inputs={"raw": "v1"}, event_id=2),
        (K("mart"), None): info("m-v1", code="m1", inputs={"staged": "s-v1"}, event_id=3),
    }


def evaluate(latest: dict, graph=GRAPH, **snapshot) -> tuple:
    snap = Snapshot(NOW, latest, **snapshot)
    return evaluate_automation(graph, snap), snap


def test_nothing_changed_nothing_runs_and_the_reasons_say_so() -> None:
    evaluation, _ = evaluate(fresh_latest())
    assert evaluation.runs == []
    assert evaluation.decisions[K("staged")].reasons == (  # each alternative says why it is false
        "missing: it has been materialized", "any_deps_updated: no upstream changed since it last ran",
        "code_version_changed: same code version as its last materialization")


def test_a_new_upstream_data_version_requests_the_whole_eager_chain_in_one_run() -> None:
    latest = fresh_latest()
    latest[(K("raw"), None)] = info("v2", code="r1", inputs={}, event_id=4)
    evaluation, _ = evaluate(latest)
    assert evaluation.runs == [(None, (K("staged"), K("mart")))]
    assert evaluation.decisions[K("staged")].reasons[0] == "any_deps_updated: 'raw' changed since it last ran"
    assert evaluation.decisions[K("mart")].reasons[0] == "any_deps_updated: 'staged' changed since it last ran"


def test_rematerializing_with_the_same_data_version_rebuilds_nothing() -> None:
    latest = fresh_latest()
    latest[(K("raw"), None)] = info("v1", code="r1", inputs={}, event_id=9, at=NOW - 10)  # same bytes again
    evaluation, _ = evaluate(latest)
    assert evaluation.runs == []


def test_a_changed_code_version_requests_the_asset_and_what_depends_on_it() -> None:
    latest = fresh_latest()
    latest[(K("staged"), None)] = info("s-v1", code="s0", inputs={"raw": "v1"}, event_id=2)
    evaluation, _ = evaluate(latest)
    assert evaluation.runs == [(None, (K("staged"), K("mart")))]
    assert "code_version_changed: code version s0 → s1" in evaluation.decisions[K("staged")].reasons


def test_a_request_is_not_repeated_for_the_same_inputs_after_its_run_failed() -> None:
    latest = fresh_latest()
    latest[(K("raw"), None)] = info("v2", code="r1", inputs={}, event_id=4)
    first, snap = evaluate(latest)
    states = {s.asset_key: s for s in next_states(first, snap, run_of={K("staged"): "r1", K("mart"): "r1"})}
    # the run failed: nothing was materialized; staged's inputs are the same as when it was requested
    second, _ = evaluate(latest, states=states)
    assert K("staged") not in second.requested
    assert "requested: already requested for its current inputs" in second.decisions[K("staged")].reasons
    # ...but mart was requested while staged was only "about to change": once staged's version is
    # known and still unchanged for mart, it is not requested again either
    assert K("mart") not in second.requested


def test_missing_assets_run_once_with_their_missing_upstreams_and_not_while_upstreams_are_in_progress() -> None:
    evaluation, snap = evaluate({(K("raw"), None): info("v1", inputs={}, event_id=1)})
    assert evaluation.runs == [(None, (K("staged"), K("mart")))]
    assert evaluation.decisions[K("mart")].reasons[0] == "missing: never materialized"
    blocked, _ = evaluate({(K("raw"), None): info("v1", inputs={}, event_id=1)}, in_progress=frozenset({K("raw")}))
    assert blocked.runs == []
    assert blocked.decisions[K("staged")].reasons == ("any_deps_in_progress: 'raw' queued or running",)


def test_an_upstream_that_never_ran_and_is_not_requested_blocks_eager() -> None:
    evaluation, _ = evaluate({})
    assert evaluation.runs == []
    assert evaluation.decisions[K("staged")].reasons == ("any_deps_missing: 'raw' never materialized",)


def test_an_asset_in_progress_is_not_requested_again() -> None:
    latest = fresh_latest()
    latest[(K("raw"), None)] = info("v2", code="r1", inputs={}, event_id=4)
    evaluation, _ = evaluate(latest, in_progress=frozenset({K("staged")}))
    assert K("staged") not in evaluation.requested
    assert "in_progress: a run of it is queued or running" in evaluation.decisions[K("staged")].reasons


def test_on_cron_waits_for_the_tick_and_for_its_upstreams_then_runs_once_per_tick() -> None:
    nightly = AutomationCondition.on_cron("0 2 * * *", "Europe/Berlin")
    report = asset(lambda raw: raw, name="report", automation=nightly)
    graph = Definitions(assets=[raw, report]).graph
    tick = dt.datetime(2024, 12, 2, 1, 0, tzinfo=dt.timezone.utc).timestamp()  # 02:00 Berlin
    first_seen = {K("report"): next_states(*evaluate({}, graph=graph))[0]}
    assert first_seen[K("report")].cron_handled_at == NOW  # ticks count from the first evaluation

    def at(now: float, latest: dict, states: dict):
        snap = Snapshot(now, latest, states=states)
        return evaluate_automation(graph, snap), snap

    seen = {K("report"): dataclasses.replace(first_seen[K("report")], cron_handled_at=tick - 86400)}
    stale_raw = {(K("raw"), None): info("v1", at=tick - 3600, inputs={})}
    waiting, _ = at(tick + 60, stale_raw, seen)
    assert waiting.requested == []
    assert waiting.decisions[K("report")].reasons[-1].startswith("all_deps_updated_since_cron: waiting for 'raw'")
    updated = {(K("raw"), None): info("v2", at=tick + 120, inputs={})}
    runs, snap = at(tick + 180, updated, seen)
    assert runs.requested == [K("report")]
    handled = {s.asset_key: s for s in next_states(runs, snap, run_of={K("report"): "x"})}
    assert handled[K("report")].cron_handled_at == tick
    again, _ = at(tick + 240, updated, handled)
    assert again.requested == []


def test_conditions_compose_and_describe_themselves() -> None:
    c = AutomationCondition
    condition = c.any_deps_updated() & ~c.check_failed() | c.on_missing()
    assert condition.describe() == "(any_deps_updated & ~requested & ~check_failed) | on_missing"
    checked = asset(lambda raw: raw, name="checked", automation=c.any_deps_updated() & ~c.check_failed())
    graph = Definitions(assets=[raw, checked]).graph
    latest = {(K("raw"), None): info("v2", inputs={}), (K("checked"), None): info("c", inputs={"raw": "v1"})}
    evaluation, _ = evaluate(latest, graph=graph, failed_checks={K("checked"): ["not_null"]})
    assert evaluation.requested == []
    assert evaluation.decisions[K("checked")].reasons[-1] == "check_failed: check 'not_null' failed"


def test_partitioned_assets_are_evaluated_for_their_newest_partition_and_grouped_by_key() -> None:
    days = DailyPartitions("2024-11-01")
    daily_raw = asset(lambda: 1, name="daily_raw", partitions=days)
    daily = asset(lambda daily_raw: 1, name="daily", partitions=days, automation=EAGER)
    summary = asset(lambda daily: 1, name="summary", automation=EAGER)
    graph = Definitions(assets=[daily_raw, daily, summary]).graph
    latest = {(K("daily_raw"), "2024-12-01"): info("d1", inputs={}, partition="2024-12-01")}
    evaluation, _ = evaluate(latest, graph=graph)
    assert evaluation.runs == [("2024-12-01", (K("daily"), K("summary")))]


def test_a_condition_on_an_external_asset_never_runs_and_a_bad_dbt_spec_is_an_error() -> None:
    external = dataclasses.replace(AssetSpec("vendor/feed"), automation=EAGER)
    graph = Definitions(assets=[external]).graph
    evaluation, _ = evaluate({}, graph=graph)
    assert evaluation.decisions[K("vendor/feed")].reasons == ("not executable: another system materializes it",)
    spec = dataclasses.replace(AssetSpec("dbt/model"), config={"meta": {"automation": "whenever"}})
    with pytest.raises(DefinitionError, match="Asset 'dbt/model': automation 'whenever'"):
        condition_of(spec)
    assert condition_of(dataclasses.replace(spec, config={"meta": {"automation": {"on_cron": "0 * * * *"}}}))
