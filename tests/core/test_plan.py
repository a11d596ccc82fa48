"""plan(): Python assets are steps of their own; contiguous batched assets share one step."""

from __future__ import annotations

from orchestrator import AssetDefinition, AssetGraph, AssetKey, AssetSpec, asset, plan

K = AssetKey.parse


class BatchRunner:
    """A runner that takes many assets in one invocation, as the dbt runner does."""

    batches = True

    def run(self, context):  # pragma: no cover - plans never run it
        raise AssertionError


def batched(name: str, *deps: str, runner=None) -> AssetDefinition:
    spec = AssetSpec(name, deps=list(deps))
    return spec.with_changes(kind="dbt", executable=True, runner=runner)


def test_python_assets_are_one_step_each_in_dependency_order():
    @asset
    def a():
        return 1

    @asset
    def b(a):
        return 1

    graph = AssetGraph([a, b])
    steps = plan(graph, graph.keys).steps
    assert [s.key for s in steps] == ["a", "b"]
    assert steps[1].upstream == {"a"}


def test_dbt_python_dbt_is_three_steps():
    runner = BatchRunner()

    @asset(deps=["stg_orders"])
    def enrich():
        return 1

    graph = AssetGraph([
        batched("raw", runner=runner),
        batched("stg_orders", "raw", runner=runner),
        enrich,
        batched("fct", "enrich", "stg_orders", runner=runner),
    ])
    steps = plan(graph, graph.keys).steps
    assert [(s.key, s.assets) for s in steps] == [
        ("dbt[0]", (K("raw"), K("stg_orders"))),
        ("enrich", (K("enrich"),)),
        ("dbt[1]", (K("fct"),)),
    ]
    assert steps[2].upstream == {"dbt[0]", "enrich"}


def test_python_ingest_then_dbt_is_one_dbt_step_whatever_the_ingest_depth():
    runner = BatchRunner()

    @asset
    def orders():
        return 1

    @asset
    def payments(orders):
        return 1

    graph = AssetGraph([
        orders, payments,
        batched("stg_orders", "orders", runner=runner),
        batched("stg_payments", "payments", runner=runner),
        batched("seed", runner=runner),
        batched("fct", "stg_orders", "stg_payments", runner=runner),
    ])
    steps = plan(graph, graph.keys).steps
    dbt_steps = [s for s in steps if s.kind == "dbt"]
    assert len(dbt_steps) == 1 and len(dbt_steps[0].assets) == 4
    assert dbt_steps[0].upstream == {"orders", "payments"}


def test_two_runners_of_one_kind_never_share_a_step():
    one, two = BatchRunner(), BatchRunner()
    graph = AssetGraph([batched("a", runner=one), batched("b", "a", runner=two),
                        batched("c", "b", runner=one)])
    steps = plan(graph, graph.keys).steps
    assert [s.assets for s in steps] == [(K("a"),), (K("b"),), (K("c"),)]


def test_unrelated_batched_assets_share_one_step():
    runner = BatchRunner()
    graph = AssetGraph([batched("x", runner=runner), batched("y", runner=runner)])
    steps = plan(graph, graph.keys).steps
    assert len(steps) == 1 and set(steps[0].assets) == {K("x"), K("y")}


def test_external_assets_are_not_steps_and_order_survives_dropped_assets():
    @asset(deps=["raw"])
    def a():
        return 1

    @asset
    def b(a):
        return 1

    @asset
    def c(b):
        return 1

    graph = AssetGraph([AssetSpec("raw"), a, b, c])
    result = plan(graph, [K("raw"), K("a"), K("c")])
    assert [s.key for s in result.steps] == ["a", "c"]
    assert result.steps[1].upstream == {"a"}
