"""Run one batch step: a runner (dbt) builds several assets in ONE invocation and reports each."""

from __future__ import annotations

import threading
import time

from orchestrator.execution.context import BatchContext
from orchestrator.execution.plan import Step
from orchestrator.execution.python_step import (
    CANCELED, FAILED, SKIPPED, SUCCEEDED, StepEnv, StepOutcome, _error,
)
from orchestrator.keys import AssetKey
from orchestrator.storage.events import Event, EventType


def run_batch(step: Step, keys: tuple[AssetKey, ...], env: StepEnv, cancel: threading.Event) -> StepOutcome:
    outcome = StepOutcome()
    lock = threading.Lock()

    def report(key: AssetKey, status: str, cause: str | None) -> None:
        with lock:
            if status == "blocked":
                outcome.blocked[key] = cause or f"a blocking check on '{key}' failed"
                return
            outcome.statuses[key] = status
            if cause:
                outcome.causes[key] = cause
            if status in (FAILED, SKIPPED, CANCELED):
                env.event(_STATUS_EVENTS[status], key, cause)

    context = BatchContext(env.run_id, step.key, keys, env.partition, env.partition_range, cancel,
                           env.emit, report, env.resources)
    started = time.time()
    env.emit(Event(env.run_id, EventType.STEP_STARTED, started, step_key=step.key,
                   partition=env.partition, data={"assets": [str(k) for k in keys]}))
    try:
        step.runner.run(context)
    except Exception as exc:
        for key in keys:
            if key not in outcome.statuses:
                report(key, FAILED, f"step '{step.key}' failed: {type(exc).__name__}: {exc}")
        env.emit(Event(env.run_id, EventType.STEP_FAILED, time.time(), step_key=step.key,
                       message=str(exc), data={"error": _error(exc)}))
        return outcome
    for key in keys:
        if key not in outcome.statuses:
            report(key, CANCELED if cancel.is_set() else FAILED,
                   "canceled while running" if cancel.is_set()
                   else f"step '{step.key}' reported no result for '{key}'")
    done = sum(1 for k in keys if outcome.statuses[k] == SUCCEEDED)
    if cancel.is_set() and done < len(keys):
        end, message = EventType.STEP_CANCELED, f"canceled while running ({done} of {len(keys)} assets done)"
    elif done < len(keys):
        end, message = EventType.STEP_FAILED, f"{len(keys) - done} of {len(keys)} assets did not succeed"
    else:
        end, message = EventType.STEP_SUCCEEDED, None
    env.emit(Event(env.run_id, end, time.time(), step_key=step.key, message=message,
                   data={"seconds": time.time() - started}))
    return outcome


_STATUS_EVENTS = {FAILED: EventType.STEP_FAILED, SKIPPED: EventType.STEP_SKIPPED, CANCELED: EventType.STEP_CANCELED}
