"""The global graph's layout, computed on the server: layered, grouped, wrapped to a screen's shape.

Each asset sits in a layer (its longest path from a root; a root moves right to just before its
first child), so every edge points right. Within a layer, assets are ordered by group, then by the
mean position of their neighbours (a few barycenter sweeps), so a group forms one block per layer
and edges cross less. A layer taller than the graph is wide is wrapped into several columns, so
10,000 assets fill a 16:9 screen instead of a thin strip. Pure: takes the graph, returns a value.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass

from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey

ASPECT = 16 / 9  # width / height the wrapped layout aims for
SWEEPS = 4
COLUMN_GAP = 6.0  # x units between columns (at most); rows are 1 unit apart
MIN_COLUMN_GAP = 2.0  # deep graphs get narrower gaps, down to this, to keep their shape
GROUP_GAP = 1.5  # extra rows between two groups in one column


@dataclass(frozen=True, slots=True)
class Layout:
    """Positions in graph units, in the order of `keys`; `edges` index into `keys`."""

    version: str
    keys: tuple[str, ...]
    x: tuple[float, ...]
    y: tuple[float, ...]
    layer: tuple[int, ...]
    groups: tuple[str, ...]
    group_of: tuple[int, ...]
    edges: tuple[int, ...]  # flat: source0, target0, source1, target1, ...
    group_boxes: tuple[tuple[int, float, float, float, float], ...]  # group, x0, y0, x1, y1 per column

    def as_json(self) -> dict[str, object]:
        return {
            "version": self.version, "keys": self.keys, "x": self.x, "y": self.y, "layer": self.layer,
            "groups": self.groups, "group_of": self.group_of, "edges": self.edges,
            "group_boxes": self.group_boxes,
        }


def graph_version(graph: AssetGraph) -> str:
    """A digest of what the layout depends on: keys, groups and edges. Same graph, same version."""
    digest = hashlib.sha256()
    for key in sorted(graph.assets, key=str):
        digest.update(f"{key}\0{graph.assets[key].group}\n".encode())
    for u, v in sorted((str(u), str(v)) for u, v in graph.edges()):
        digest.update(f"{u}>{v}\n".encode())
    return digest.hexdigest()[:20]


def layers(graph: AssetGraph, order: list[AssetKey]) -> dict[AssetKey, int]:
    """Longest path from a root; a root without parents sits right before its nearest child."""
    layer: dict[AssetKey, int] = {}
    for key in order:
        parents = graph.parents(key)
        layer[key] = 1 + max(layer[p] for p in parents) if parents else 0
    for key in reversed(order):
        if not graph.parents(key):
            children = graph.children(key)
            if children:
                layer[key] = min(layer[c] for c in children) - 1
    return layer


def _sweep(columns: list[list[AssetKey]], neighbours: dict[AssetKey, list[AssetKey]],
           rank: dict[AssetKey, int], position: dict[AssetKey, float]) -> None:
    """Reorder each layer by (group rank, barycenter of already placed neighbours)."""
    for column in columns:
        def barycenter(key: AssetKey) -> float:
            placed = [position[n] for n in neighbours[key] if n in position]
            return sum(placed) / len(placed) if placed else position.get(key, 0.0)

        column.sort(key=lambda k: (rank[k], barycenter(k), str(k)))
        scale = 1.0 / max(1, len(column) - 1)
        for i, key in enumerate(column):
            position[key] = i * scale


def order_layers(graph: AssetGraph, layer: dict[AssetKey, int], group_rank: dict[str, int],
                 sweeps: int = SWEEPS) -> list[list[AssetKey]]:
    depth = max(layer.values(), default=-1) + 1
    columns: list[list[AssetKey]] = [[] for _ in range(depth)]
    for key in sorted(layer, key=str):
        columns[layer[key]].append(key)
    rank = {k: group_rank[graph.assets[k].group] for k in layer}
    parents = {k: list(graph.parents(k)) for k in layer}
    children = {k: list(graph.children(k)) for k in layer}
    position: dict[AssetKey, float] = {}
    for i in range(sweeps):
        if i % 2 == 0:
            _sweep(columns, parents, rank, position)
        else:
            _sweep(columns[::-1], children, rank, position)
    if sweeps % 2 == 0:  # end on a down sweep: parents decide, as a reader scans left to right
        _sweep(columns, parents, rank, position)
    return columns


def _column_height(sizes: list[int], aspect: float) -> int:
    """The tallest column such that the wrapped layout is about `aspect` times wider than tall."""
    low, high = 1, max(sizes, default=1)
    while low < high:  # the smallest height whose width/height ratio is at most `aspect`
        mid = (low + high) // 2
        width = sum(math.ceil(n / mid) for n in sizes) * COLUMN_GAP
        if width / mid <= aspect:
            high = mid
        else:
            low = mid + 1
    return max(low, 1)


def layout(graph: AssetGraph, aspect: float = ASPECT) -> Layout:
    order = graph.toposort()
    layer = layers(graph, order)
    mean = _mean_layers(graph, layer)
    groups = sorted(mean, key=lambda g: (mean[g], g))
    group_rank = {g: i for i, g in enumerate(groups)}
    columns = order_layers(graph, layer, group_rank)
    height = _column_height([len(c) for c in columns], aspect)
    wrapped = sum(math.ceil(len(c) / height) for c in columns)
    gap = min(COLUMN_GAP, max(MIN_COLUMN_GAP, aspect * height / max(1, wrapped)))
    xs: dict[AssetKey, float] = {}
    ys: dict[AssetKey, float] = {}
    boxes: list[tuple[int, float, float, float, float]] = []
    column_x = 0.0
    for column in columns:
        for start in range(0, len(column), height):
            chunk = column[start : start + height]
            row, previous = 0.0, None
            spans: list[tuple[int, float, float]] = []
            for key in chunk:
                rank = group_rank[graph.assets[key].group]
                if previous is not None and rank != previous:
                    row += GROUP_GAP
                if rank != previous:
                    spans.append((rank, row, row))
                xs[key], ys[key] = column_x, -row  # y grows upwards on screen
                spans[-1] = (rank, spans[-1][1], row)
                previous = rank
                row += 1.0
            offset = row / 2.0  # centre each column on y = 0
            for key in chunk:
                ys[key] += offset
            boxes.extend((g, column_x, offset - top, column_x, offset - bottom) for g, top, bottom in spans)
            column_x += gap
    keys = sorted(graph.assets, key=lambda k: (xs[k], -ys[k]))
    index = {k: i for i, k in enumerate(keys)}
    edges: list[int] = []
    for u, v in sorted(graph.edges(), key=lambda e: (index[e[0]], index[e[1]])):
        edges += (index[u], index[v])
    return Layout(
        version=graph_version(graph),
        keys=tuple(str(k) for k in keys),
        x=tuple(xs[k] for k in keys),
        y=tuple(round(ys[k], 3) for k in keys),
        layer=tuple(layer[k] for k in keys),
        groups=tuple(groups),
        group_of=tuple(group_rank[graph.assets[k].group] for k in keys),
        edges=tuple(edges),
        group_boxes=tuple(boxes),
    )


def _mean_layers(graph: AssetGraph, layer: dict[AssetKey, int]) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for key, definition in graph.assets.items():
        total[definition.group] += layer[key]
        count[definition.group] += 1
    return {g: total[g] / count[g] for g in total}


def neighbourhood(graph: AssetGraph, key: AssetKey, depth: int) -> tuple[set[AssetKey], list[tuple[AssetKey, AssetKey]]]:
    """The assets within `depth` hops up and down of `key`, and the edges among them."""
    keep = {key} | graph.upstream([key], depth) | graph.downstream([key], depth)
    edges = [(u, v) for u in keep for v in graph.children(u) if v in keep]
    return keep, sorted(edges, key=lambda e: (str(e[0]), str(e[1])))


def group_sizes(graph: AssetGraph) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for definition in graph.assets.values():
        sizes[definition.group] += 1
    return dict(sizes)
