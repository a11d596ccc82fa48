"""OpenLineage run events from a real run: a Python-and-dbt project materialized with
ORCH_OPENLINEAGE_URL pointing at an HTTP receiver on 127.0.0.1; every event received is checked
against the spec as openlineage-python ships it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pytest

from integrations.openlineage.validate import InvalidEvent, event_schema, validate
from orchestrator import AssetSpec, Definitions, MemoryEventStore, asset, asset_check, materialize
from orchestrator.definitions import load_definitions


class _Receiver(BaseHTTPRequestHandler):
    events: list[dict] = []
    paths: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).events.append(json.loads(body))
        type(self).paths.append(self.path)
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver(monkeypatch):
    _Receiver.events, _Receiver.paths = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ORCH_OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_port}")
    yield _Receiver
    server.shutdown()


@asset(key_prefix="shop")
def broken(orders: pa.Table) -> pa.Table:
    raise RuntimeError("the export service is down")


@asset_check(asset="shop/orders")
def orders_have_rows(orders: pa.Table) -> bool:
    return orders.num_rows > 0


def test_each_materialization_is_a_start_then_complete_or_fail_run_with_facets(realworld, receiver, tmp_path):
    defs = load_definitions(str(realworld.definitions))
    defs = Definitions(assets=[*defs.assets, *defs.checks, broken, orders_have_rows], io_managers=defs.io_managers)
    result = materialize(defs, "*", home=tmp_path, store=MemoryEventStore())
    assert result.assets[broken.key] == "failed"
    events = receiver.events
    assert events and set(receiver.paths) == {"/api/v1/lineage"}
    schema = event_schema()
    for event in events:
        validate(event, schema)
    by_job: dict[str, list[dict]] = {}
    for event in events:
        by_job.setdefault(event["job"]["name"], []).append(event)
    assert [e["eventType"] for e in by_job["marts/fct_orders"]] == ["START", "COMPLETE"]
    assert [e["eventType"] for e in by_job["shop/broken"]] == ["START", "FAIL"]
    assert "the export service is down" in by_job["shop/broken"][1]["run"]["facets"]["errorMessage"]["message"]
    run_ids = {e["run"]["runId"] for e in by_job["marts/fct_orders"]}
    assert len(run_ids) == 1  # START and COMPLETE are one OpenLineage run
    parent = by_job["marts/fct_orders"][0]["run"]["facets"]["parent"]
    assert parent["run"]["runId"].replace("-", "") == result.run_id

    complete = by_job["marts/fct_orders"][1]
    assert {i["name"] for i in complete["inputs"]} == {"staging/stg_orders", "staging/stg_customers"}
    [output] = complete["outputs"]
    facets = output["facets"]
    assert [f["name"] for f in facets["schema"]["fields"]] == ["order_id", "customer_id", "customer_name", "amount",
                                                             "is_paid", "order_date"]
    amount = facets["columnLineage"]["fields"]["amount"]["inputFields"]
    assert [(i["name"], i["field"], i["transformations"][0]["subtype"]) for i in amount] == [
        ("staging/stg_orders", "amount", "IDENTITY")]
    assertions = {a["assertion"]: a for a in facets["dataQualityAssertions"]["assertions"]}
    assert assertions["paid_orders_keep_their_amount"]["success"] is True  # the unit test
    assert assertions["unique_fct_orders_order_id"]["column"] == "order_id"
    python = by_job["shop/orders"][-1]
    assert python["eventType"] == "COMPLETE"
    assert [f["name"] for f in python["outputs"][0]["facets"]["schema"]["fields"]][:2] == ["id", "customer_id"]
    assert python["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"][0]["assertion"] == "orders_have_rows"


def test_the_validator_names_what_is_wrong(receiver):
    good = {"eventType": "START", "eventTime": "2024-01-01T00:00:00+00:00", "producer": "https://x",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "3f1c1c1e-8f5e-4c1a-9a0e-6a7e1c9b2d11"}, "job": {"namespace": "n", "name": "j"}}
    validate(good)
    with pytest.raises(InvalidEvent, match="eventType"):
        validate({**good, "eventType": "DONE"})
    with pytest.raises(InvalidEvent, match="UUID|runId"):
        validate({**good, "run": {"runId": "not-a-uuid"}})
    with pytest.raises(InvalidEvent, match="'job' is a required property"):
        validate({k: v for k, v in good.items() if k != "job"})


def test_without_configuration_no_listener_is_made(monkeypatch):
    from integrations.openlineage import from_environment

    for name in ("ORCH_OPENLINEAGE_URL", "OPENLINEAGE_URL", "OPENLINEAGE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    graph = Definitions(assets=[orders_have_rows, broken, AssetSpec("shop/orders")]).graph
    assert from_environment(graph, {}) is None
    monkeypatch.setenv("ORCH_OPENLINEAGE_URL", "console")
    assert from_environment(graph, {}) is not None
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert from_environment(graph, {}) is None


def test_the_file_transport_writes_one_valid_event_per_line(tmp_path, monkeypatch):
    @asset
    def numbers() -> pa.Table:
        return pa.table({"n": [1, 2, 3]})

    @asset
    def total(numbers: pa.Table) -> int:
        return sum(numbers["n"].to_pylist())

    path = tmp_path / "lineage.ndjson"
    monkeypatch.setenv("ORCH_OPENLINEAGE_URL", f"file://{path}")
    monkeypatch.setenv("ORCH_OPENLINEAGE_COLUMN_LINEAGE", "false")
    assert materialize([numbers, total]).success
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("numbers", "START"), ("numbers", "COMPLETE"), ("total", "START"), ("total", "COMPLETE")]
    for event in events:
        validate(event)
    assert [i["name"] for i in events[3]["inputs"]] == ["numbers"]
