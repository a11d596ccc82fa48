"""The EventStore contract, run against memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from orchestrator.errors import StorageError, UnknownRunError
from orchestrator.keys import AssetKey
from orchestrator.storage import Event, EventStore, EventType, RunRecord, RunStatus, new_run_id

ORDERS = AssetKey.parse("marts/orders")
CUSTOMERS = AssetKey.parse("customers")


def make_run(run_id: str | None = None, started_at: float = 1000.0, **changes: object) -> RunRecord:
    run = RunRecord(
        run_id=run_id or new_run_id(),
        status=RunStatus.STARTED,
        selection="+marts/orders",
        asset_keys=(CUSTOMERS, ORDERS),
        partition="2024-01-01",
        started_at=started_at,
        tags={"team": "data", "trigger": "cli"},
    )
    return dataclasses.replace(run, **changes)


def mat(run_id: str, key: AssetKey, partition: str | None = None, ts: float = 1.0) -> Event:
    return Event(run_id, EventType.MATERIALIZATION, ts, asset_key=key, partition=partition)


def test_new_run_ids_are_unique_hex() -> None:
    ids = {new_run_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_run_round_trips_every_field(store: EventStore) -> None:
    run = make_run(selection="tag:daily,+orders", ended_at=None)
    store.create_run(run)
    assert store.get_run(run.run_id) == run

    store.finish_run(run.run_id, RunStatus.SUCCEEDED, ended_at=1012.5)
    assert store.get_run(run.run_id) == dataclasses.replace(
        run, status=RunStatus.SUCCEEDED, ended_at=1012.5
    )


def test_run_with_empty_fields_round_trips(store: EventStore) -> None:
    run = RunRecord(new_run_id(), RunStatus.STARTED, None, (), None, 5.0)
    store.create_run(run)
    assert store.get_run(run.run_id) == run


def test_creating_a_run_twice_is_an_error(store: EventStore) -> None:
    run = make_run()
    store.create_run(run)
    with pytest.raises(StorageError, match="already exists"):
        store.create_run(run)


def test_finishing_an_unknown_run_is_an_error(store: EventStore) -> None:
    with pytest.raises(UnknownRunError, match="No run 'nope'"):
        store.finish_run("nope", RunStatus.FAILED, 1.0)


def test_events_round_trip_every_field_with_increasing_ids(store: EventStore) -> None:
    run = make_run()
    store.create_run(run)
    failed = Event(
        run_id=run.run_id,
        type=EventType.STEP_FAILED,
        timestamp=1001.25,
        step_key="orders",
        asset_key=ORDERS,
        partition="2024-01-01",
        message="boom ✗",
        data={"error": "ValueError: x", "traceback": ["a", "b"], "attempt": 2, "nested": {"ok": False}},
    )
    log = Event(run.run_id, EventType.LOG, 1001.5, message="hello")
    store.append([failed, log])
    store.append([mat(run.run_id, CUSTOMERS)])

    stored = store.events(run.run_id)
    assert [dataclasses.replace(e, id=None) for e in stored] == [failed, log, mat(run.run_id, CUSTOMERS)]
    ids = [e.id for e in stored]
    assert all(isinstance(i, int) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert store.event_count() == 3


def test_odd_data_values_are_stored_as_strings(store: EventStore) -> None:
    run_id = new_run_id()
    when = dt.datetime(2024, 1, 2, 3, 4, 5)
    data = {"at": when, "path": Path("/tmp/x"), "n": 1.5}
    store.append([Event(run_id, EventType.LOG, 1.0, data=data)])
    (event,) = store.events(run_id)
    assert event.data == {"at": str(when), "path": "/tmp/x", "n": 1.5}


def test_given_ids_are_ignored_and_empty_appends_do_nothing(store: EventStore) -> None:
    run_id = new_run_id()
    store.append([])
    store.append([Event(run_id, EventType.LOG, 1.0, id=999_999)])
    (event,) = store.events(run_id)
    assert event.id != 999_999
    assert store.event_count() == 1


def test_events_filter_by_run_types_and_after_id(store: EventStore) -> None:
    a, b = new_run_id(), new_run_id()
    store.append(
        [
            Event(a, EventType.RUN_STARTED, 1.0),
            Event(b, EventType.RUN_STARTED, 1.0),
            Event(a, EventType.STEP_STARTED, 2.0, step_key="orders"),
            mat(a, ORDERS, ts=3.0),
            Event(a, EventType.STEP_SUCCEEDED, 4.0, step_key="orders"),
            Event(a, EventType.RUN_SUCCEEDED, 5.0),
        ]
    )
    every = store.events(a)
    assert [e.type for e in every] == [
        EventType.RUN_STARTED,
        EventType.STEP_STARTED,
        EventType.MATERIALIZATION,
        EventType.STEP_SUCCEEDED,
        EventType.RUN_SUCCEEDED,
    ]
    steps = store.events(a, types={EventType.STEP_STARTED, EventType.STEP_SUCCEEDED})
    assert [e.type for e in steps] == [EventType.STEP_STARTED, EventType.STEP_SUCCEEDED]
    assert store.events(a, after_id=every[2].id) == every[3:]
    assert store.events(a, types=[EventType.RUN_STARTED], after_id=every[0].id) == []
    assert store.events(a, types=[]) == []
    assert [e.run_id for e in store.events(b)] == [b]
    assert store.events("no-such-run") == []


def test_latest_materializations_keep_the_newest_per_asset_and_partition(store: EventStore) -> None:
    r1, r2 = new_run_id(), new_run_id()
    store.append([mat(r1, ORDERS, "p1", 1.0), mat(r1, ORDERS, None, 1.0), mat(r1, CUSTOMERS, None, 1.0)])
    store.append(
        [
            mat(r2, ORDERS, "p1", 2.0),
            mat(r2, ORDERS, "p2", 2.0),
            mat(r2, ORDERS, "p1", 3.0),  # the later one in the same batch wins
            Event(r2, EventType.LOG, 4.0, asset_key=CUSTOMERS),  # not a materialization
            Event(r2, EventType.CHECK_RESULT, 4.0, asset_key=ORDERS, data={"passed": True}),
        ]
    )
    latest = store.latest_materializations()
    assert {k: (e.run_id, e.timestamp) for k, e in latest.items()} == {
        (ORDERS, "p1"): (r2, 3.0),
        (ORDERS, "p2"): (r2, 2.0),
        (ORDERS, None): (r1, 1.0),
        (CUSTOMERS, None): (r1, 1.0),
    }
    assert latest[(ORDERS, "p1")] == store.events(r2)[2]

    only_customers = store.latest_materializations([CUSTOMERS, AssetKey.parse("unknown")])
    assert list(only_customers) == [(CUSTOMERS, None)]
    assert store.latest_materializations([]) == {}


def test_latest_materializations_for_many_keys(store: EventStore) -> None:
    run_id = new_run_id()
    keys = [AssetKey(("many", f"a{i}")) for i in range(600)]
    store.append([mat(run_id, k) for k in keys])
    assert len(store.latest_materializations(keys[5:555])) == 550


def test_list_runs_newest_first_with_limit_and_status(store: EventStore) -> None:
    runs = [make_run(started_at=float(t)) for t in (30, 10, 20, 40)]
    for run in runs:
        store.create_run(run)
    store.finish_run(runs[0].run_id, RunStatus.FAILED, 31.0)
    store.finish_run(runs[1].run_id, RunStatus.FAILED, 11.0)

    assert [r.started_at for r in store.list_runs()] == [40, 30, 20, 10]
    assert [r.started_at for r in store.list_runs(limit=2)] == [40, 30]
    assert [r.run_id for r in store.list_runs(status=RunStatus.FAILED)] == [
        runs[0].run_id,
        runs[1].run_id,
    ]
    assert store.list_runs(status=RunStatus.CANCELED) == []


def test_get_run_by_unique_prefix(store: EventStore) -> None:
    for run_id in ("abc123", "abd456", "abc", "f" * 32):
        store.create_run(make_run(run_id))
    assert store.get_run("abd").run_id == "abd456"
    assert store.get_run(" abc12 ").run_id == "abc123"
    assert store.get_run("abc").run_id == "abc"  # an exact id wins over ids it prefixes
    assert store.get_run("ffff").run_id == "f" * 32


def test_ambiguous_prefix_names_the_candidates(store: EventStore) -> None:
    store.create_run(make_run("abc123"))
    store.create_run(make_run("abd456"))
    with pytest.raises(UnknownRunError, match="'ab' is ambiguous: it matches 'abc123', 'abd456'"):
        store.get_run("ab")


def test_unknown_run_suggests_a_close_id(store: EventStore) -> None:
    run = make_run("0123456789abcdef0123456789abcdef")
    store.create_run(run)
    typo = "0123456789abcdef0123456789abcdex"
    with pytest.raises(UnknownRunError) as info:
        store.get_run(typo)
    assert str(info.value) == f"No run '{typo}'. Did you mean '{run.run_id}'?"
    with pytest.raises(UnknownRunError, match="^No run 'zzz'.$"):
        store.get_run("zzz")
    with pytest.raises(UnknownRunError, match="^No run ''"):
        store.get_run("")
    with pytest.raises(UnknownRunError, match="No run '%'"):
        store.get_run("%")  # not a LIKE pattern


def test_prefixes_are_case_sensitive(store: EventStore) -> None:
    store.create_run(make_run("abc123"))
    with pytest.raises(UnknownRunError):
        store.get_run("ABC")
