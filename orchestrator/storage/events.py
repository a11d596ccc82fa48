"""The values the event store keeps: events appended by runs, and one record per run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from orchestrator.keys import AssetKey


class EventType(str, Enum):
    RUN_STARTED = "run_started"
    RUN_SUCCEEDED = "run_succeeded"
    RUN_FAILED = "run_failed"
    RUN_CANCELED = "run_canceled"
    STEP_STARTED = "step_started"
    STEP_SUCCEEDED = "step_succeeded"
    STEP_FAILED = "step_failed"
    STEP_SKIPPED = "step_skipped"
    STEP_RETRY = "step_retry"
    STEP_CANCELED = "step_canceled"
    MATERIALIZATION = "materialization"
    CHECK_RESULT = "check_result"
    LOG = "log"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a run; `id` is assigned by the store, increasing in append order."""

    run_id: str
    type: EventType
    timestamp: float
    step_key: str | None = None
    asset_key: AssetKey | None = None
    partition: str | None = None
    message: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


class RunStatus(str, Enum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    status: RunStatus
    selection: str | None
    asset_keys: tuple[AssetKey, ...]
    partition: str | None
    started_at: float
    ended_at: float | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def new_run_id() -> str:
    """A fresh run id: 32 random hex characters, so a short prefix is enough to name a run.

    >>> len(new_run_id())
    32
    """
    return uuid.uuid4().hex


def dump_json(value: Mapping[str, Any]) -> str | None:
    """The stored form of event data and run tags; values JSON cannot hold are kept as their str()."""
    return json.dumps(value, default=str, separators=(",", ":")) if value else None


def load_json(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}
