"""The reads the web UI makes (tails, asset history, newest per asset), on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from orchestrator.keys import AssetKey
from orchestrator.storage import Event, EventStore, EventType, RunRecord, RunStatus, new_run_id

ORDERS = AssetKey.parse("marts/orders")
CUSTOMERS = AssetKey.parse("customers")
T = EventType


def _run(store: EventStore) -> str:
    run_id = new_run_id()
    store.create_run(RunRecord(run_id, RunStatus.STARTED, None, (CUSTOMERS, ORDERS), None, 1.0))
    return run_id


def _event(run_id: str, type_: EventType, key: AssetKey | None = None, ts: float = 1.0, **data: object) -> Event:
    return Event(run_id, type_, ts, step_key=str(key) if key else None, asset_key=key, data=data)


def test_events_after_tails_every_run_in_id_order(store: EventStore) -> None:
    first, second = _run(store), _run(store)
    store.append([_event(first, T.RUN_STARTED), _event(second, T.RUN_STARTED)])
    store.append([_event(first, T.STEP_STARTED, ORDERS), _event(second, T.LOG, CUSTOMERS, level="info")])
    everything = store.events_after(0)
    assert [e.run_id for e in everything] == [first, second, first, second]
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    assert store.events_after(everything[1].id) == everything[2:]
    assert store.events_after(0, limit=3) == everything[:3]
    assert store.max_event_id() == everything[-1].id


def test_events_after_filters_one_run_by_type_step_and_asset(store: EventStore) -> None:
    run_id, other = _run(store), _run(store)
    store.append([_event(run_id, T.RUN_STARTED), _event(run_id, T.STEP_STARTED, ORDERS),
                  _event(other, T.STEP_STARTED, ORDERS), _event(run_id, T.LOG, CUSTOMERS),
                  _event(run_id, T.MATERIALIZATION, ORDERS)])
    assert [e.type for e in store.events_after(0, run_id=run_id)] == [
        T.RUN_STARTED, T.STEP_STARTED, T.LOG, T.MATERIALIZATION]
    assert [e.type for e in store.events_after(0, run_id=run_id, asset_key=ORDERS)] == [
        T.STEP_STARTED, T.MATERIALIZATION]
    assert [e.type for e in store.events_after(0, run_id=run_id, step_key=str(CUSTOMERS))] == [T.LOG]
    assert [e.type for e in store.events_after(0, run_id=run_id, types=[T.LOG, T.RUN_STARTED])] == [
        T.RUN_STARTED, T.LOG]


def test_asset_history_pages_back_newest_first(store: EventStore) -> None:
    run_id = _run(store)
    store.append([_event(run_id, T.MATERIALIZATION, ORDERS, ts=float(i), rows=i) for i in range(5)]
                 + [_event(run_id, T.CHECK_RESULT, ORDERS, check="not_null", passed=True),
                    _event(run_id, T.MATERIALIZATION, CUSTOMERS)])
    history = store.asset_history(ORDERS, [T.MATERIALIZATION], limit=3)
    assert [e.data["rows"] for e in history] == [4, 3, 2]
    older = store.asset_history(ORDERS, [T.MATERIALIZATION], limit=3, before_id=history[-1].id)
    assert [e.data["rows"] for e in older] == [1, 0]
    both = store.asset_history(ORDERS, [T.MATERIALIZATION, T.CHECK_RESULT], limit=2)
    assert [e.type for e in both] == [T.CHECK_RESULT, T.MATERIALIZATION]
    assert store.asset_history(AssetKey.parse("nothing"), [T.MATERIALIZATION]) == []


def test_the_latest_materialization_per_asset_covers_all_its_partitions(store: EventStore) -> None:
    run_id = _run(store)
    store.append([
        Event(run_id, T.MATERIALIZATION, 1.0, asset_key=ORDERS, partition="2024-01-02"),
        Event(run_id, T.MATERIALIZATION, 2.0, asset_key=ORDERS, partition="2024-01-01"),
        Event(run_id, T.MATERIALIZATION, 3.0, asset_key=CUSTOMERS),
        _event(run_id, T.STEP_FAILED, CUSTOMERS, ts=4.0),
    ])
    latest = store.latest_materialization_per_asset()
    assert set(latest) == {ORDERS, CUSTOMERS}
    assert latest[ORDERS].partition == "2024-01-01" and latest[CUSTOMERS].timestamp == 3.0


def test_an_empty_store_has_no_newest_event(store: EventStore) -> None:
    assert store.max_event_id() == 0
    assert store.events_after(0) == []
    assert store.latest_materialization_per_asset() == {}


def test_runs_page_filters_by_status_asset_and_date_and_pages_back(store: EventStore) -> None:
    underscored, lookalike = AssetKey.parse("marts/fct_orders"), AssetKey.parse("marts/fctXorders")
    odd = AssetKey.parse('we"ird\\50%')
    runs = [
        RunRecord("a1", RunStatus.SUCCEEDED, None, (underscored,), None, 10.0, launched_by="ui"),
        RunRecord("a2", RunStatus.FAILED, None, (lookalike,), None, 20.0, launched_by="schedule"),
        RunRecord("a3", RunStatus.SUCCEEDED, None, (underscored, odd), None, 30.0),
        RunRecord("a4", RunStatus.STARTED, None, (), None, 30.0),
    ]
    for run in runs:
        store.create_run(run)
    ids = lambda found: [r.run_id for r in found]  # noqa: E731
    assert ids(store.runs_page()) == ["a4", "a3", "a2", "a1"]
    assert ids(store.runs_page(statuses=[RunStatus.SUCCEEDED, RunStatus.FAILED])) == ["a3", "a2", "a1"]
    assert ids(store.runs_page(asset_key=underscored)) == ["a3", "a1"]  # '_' is no wildcard
    assert ids(store.runs_page(asset_key=odd)) == ["a3"]
    assert ids(store.runs_page(started_after=20.0, started_before=30.0)) == ["a2"]
    assert ids(store.runs_page(launched_by="schedule")) == ["a2"]
    first = store.runs_page(limit=2)
    assert ids(first) == ["a4", "a3"]
    last = first[-1]
    assert ids(store.runs_page(limit=2, before=(last.started_at, last.run_id))) == ["a2", "a1"]
