"""Fusing linear chains of Python steps into one remote task. Pure: no I/O, nothing mutated.

A step B *follows* step A when B's only upstream step is A and A's only downstream step is B, both
are Python steps (not a dbt segment) and their assets ask for the same compute hints. A run of such
steps is a linear chain: nothing can run beside any of its links, so running the whole chain as ONE
task on one worker loses no parallelism and saves a scheduler round trip per link. Each step in it
still reports its own events and outcome, keeps its own retry policy, and the chain stops at the
first step that does not succeed (the run's driver skips the rest, as for any failed upstream).
"""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.execution.plan import Step
from orchestrator.graph import AssetGraph


def linear_chains(steps: Iterable[Step], graph: AssetGraph) -> dict[str, tuple[Step, ...]]:
    """For each step that heads a chain of two or more: the steps that follow it, in order.

    >>> from orchestrator import asset
    >>> from orchestrator.execution.plan import plan
    >>> @asset
    ... def a(): return 1
    >>> @asset
    ... def b(a): return a
    >>> @asset
    ... def c(b): return b
    >>> from orchestrator.graph import AssetGraph
    >>> g = AssetGraph([a, b, c])
    >>> {head: [s.key for s in rest] for head, rest in linear_chains(plan(g, g.keys).steps, g).items()}
    {'a': ['b', 'c']}
    """
    steps = list(steps)
    by_key = {s.key: s for s in steps}
    downstream: dict[str, list[str]] = {s.key: [] for s in steps}
    for step in steps:
        for up in step.upstream:
            if up in downstream:
                downstream[up].append(step.key)

    def next_of(step: Step) -> Step | None:
        after = downstream[step.key]
        if len(after) != 1:
            return None
        child = by_key[after[0]]
        if child.upstream != {step.key} or not (_python(step, graph) and _python(child, graph)):
            return None
        return child if _hints(step, graph) == _hints(child, graph) else None

    followed = {child.key for s in steps if (child := next_of(s)) is not None}
    chains: dict[str, tuple[Step, ...]] = {}
    for step in steps:
        if step.key in followed:
            continue  # not a head: it belongs to the chain of the step before it
        rest, link = [], next_of(step)
        while link is not None:
            rest.append(link)
            link = next_of(link)
        if rest:
            chains[step.key] = tuple(rest)
    return chains


def _python(step: Step, graph: AssetGraph) -> bool:
    return step.runner is None and len(step.assets) == 1 and graph.assets[step.assets[0]].fn is not None


def _hints(step: Step, graph: AssetGraph) -> object:
    return graph.assets[step.assets[0]].hints
