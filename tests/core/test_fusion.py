"""linear_chains(): which Python steps a remote executor runs as one task. Only strictly linear runs
fuse (one parent, one child), so no step loses a sibling it could have run beside."""

from __future__ import annotations

from orchestrator import AssetGraph, asset, plan
from orchestrator.execution.executors.fusion import linear_chains
from tests.core.test_plan import BatchRunner, batched


def _chains(*assets) -> dict[str, list[str]]:
    graph = AssetGraph(list(assets))
    return {head: [s.key for s in rest] for head, rest in linear_chains(plan(graph, graph.keys).steps, graph).items()}


@asset
def a():
    return 1


@asset
def b(a):
    return a


@asset
def c(b):
    return b


@asset
def d(c):
    return c


def test_a_linear_run_is_one_chain_headed_by_its_first_step():
    assert _chains(a, b, c, d) == {"a": ["b", "c", "d"]}
    assert _chains(a) == {}


def test_a_fan_out_ends_a_chain_and_each_branch_is_its_own():
    @asset
    def c2(b):
        return b

    @asset
    def e(c2):
        return c2

    # b has two children: a -> b stays a chain; c -> d and c2 -> e are chains of their own
    assert _chains(a, b, c, d, c2, e) == {"a": ["b"], "c": ["d"], "c2": ["e"]}


def test_a_fan_in_ends_a_chain():
    @asset
    def other():
        return 2

    @asset
    def joined(b, other):
        return b + other

    @asset
    def after(joined):
        return joined

    assert _chains(a, b, other, joined, after) == {"a": ["b"], "joined": ["after"]}


def test_different_compute_hints_end_a_chain():
    @asset(hints={"worker": "gpu"})
    def on_gpu(b):
        return b

    @asset(hints={"worker": "gpu"})
    def also_gpu(on_gpu):
        return on_gpu

    assert _chains(a, b, on_gpu, also_gpu) == {"a": ["b"], "on_gpu": ["also_gpu"]}


def test_dbt_segments_never_fuse():
    runner = BatchRunner()

    @asset(deps=["stg"])
    def enrich():
        return 1

    @asset
    def report(enrich):
        return enrich

    graph_assets = [batched("raw", runner=runner), batched("stg", "raw", runner=runner), enrich, report,
                    batched("fct", "report", runner=runner)]
    assert _chains(*graph_assets) == {"enrich": ["report"]}
