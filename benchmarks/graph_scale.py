"""Graph scale: decorate, build + validate, select and plan a graph of 10,000 Python assets.

    .venv/bin/python benchmarks/graph_scale.py

100 layers x 100 assets; each asset of layer L > 0 depends on 2-3 assets of layer L-1 (seeded
random, so every run builds the same graph). Assets are made with @asset on exec'd functions, so
the decorator's cost is measured too (reported apart). Every other timing is the best of --repeat
runs, each on a fresh Definitions (its graph is cached on first access). Target: build + validate +
the three selections under 1 s. Prints a table and a final JSON line; never asserts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from orchestrator import Definitions, asset, plan, resolve

TARGET_S = 1.0


def name(layer: int, i: int) -> str:
    return f"l{layer:03d}_{i:03d}"


def decorate(layers: int, width: int, seed: int = 0) -> list[Any]:
    """Every asset gets tag 'x' when i is even; group 'y' for layers 50-59, else 'g<layer // 10>'."""
    rng = random.Random(seed)
    namespace: dict[str, Any] = {"__name__": "bench_graph_scale"}
    definitions = []
    for layer in range(layers):
        group = "y" if layer // 10 == 5 else f"g{layer // 10}"
        for i in range(width):
            parents = [] if layer == 0 else rng.sample(range(width), rng.choice((2, 3)))
            params = ", ".join(name(layer - 1, p) for p in parents)
            fn_name = name(layer, i)
            exec(f"def {fn_name}({params}):\n    return None\n", namespace)  # noqa: S102
            tags = ["x"] if i % 2 == 0 else []
            definitions.append(asset(namespace[fn_name], group=group, tags=tags))
    return definitions


def best(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=100)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    layers, width = args.layers, args.width
    last, middle = name(layers - 1, width // 2), name(layers // 2, width // 2)

    t0 = time.perf_counter()
    definitions = decorate(layers, width)
    decorate_s = time.perf_counter() - t0

    graph_s, graph = best(args.repeat, lambda: Definitions(assets=definitions).graph)
    edges = len(graph.edges())
    selections = [f"+{last}", f"@{middle}", "tag:x,group:y"]
    timings: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for text in selections:
        timings[text], keys = best(args.repeat, lambda text=text: resolve(text, graph))
        sizes[text] = len(keys)
    everything = frozenset(graph.keys)
    plan_all_s, plan_all = best(args.repeat, lambda: plan(graph, everything))
    upstream = resolve(f"+{last}", graph)
    plan_up_s, plan_up = best(args.repeat, lambda: plan(graph, upstream))

    budget = graph_s + sum(timings.values())
    rows = [
        ("@asset x %d (decorate, once)" % len(definitions), decorate_s, f"{len(definitions)} assets"),
        ("Definitions(...).graph (build + validate)", graph_s, f"{len(graph)} assets, {edges} edges"),
        *((f"resolve('{t}')", timings[t], f"{sizes[t]} selected") for t in selections),
        ("plan(graph, all)", plan_all_s, f"{len(plan_all.steps)} steps"),
        (f"plan(graph, +{last})", plan_up_s, f"{len(plan_up.steps)} steps"),
    ]
    print()
    print(f"Graph scale: {layers} layers x {width} assets, 2-3 parents each in the previous layer; "
          f"best of {args.repeat} (decorate: once)")
    print()
    print(f"{'operation':<44} {'ms':>9}  result")
    print("-" * 76)
    for label, seconds, result in rows:
        print(f"{label:<44} {seconds * 1000:>9.1f}  {result}")
    print("-" * 76)
    met = budget < TARGET_S
    print(f"{'build + validate + 3 selections':<44} {budget * 1000:>9.1f}  target < {TARGET_S * 1000:.0f} ms: "
          f"{'MET' if met else 'NOT MET'}")
    print()
    print(json.dumps({
        "benchmark": "graph_scale", "assets": len(graph), "edges": edges,
        "decorate_s": round(decorate_s, 4), "graph_s": round(graph_s, 4),
        "selections_s": {t: round(v, 4) for t, v in timings.items()},
        "selection_sizes": sizes,
        "plan_all_s": round(plan_all_s, 4), "plan_upstream_s": round(plan_up_s, 4),
        "build_validate_select_s": round(budget, 4), "target_s": TARGET_S, "target_met": met,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
