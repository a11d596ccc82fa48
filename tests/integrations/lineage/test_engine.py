"""The whole-graph engine on plain units: schemas flow parent to child, failures stay put, and
saved results are reused unless the SQL or an upstream schema changed."""

from __future__ import annotations

from dataclasses import replace

from integrations.lineage.engine import Unit, _Dataflow, compute
from integrations.lineage.model import AGGREGATE, DIRECT, TRANSFORM
from integrations.lineage.parallel import Runner, Task, run_task
from integrations.lineage.schemas import DocumentedSchemas, Layers, RecordedSchemas
from integrations.lineage.store import LineageStore


def _unit(asset: str, sql: str, *parents: str) -> Unit:
    return Unit(asset, parents, sql=sql, reads={p: (p.replace("/", "_"),) for p in parents})


UNITS = [
    Unit("raw/orders"),
    _unit("stg/orders", "select id as order_id, amount * 100 as cents, status from raw_orders", "raw/orders"),
    _unit("mart/orders", "select * exclude (status) from stg_orders where status = 'paid'", "stg/orders"),
    _unit("mart/totals", "select count(*) as n, sum(cents) as total from mart_orders", "mart/orders"),
]
LAYERS = Layers([DocumentedSchemas({"raw/orders": {"id": "int", "amount": "double", "status": "varchar"}})])


def test_children_are_qualified_against_their_parents_output_columns():
    results = compute(UNITS, LAYERS, workers=1)
    assert results["raw/orders"].column_names == ["id", "amount", "status"]
    assert results["raw/orders"].schema_source == "documented"
    assert results["mart/orders"].column_names == ["order_id", "cents"]  # `*` from stg/orders' SQL
    assert results["mart/orders"].columns["cents"] == {("stg/orders", "cents"): DIRECT}
    assert results["mart/orders"].filters == {("stg/orders", "status", "where")}
    assert results["mart/totals"].columns["n"] == {}


def test_a_failure_stays_with_its_asset_and_children_fall_back_to_the_layers():
    broken = [*UNITS[:1], replace(UNITS[1], sql="select id as order_id, from from"), *UNITS[2:]]
    layers = Layers([*LAYERS.sources, DocumentedSchemas({"stg/orders": {"order_id": "int", "cents": "int",
                                                                           "status": "varchar"}})])
    results = compute(broken, layers, workers=1)
    assert results["stg/orders"].columns is None and "does not parse" in results["stg/orders"].error
    assert results["mart/orders"].column_names == ["order_id", "cents"]
    assert results["mart/totals"].columns["total"] == {("mart/orders", "cents"): AGGREGATE}


def test_a_star_over_unknown_columns_is_an_error_naming_the_asset():
    results = compute([Unit("raw/x"), _unit("stg/x", "select * from raw_x", "raw/x")], Layers([]), workers=1)
    assert results["raw/x"].columns is None
    assert results["stg/x"].error == "cannot expand '*': the columns of 'raw/x' are unknown"


def test_only_what_changed_is_recomputed(tmp_path):
    path = tmp_path / "lineage.pickle"
    store = LineageStore(path)
    compute(UNITS, LAYERS, store, workers=1)
    assert store.misses == 3

    store = LineageStore(path)
    compute(UNITS, LAYERS, store, workers=1)
    assert (store.hits, store.misses) == (3, 0)

    # a new column in stg/orders: it, mart/orders (whose `*` sees it) and mart/totals (whose input,
    # mart/orders' columns, changed with it) are recomputed
    changed = [*UNITS[:1], replace(UNITS[1], sql=UNITS[1].sql.replace("status", "status, 1 as one")), *UNITS[2:]]
    store = LineageStore(path)
    results = compute(changed, LAYERS, store, workers=1)
    assert store.misses == 3 and results["mart/orders"].column_names == ["order_id", "cents", "one"]

    # a change that keeps stg/orders' columns: its children are read back
    same_columns = [*UNITS[:1], replace(UNITS[1], sql=UNITS[1].sql.replace("* 100", "* 1000")), *UNITS[2:]]
    compute(same_columns, LAYERS, LineageStore(path), workers=1)
    store = LineageStore(path)
    compute([*same_columns[:1], replace(same_columns[1], sql=same_columns[1].sql + " "), *same_columns[2:]],
            LAYERS, store, workers=1)
    assert (store.hits, store.misses) == (2, 1)


def test_an_upstream_schema_change_recomputes_the_readers(tmp_path):
    path = tmp_path / "lineage.pickle"
    compute(UNITS, LAYERS, LineageStore(path), workers=1)
    recorded = Layers([RecordedSchemas({"raw/orders": [["id", "int64"], ["amount", "double"], ["status", "string"],
                                                       ["region", "string"]]}), *LAYERS.sources])
    store = LineageStore(path)
    results = compute(UNITS, recorded, store, workers=1)
    assert store.misses >= 1
    assert results["raw/orders"].schema_source == "recorded"


def test_a_unit_is_ready_once_its_known_parents_are_done():
    flow = _Dataflow({u.asset: u for u in [*UNITS, Unit("other", ("not/here",))]})
    assert flow.roots() == ["raw/orders", "other"]
    assert flow.done("raw/orders") == ["stg/orders"]
    assert flow.done("stg/orders") == ["mart/orders"]
    assert flow.stuck() == ["mart/totals"]  # what is left once nothing runs
    assert flow.stuck() == []


def test_a_cycle_is_analyzed_once_nothing_else_can_run():
    units = [Unit("raw/t"), _unit("a", "select x from raw_t", "raw/t", "b"), _unit("b", "select x from a", "a")]
    layers = Layers([DocumentedSchemas({"raw/t": {"x": "int"}})])
    results = compute(units, layers, workers=1)
    assert list(results) == ["raw/t", "a", "b"]
    assert results["a"].columns["x"] == {("raw/t", "x"): DIRECT}


def test_worker_processes_give_the_same_answers():
    tasks = [Task(f"m{i}", f"select a + {i} as b{i}, c from t", {"t": {"a": "int", "c": "int"}}, None, "duckdb")
             for i in range(80)]
    def run_all(runner: Runner) -> list:
        runner.start(tasks)
        outcomes = []
        while runner.busy:
            outcomes += runner.results()
        return sorted(outcomes, key=lambda o: int(o.asset[1:]))

    with Runner(2) as runner:
        pooled = run_all(runner)
        assert runner._pool is not None  # 80 ready tasks start the workers
    with Runner(1) as runner:
        inline = run_all(runner)
    assert pooled == inline and len(pooled) == 80
    assert pooled[5].columns == {"b5": {("t", "a"): TRANSFORM}, "c": {("t", "c"): DIRECT}}


def test_inlined_ephemeral_bodies_are_blanked_for_the_parser_with_positions_kept():
    from integrations.lineage.dbt_units import blank_ephemeral_bodies

    body = "select id, amount\nfrom \"db\".\"main\".\"orders\"\nwhere amount > 0 -- paid orders only, padded"
    sql = f"with  __dbt__cte__paid as (\n{body}\n), totals as (\n  select id from __dbt__cte__paid\n)\nselect * from totals"
    lean = blank_ephemeral_bodies(sql, [("paid", body)])
    assert lean is not None and body not in lean and lean.count("\n") == sql.count("\n")
    assert lean.splitlines()[-3:] == sql.splitlines()[-3:]  # what follows is where it was
    schema = {"__dbt__": {"ephemeral": {"paid": {"id": "int", "amount": "double"}}}}
    whole, blanked = (run_task(Task("m", text, schema, None, "duckdb")) for text in (sql, lean))
    assert blanked == whole and whole.error is None and whole.columns == {"id": {("__dbt__.ephemeral.paid", "id"): DIRECT}}
    assert blank_ephemeral_bodies(sql, [("other", body)]) is None  # not inlined verbatim: parsed whole
    assert blank_ephemeral_bodies(sql, [("paid", "select 1")]) is None  # too short to be worth it


def test_tasks_short_of_a_chunk_reach_an_idle_worker():
    """83 ready tasks: 10 full chunks (no more than 3 per worker handed over at a time), and 3
    left over that go once a worker would otherwise idle."""
    tasks = [Task(f"m{i}", f"select a + {i} as b from t", {"t": {"a": "int"}}, None, "duckdb") for i in range(83)]
    with Runner(2) as runner:
        runner.start(tasks)
        assert len(runner._running) == 6 and len(runner._waiting) == 83 - 6 * 8
        outcomes = []
        for _ in range(1_000):  # a task left waiting with nothing running would spin here
            if not runner.busy:
                break
            outcomes += runner.results()
    assert sorted(o.asset for o in outcomes) == sorted(t.asset for t in tasks)
    assert all(o.error is None for o in outcomes)


def test_queries_analyzed_here_free_their_trees_while_the_collector_is_paused():
    """The providers pause the collector; sqlglot trees are cyclic, so each chunk collects them."""
    import gc

    from orchestrator.memory import paused_gc

    sql = "with a as (select id, amount from orders) select id, sum(amount) as total from a group by id"
    tasks = [Task(f"m{i}", sql, {"orders": {"id": "int", "amount": "double"}}, None, "duckdb") for i in range(40)]
    gc.collect()  # what earlier tests left is not this test's
    with paused_gc(), Runner(workers=1) as runner:
        runner.start(tasks)
        outcomes = runner.results()
        left = gc.collect()
    assert all(o.error is None for o in outcomes) and len(outcomes) == 40
    assert left < 2_000, f"{left} unreachable objects: the trees of 40 queries were not collected"
