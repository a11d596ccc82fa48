"""Evaluate dbt source freshness checks and record them as a run of check results.

    run = check_freshness(defs, store)          # every `freshness` check of the definitions
    run.results["shop/orders"].passed

The checks are grouped by dbt runner, so each project's sources are ONE `dbt source freshness`.
The results are events of a run (tagged `orch/kind=freshness`), so `orch runs show` lists them
and the checks' latest results are read like any other check's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from integrations.dbt.checks import FRESHNESS_KIND
from orchestrator.assets import AssetCheckDefinition, CheckResult
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, new_run_id


@dataclass(frozen=True)
class FreshnessRun:
    run_id: str
    status: RunStatus
    results: dict[str, CheckResult]
    """asset key -> its freshness check's result."""


def freshness_checks_of(checks: Iterable[AssetCheckDefinition], keys: set[str] | None = None
                        ) -> list[AssetCheckDefinition]:
    return [c for c in checks if c.kind == FRESHNESS_KIND and (keys is None or str(c.asset) in keys)]


def check_freshness(defs: Any, store: Any, keys: set[str] | None = None) -> FreshnessRun:
    """Run the freshness checks of `defs` (of the assets in `keys`, default all); record them."""
    checks = freshness_checks_of(defs.checks, keys)
    run_id = new_run_id()
    started = time.time()
    assets = tuple(dict.fromkeys(c.asset for c in checks))
    store.create_run(RunRecord(run_id, RunStatus.STARTED, "freshness", assets, None, started,
                               tags={"orch/kind": "freshness"}))
    by_runner: dict[int, list[AssetCheckDefinition]] = {}
    for check in checks:
        by_runner.setdefault(id(check.fn.runner), []).append(check)
    results: dict[str, CheckResult] = {}
    events = [Event(run_id, EventType.RUN_STARTED, started, data={"checks": len(checks)})]
    for group in by_runner.values():
        found = group[0].fn.runner.freshness([c.fn.selector for c in group])
        for check in group:
            result = found[check.fn.selector]
            results[str(check.asset)] = result
            events.append(Event(run_id, EventType.CHECK_RESULT, time.time(), step_key="freshness",
                                asset_key=check.asset,
                                message=None if result.passed else f"check '{check.name}' failed",
                                data={"check": check.name, "passed": result.passed, "blocking": check.blocking,
                                      "metadata": dict(result.metadata)}))
    status = RunStatus.SUCCEEDED if all(r.passed for r in results.values()) else RunStatus.FAILED
    ended = time.time()
    events.append(Event(run_id, EventType.RUN_SUCCEEDED if status == RunStatus.SUCCEEDED else EventType.RUN_FAILED,
                        ended, data={"checks": len(checks)}))
    store.append(events)
    store.finish_run(run_id, status, ended)
    return FreshnessRun(run_id, status, results)
