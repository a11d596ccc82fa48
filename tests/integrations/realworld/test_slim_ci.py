"""Slim CI: save production's state, change the project, build only what changed (and what depends
on it) in a CI schema, reading the rest from production through dbt's --defer."""

from __future__ import annotations

import json
import os
import shutil
import time

import duckdb
import pytest
from click.testing import CliRunner

from orchestrator import AssetSpec, Definitions, asset
from orchestrator.cli import main
from orchestrator.errors import NothingModifiedError, SelectionError
from orchestrator.execution.materialize import select_assets
from orchestrator.selection import resolve
from orchestrator.state import GraphState, StateComparison, graph_state


def _later(path) -> None:
    when = time.time() + 60
    os.utime(path, (when, when))


@pytest.fixture
def slim(realworld, tmp_path, monkeypatch):
    root = realworld.copy_project(f"slim_{tmp_path.name}")
    monkeypatch.setenv("RW_PROJECT", str(root))
    monkeypatch.setenv("RW_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("ORCH_STATE_DIR", "")  # so that what --state sets is undone after the test
    monkeypatch.delenv("ORCH_STATE_DIR")

    def orch(*args: str, defs: str, code: int = 0):
        copy = tmp_path / f"{defs}_definitions.py"  # a module of its own: imported afresh
        if not copy.exists():
            shutil.copy(realworld.definitions, copy)
        result = CliRunner().invoke(main, ["--defs", str(copy), "--home", str(tmp_path / "home"), *args])
        assert result.exit_code == code, result.output
        return json.loads(result.output) if "--json" in args else result.output

    return root, tmp_path, orch


def test_state_modified_builds_only_what_changed_deferring_to_production(slim, monkeypatch):
    root, tmp_path, orch = slim
    assert orch("materialize", "--json", defs="prod")["status"] == "succeeded"
    saved = orch("state", "save", str(tmp_path / "prod_state"), "--json", defs="prod")
    assert "dbt/realworld/manifest.json" in saved["files"]

    rank = root / "transform" / "marts" / "customer_rank.sql"
    rank.write_text(rank.read_text().replace("as rank_in_customer", "as rank_in_customer, amount * 2 as doubled"))
    _later(rank)
    monkeypatch.setenv("RW_TARGET", "ci")
    state = str(tmp_path / "prod_state")
    diff = orch("state", "diff", state, "--json", defs="ci")
    assert diff["modified"] == [{"asset": "marts/customer_rank", "reasons": ["body"]}]
    listed = orch("assets", "list", "--select", "state:modified+", "--state", state, "--json", defs="ci")
    assert [a["key"] for a in listed] == ["marts/customer_rank"]
    run = orch("materialize", "--select", "state:modified+", "--state", state, "--json", defs="ci")
    assert run["status"] == "succeeded" and run["assets"] == {"marts/customer_rank": "succeeded"}
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        tables = {(s, t) for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()}
        doubled = con.execute("select count(doubled) from ci.customer_rank").fetchone()[0]
    finally:
        con.close()
    assert ("ci", "customer_rank") in tables and ("ci", "fct_orders") not in tables  # read from main: deferred
    assert doubled == 4


def test_macros_new_models_and_configs_are_modifications(slim, monkeypatch):
    root, tmp_path, orch = slim
    state = str(tmp_path / "prod_state")
    orch("state", "save", state, defs="prod")
    macro = root / "lib" / "cents_to_dollars.sql"
    macro.write_text(macro.read_text().replace(", 2)", ", 3)"))
    (root / "transform" / "marts" / "big_orders.sql").write_text(
        "select order_id from {{ ref('fct_orders') }} where amount > 100\n")
    marts = root / "transform" / "marts" / "_marts.yml"
    marts.write_text(marts.read_text().replace("  - name: metricflow_time_spine\n",
                                               "  - name: metricflow_time_spine\n    config:\n      tags: [spine]\n"))
    for path in (macro, marts, root / "transform" / "marts" / "big_orders.sql"):
        _later(path)
    diff = orch("state", "diff", state, "--json", defs="changed")
    reasons = {row["asset"]: row["reasons"] for row in diff["modified"]}
    assert reasons == {"staging/stg_orders": ["macros"], "marts/big_orders": ["new"],
                       "marts/metricflow_time_spine": ["configs"]}
    listed = orch("assets", "list", "--select", "state:modified.macros+", "--state", state, "--json", defs="changed")
    assert {"staging/stg_orders", "marts/fct_orders", "marts/daily_orders"} <= {a["key"] for a in listed}
    assert "marts/big_orders" in {a["key"] for a in
                                  orch("assets", "list", "--select", "state:new", "--state", state, "--json",
                                       defs="changed")}


def test_python_code_versions_and_upstream_schemas_are_compared_purely():
    @asset
    def orders():
        return [1]

    @asset
    def report(orders):
        return len(orders)

    before = graph_state(Definitions(assets=[orders, report, AssetSpec("raw/events")]).graph,
                         {AssetSpec("raw/events").key: [["id", "int"]]})

    @asset(name="orders")
    def orders_changed():
        return [1, 2]

    graph = Definitions(assets=[orders_changed, report, AssetSpec("raw/events"),
                                AssetSpec("events_report", deps=["raw/events"])]).graph
    after = StateComparison(before, graph_state(graph, {AssetSpec("raw/events").key: [["id", "int"],
                                                                                       ["kind", "text"]]}))
    assert sorted(map(str, resolve("state:modified", graph, state=after))) == ["events_report", "orders",
                                                                               "raw/events"]
    assert after.reasons(AssetSpec("raw/events").key) == ["schema"]
    assert sorted(map(str, resolve("state:modified+", graph, state=after))) == ["events_report", "orders",
                                                                                "raw/events", "report"]
    fresh = StateComparison(before, graph_state(graph))  # a CI store that recorded nothing yet
    assert "raw/events" not in {str(k) for k in fresh.select("modified")}
    assert GraphState.from_json(json.loads(json.dumps(before.to_json()))) == before
    unchanged = StateComparison(before, before)
    with pytest.raises(NothingModifiedError, match="nothing to run"):  # slim CI with nothing changed
        select_assets(Definitions(assets=[orders, report, AssetSpec("raw/events")]).graph, "state:modified+",
                      None, unchanged)
    with pytest.raises(SelectionError, match="'tag:nope' matched nothing") as mixed:
        select_assets(graph, "state:modified,tag:nope", None, unchanged)
    assert not isinstance(mixed.value, NothingModifiedError)


def test_state_selection_errors_say_what_to_do(slim):
    _, tmp_path, orch = slim
    out = orch("assets", "list", "--select", "state:modified", defs="prod", code=2)
    assert "pass --state DIR (written by `orch state save DIR`)" in out
    out = orch("assets", "list", "--select", "state:modifed", "--state", str(tmp_path / "nothing"), defs="prod",
               code=2)
    assert "No saved state at" in out
    orch("state", "save", str(tmp_path / "s"), defs="prod")
    out = orch("assets", "list", "--select", "state:modifed", "--state", str(tmp_path / "s"), defs="prod", code=2)
    assert "Did you mean 'modified'?" in out
    with pytest.raises(SelectionError):
        resolve("state:new", Definitions(assets=[AssetSpec("a")]).graph)
