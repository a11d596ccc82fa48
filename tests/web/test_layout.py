"""The global graph's server-side layout: every edge points right, nothing overlaps, groups stay
together in each column, the same graph gives the same layout, a wide layer wraps to the screen."""

from __future__ import annotations

import random

from orchestrator import AssetSpec
from orchestrator.graph import AssetGraph
from orchestrator.web.layout import ASPECT, graph_version, layout


def _graph(layers: int, width: int, groups: int = 3, seed: int = 0) -> AssetGraph:
    rng = random.Random(seed)
    specs = []
    for layer in range(layers):
        for i in range(width):
            deps = [f"l{layer - 1}_{p}" for p in rng.sample(range(width), min(2, width))] if layer else []
            specs.append(AssetSpec(f"l{layer}_{i}", deps=deps, group=f"g{rng.randrange(groups)}"))
    return AssetGraph(specs)


def test_edges_point_right_and_no_two_assets_share_a_place() -> None:
    graph = _graph(12, 40)
    found = layout(graph)
    index = {k: i for i, k in enumerate(found.keys)}
    assert len(found.keys) == len(graph) and len(found.edges) == 2 * len(graph.edges())
    for u, v in graph.edges():
        assert found.x[index[str(u)]] < found.x[index[str(v)]]
    assert len(set(zip(found.x, found.y))) == len(found.keys)


def test_each_group_is_one_block_per_column() -> None:
    found = layout(_graph(6, 60, groups=4))
    columns: dict[float, list[tuple[float, int]]] = {}
    for x, y, g in zip(found.x, found.y, found.group_of):
        columns.setdefault(x, []).append((-y, g))
    for members in columns.values():
        order = [g for _, g in sorted(members)]
        runs = [g for i, g in enumerate(order) if i == 0 or order[i - 1] != g]
        assert len(runs) == len(set(runs))  # no group appears twice in a column
    assert {box[0] for box in found.group_boxes} == set(found.group_of)


def test_the_same_graph_gives_the_same_layout_and_version() -> None:
    assert layout(_graph(5, 20)) == layout(_graph(5, 20))
    assert graph_version(_graph(5, 20)) != graph_version(_graph(5, 20, seed=1))


def test_a_very_wide_layer_wraps_into_columns_near_the_screens_shape() -> None:
    specs = [AssetSpec(f"src_{i}") for i in range(3000)]
    specs += [AssetSpec(f"mart_{i}", deps=[f"src_{i}", f"src_{(i * 7) % 3000}"]) for i in range(3000)]
    found = layout(AssetGraph(specs))
    width = max(found.x) - min(found.x)
    height = max(found.y) - min(found.y)
    assert ASPECT / 2 < width / height < ASPECT * 2
    index = {k: i for i, k in enumerate(found.keys)}
    assert max(found.x[index[f"src_{i}"]] for i in range(3000)) < min(found.x[index[f"mart_{i}"]] for i in range(3000))
