"""RunTally: what a run did, counted from its events as they happen: check outcomes and how long
each step took. A listener of execute_plan; the CLI's materialize summary shows it."""

from __future__ import annotations

import threading
from typing import Any

from orchestrator.storage.events import Event, EventType

_STEP_ENDS = frozenset({EventType.STEP_SUCCEEDED, EventType.STEP_FAILED, EventType.STEP_CANCELED})


class RunTally:
    def __init__(self) -> None:
        self.checks = {"passed": 0, "warned": 0, "failed": 0}
        self.failed_checks: list[str] = []
        self.warned_checks: list[str] = []
        self.step_seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        with self._lock:
            if event.type == EventType.CHECK_RESULT:
                self._check(event)
            elif event.type == EventType.STEP_STARTED and event.step_key:
                self._started.setdefault(event.step_key, event.timestamp)
            elif event.type in _STEP_ENDS and event.step_key in self._started:
                self.step_seconds[event.step_key] = round(event.timestamp - self._started[event.step_key], 3)

    def _check(self, event: Event) -> None:
        name = f"{event.data.get('check')} on {event.asset_key}"
        if not event.data.get("passed"):
            self.checks["failed"] += 1
            self.failed_checks.append(name)
        elif (event.data.get("metadata") or {}).get("status") == "warn":
            self.checks["warned"] += 1
            self.warned_checks.append(name)
        else:
            self.checks["passed"] += 1

    def as_json(self) -> dict[str, Any]:
        """`checks`: counts and the names of those that failed or warned; `steps`: seconds per step,
        slowest first."""
        steps = sorted(self.step_seconds.items(), key=lambda item: -item[1])
        return {"checks": {**self.checks, "failed_checks": self.failed_checks, "warned_checks": self.warned_checks},
                "steps": [{"step": key, "seconds": seconds} for key, seconds in steps]}
