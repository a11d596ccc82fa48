"""plan(): order the selected assets into steps. Pure: no I/O, nothing mutated.

Python assets are one step each. Assets whose runner runs many assets in one invocation (dbt)
are grouped. Every asset gets a *level*: the most times a path into it leaves a runner's group
(dbt -> Python, or one dbt project -> another). The assets of one runner that share a level form
ONE step. A path from a group's asset back into the same group at the same level would have to
leave the group, which raises the level: so steps never form a cycle. Python ingest -> dbt ->
Python is three steps with one dbt invocation, and dbt -> Python -> dbt is three steps.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from orchestrator.assets import AssetDefinition
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    kind: str
    assets: tuple[AssetKey, ...]
    upstream: frozenset[str]
    runner: object | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    graph: AssetGraph
    """The selected executable assets, with transitive edges across everything else."""
    source: AssetGraph
    """The whole graph the plan was made from: where unselected upstream assets are found."""

    @property
    def asset_keys(self) -> tuple[AssetKey, ...]:
        return tuple(k for step in self.steps for k in step.assets)


def batches(definition: AssetDefinition) -> bool:
    return definition.runner is not None and getattr(definition.runner, "batches", False)


def plan(graph: AssetGraph, selected: Collection[AssetKey]) -> Plan:
    executable = [k for k in selected if graph.assets[k].executable]
    sub = graph.subgraph(executable)
    order = sub.toposort()
    level: dict[AssetKey, int] = {}
    group_of: dict[AssetKey, tuple] = {}
    for key in order:
        definition = sub.assets[key]
        group = (id(definition.runner), definition.kind) if batches(definition) else None
        if group is not None:
            group_of[key] = group
        level[key] = max(
            (level[p] + (1 if p in group_of and group_of[p] != group else 0) for p in sub.parents(key)),
            default=0,
        )

    steps_by_id: dict[str, list[AssetKey]] = {}
    step_id: dict[AssetKey, str] = {}
    for key in order:
        definition = sub.assets[key]
        if key in group_of:
            sid = f"{definition.kind}[{level[key]}]"
            # Two runners of one kind (two dbt projects) at one stage stay apart.
            while sid in steps_by_id and group_of[steps_by_id[sid][0]] != group_of[key]:
                sid += "'"
        else:
            sid = str(key)
        steps_by_id.setdefault(sid, []).append(key)
        step_id[key] = sid

    steps = []
    for sid, keys in steps_by_id.items():
        upstream = {step_id[p] for k in keys for p in sub.parents(k)} - {sid}
        first = sub.assets[keys[0]]
        steps.append(Step(sid, first.kind, tuple(keys), frozenset(upstream), first.runner))
    return Plan(tuple(steps), sub, graph)
