"""One graph of every asset: duplicates, cycles and unknown dependencies are clear errors."""

from __future__ import annotations

import pytest

from orchestrator import AssetGraph, AssetKey, AssetSpec, asset, asset_check
from orchestrator.errors import CycleError, DuplicateAssetError, UnknownAssetError

K = AssetKey.parse


@asset
def orders():
    return 1


@asset
def customers():
    return 1


@asset
def orders_enriched(orders, customers):
    return 1


@asset
def report(orders_enriched):
    return 1


def test_edges_come_from_parameter_names():
    graph = AssetGraph([orders, customers, orders_enriched, report])
    assert graph.parents(K("orders_enriched")) == {K("orders"), K("customers")}
    assert graph.upstream([K("report")]) == {K("orders"), K("customers"), K("orders_enriched")}
    assert graph.downstream([K("orders")], depth=1) == {K("orders_enriched")}
    assert graph.toposort()[-1] == K("report")


def test_duplicate_keys_name_both_definitions():
    @asset(name="orders")
    def other_orders():
        return 2

    with pytest.raises(DuplicateAssetError) as err:
        AssetGraph([orders, other_orders])
    assert "test_graph.orders" in str(err.value) and "other_orders" in str(err.value)


def test_a_cycle_is_printed():
    @asset(name="a", deps=["c"])
    def a():
        return 1

    @asset(name="b")
    def b(a):
        return 1

    @asset(name="c")
    def c(b):
        return 1

    with pytest.raises(CycleError, match=r"cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)"):
        AssetGraph([a, b, c])


def test_unknown_dependency_suggests_the_closest_key():
    @asset
    def summary(ordres):
        return 1

    with pytest.raises(UnknownAssetError, match="depends on 'ordres'.*Did you mean 'orders'"):
        AssetGraph([orders, summary])


def test_an_asset_spec_declares_an_external_dependency():
    @asset(ins={"orders": "raw/orders"})
    def cleaned(orders):
        return 1

    graph = AssetGraph([AssetSpec("raw/orders"), cleaned])
    assert graph.parents(K("cleaned")) == {K("raw/orders")}


def test_a_missing_optional_dependency_is_no_error():
    @asset
    def with_extra(orders, extra=None):
        return 1

    graph = AssetGraph([orders, with_extra])
    assert graph.parents(K("with_extra")) == {K("orders")}


def test_checks_must_target_a_known_asset():
    @asset_check(asset="ordesr")
    def positive(ordesr):
        return True

    with pytest.raises(UnknownAssetError, match="Did you mean 'orders'"):
        AssetGraph([orders], [positive])


def test_subgraph_keeps_transitive_edges_and_leaves_the_original_alone():
    graph = AssetGraph([orders, customers, orders_enriched, report])
    sub = graph.subgraph([K("orders"), K("report")])
    assert sub.parents(K("report")) == {K("orders")}
    assert set(sub) == {K("orders"), K("report")}
    assert len(graph) == 4 and graph.parents(K("report")) == {K("orders_enriched")}


def test_get_unknown_asset_suggests():
    graph = AssetGraph([orders])
    with pytest.raises(UnknownAssetError, match="Did you mean 'orders'"):
        graph.get("order")
