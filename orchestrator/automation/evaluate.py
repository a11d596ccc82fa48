"""One declarative-automation evaluation over the whole graph. Pure: (graph, snapshot) -> decisions.

Assets are evaluated in dependency order, so an asset downstream of one requested in the same
evaluation sees that upstream as updated (not missing, not in progress): `eager()` over a chain
requests the whole chain at once, and the requests become as few runs as possible (one per partition
key), in which a contiguous dbt segment stays one dbt invocation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.automation.conditions import AutomationCondition
from orchestrator.automation.cron import CronSchedule
from orchestrator.automation.staleness import MaterializationInfo, fingerprint, short
from orchestrator.errors import DefinitionError
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.storage.automation import AssetAutomationState

LatestKey = tuple[AssetKey, str | None]


def condition_of(definition: Any) -> AutomationCondition | None:
    """The asset's condition: `@asset(automation=...)`, or dbt's `meta.automation`."""
    if definition.automation is not None:
        return definition.automation
    meta = (definition.config or {}).get("meta") or {}
    spec = meta.get("automation")
    if spec is None:
        return None
    try:
        return AutomationCondition.parse(spec)
    except DefinitionError as exc:
        raise DefinitionError(f"Asset '{definition.key}': {exc}") from None


@dataclass(frozen=True)
class Snapshot:
    """What one evaluation knows: the store's facts at one moment, and the clock."""

    now: float
    latest: Mapping[LatestKey, MaterializationInfo]
    in_progress: frozenset[AssetKey] = frozenset()
    failed_checks: Mapping[AssetKey, list[str]] = field(default_factory=dict)
    states: Mapping[AssetKey, AssetAutomationState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    key: AssetKey
    condition: str
    result: bool
    reasons: tuple[str, ...]
    partition: str | None
    fingerprint: str
    cron_tick: float | None


@dataclass
class Evaluation:
    now: float
    decisions: dict[AssetKey, Decision]
    runs: list[tuple[str | None, tuple[AssetKey, ...]]]
    """(partition key, assets) per run to request, in dependency order."""

    @property
    def requested(self) -> list[AssetKey]:
        return [k for _, keys in self.runs for k in keys]


def target_partition(definition: Any, now: float) -> str | None:
    """The partition a condition on a partitioned asset is about: its newest complete one."""
    if definition.partitions is None:
        return None
    keys = definition.partitions.keys(dt.datetime.fromtimestamp(now, dt.timezone.utc))
    return keys[-1] if keys else None


class LatestIndex:
    """The newest materialization of an asset that covers a partition (exactly, by a range, or by
    an unpartitioned run)."""

    def __init__(self, latest: Mapping[LatestKey, MaterializationInfo]) -> None:
        self._by_asset: dict[AssetKey, dict[str | None, MaterializationInfo]] = {}
        for (key, partition), info in latest.items():
            self._by_asset.setdefault(key, {})[partition] = info

    def get(self, key: AssetKey, partition: str | None) -> MaterializationInfo | None:
        found = self._by_asset.get(key)
        if not found:
            return None
        if partition is None:
            return found.get(None) or max(found.values(), key=lambda i: i.event_id)
        best = found.get(partition)
        for part, info in found.items():
            if part is not None and "..." in part:
                start, _, end = part.partition("...")
                if start <= partition <= end and (best is None or info.event_id > best.event_id):
                    best = info
        whole = found.get(None)
        if whole is not None and (best is None or whole.event_id > best.event_id):
            best = whole
        return best


class _View:
    """The AssetView of one asset in one evaluation."""

    def __init__(self, key: AssetKey, graph: AssetGraph, snapshot: Snapshot, index: LatestIndex,
                 requested: set[AssetKey], partition: str | None) -> None:
        self.key, self.graph, self.snapshot, self.index = key, graph, snapshot, index
        self.requested, self.partition = requested, partition
        self.definition = graph.assets[key]
        self.info = index.get(key, partition)
        self.state = snapshot.states.get(key)
        self.parents = graph.inputs(key)
        self._parent_info = {p: index.get(p, partition if graph.assets[p].partitions else None) for p in self.parents}
        self.now = dt.datetime.fromtimestamp(snapshot.now, dt.timezone.utc)
        self._fingerprint: str | None = None

    def current_fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        inputs = {}
        for parent in self.parents:
            if parent in self.requested:
                inputs[str(parent)] = f"requested@{self.snapshot.now!r}"
            elif self._parent_info[parent] is not None:
                inputs[str(parent)] = self._parent_info[parent].data_version
        return fingerprint(self.definition.code_version, inputs)

    def missing(self) -> bool:
        return self.info is None

    def requested_for_current_inputs(self) -> bool:
        return self.state is not None and self.state.requested_fingerprint == self.current_fingerprint()

    def updated_deps(self) -> list[str]:
        if self.info is None:
            return [str(p) for p in self.parents if p in self.requested]
        found = []
        for parent in self.parents:
            upstream = self._parent_info[parent]
            if parent in self.requested:
                found.append(str(parent))
            elif upstream is None:
                continue
            elif self.info.input_versions is None:
                if upstream.timestamp > self.info.timestamp:
                    found.append(str(parent))
            elif self.info.input_versions.get(str(parent)) != upstream.data_version:
                found.append(str(parent))
        return found

    def missing_deps(self) -> list[str]:
        return [str(p) for p in self.parents if self.graph.assets[p].executable
                and self._parent_info[p] is None and p not in self.requested]

    def in_progress_deps(self) -> list[str]:
        return [str(p) for p in self.parents if p in self.snapshot.in_progress]

    def in_progress(self) -> bool:
        return self.key in self.snapshot.in_progress

    def code_version_change(self) -> str | None:
        current, info = self.definition.code_version, self.info
        if info is None or not current or not info.code_version or info.code_version == current:
            return None
        return f"code version {short(info.code_version)} → {short(current)}"

    def data_version_change(self) -> str | None:
        if self.info is None or self.state is None or self.state.data_version is None:
            return None
        if self.state.data_version == self.info.data_version:
            return None
        return f"data version {short(self.state.data_version)} → {short(self.info.data_version)}"

    def failed_checks(self) -> list[str]:
        return list(self.snapshot.failed_checks.get(self.key, ()))

    def cron_tick_passed(self, cron: CronSchedule) -> dt.datetime | None:
        if self.state is None or self.state.cron_handled_at is None:
            return None  # first sight: ticks count from now
        tick = cron.latest_at_or_before(self.now)
        return tick if tick is not None and tick.timestamp() > self.state.cron_handled_at else None

    def deps_not_updated_since(self, moment: dt.datetime) -> list[str]:
        stamp = moment.timestamp()
        return [str(p) for p in self.parents if self.graph.assets[p].executable and p not in self.requested
                and (self._parent_info[p] is None or self._parent_info[p].timestamp < stamp)]


def evaluate_automation(graph: AssetGraph, snapshot: Snapshot,
                        only: Collection[AssetKey] | None = None) -> Evaluation:
    """Evaluate every asset's condition (or those in `only`) in dependency order."""
    index = LatestIndex(snapshot.latest)
    requested: set[AssetKey] = set()
    decisions: dict[AssetKey, Decision] = {}
    order_of: dict[AssetKey, int] = {}
    crons_of: dict[int, tuple[CronSchedule, ...]] = {}  # conditions are shared by many assets
    for position, key in enumerate(graph.order()):
        definition = graph.assets[key]
        condition = condition_of(definition)
        if condition is None or (only is not None and key not in only):
            continue
        order_of[key] = position
        partition = target_partition(definition, snapshot.now)
        view = _View(key, graph, snapshot, index, requested, partition)
        if not definition.executable:
            verdict_value, reasons = False, ("not executable: another system materializes it",)
        else:
            verdict = condition.evaluate(view)
            verdict_value, reasons = verdict.value, verdict.reasons
        tick = None
        if verdict_value:
            requested.add(key)
            crons = crons_of.get(id(condition))
            if crons is None:
                crons = crons_of[id(condition)] = condition.crons()
            ticks = [c.latest_at_or_before(view.now) for c in crons]
            tick = max((t.timestamp() for t in ticks if t is not None), default=None)
        decisions[key] = Decision(key, condition.describe(), verdict_value, tuple(reasons), partition,
                                  view.current_fingerprint() if verdict_value else "", tick)
    return Evaluation(snapshot.now, decisions, _group_runs(requested, decisions, order_of))


def _group_runs(requested: set[AssetKey], decisions: Mapping[AssetKey, Decision],
                order_of: Mapping[AssetKey, int]) -> list[tuple[str | None, tuple[AssetKey, ...]]]:
    """As few runs as possible: one per partition key; unpartitioned assets join the newest key's run."""
    by_partition: dict[str | None, list[AssetKey]] = {}
    for key in requested:
        by_partition.setdefault(decisions[key].partition, []).append(key)
    partitioned = sorted(k for k in by_partition if k is not None)
    if partitioned and None in by_partition:
        by_partition[partitioned[-1]].extend(by_partition.pop(None))
    return [(part, tuple(sorted(keys, key=order_of.__getitem__))) for part, keys in
            sorted(by_partition.items(), key=lambda item: (item[0] is not None, item[0] or ""))]


def next_states(evaluation: Evaluation, snapshot: Snapshot, index: LatestIndex | None = None,
                run_of: Mapping[AssetKey, str] | None = None) -> list[AssetAutomationState]:
    """The per-asset states to store after the evaluation: only those that changed."""
    index = index or LatestIndex(snapshot.latest)
    run_of = run_of or {}
    changed = []
    for key, decision in evaluation.decisions.items():
        previous = snapshot.states.get(key)
        info = index.get(key, decision.partition)
        state = AssetAutomationState(
            asset_key=key, evaluated_at=snapshot.now, result=decision.result, reasons=decision.reasons,
            requested_at=snapshot.now if decision.result else previous.requested_at if previous else None,
            requested_run_id=run_of.get(key) if decision.result else previous.requested_run_id if previous else None,
            requested_fingerprint=decision.fingerprint if decision.result else
            previous.requested_fingerprint if previous else None,
            cron_handled_at=(decision.cron_tick if decision.result and decision.cron_tick is not None else
                             previous.cron_handled_at if previous and previous.cron_handled_at is not None
                             else snapshot.now),
            data_version=info.data_version if info else None,
        )
        if not state.same_decision(previous):
            changed.append(state)
    return changed
