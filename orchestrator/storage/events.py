"""The values the event store keeps: events appended by runs, and one record per run."""

from __future__ import annotations

import json
import uuid

import orjson
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
    """queued -> starting -> running -> succeeded | failed | canceled. A run started in the
    foreground (`orch materialize`, `materialize()`) is running from its first moment."""

    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    STARTED = "running"  # the name before the queue existed: an alias of RUNNING
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @classmethod
    def _missing_(cls, value: object) -> RunStatus | None:
        return cls.RUNNING if value == "started" else None


TERMINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED})
ACTIVE_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.STARTING, RunStatus.RUNNING})


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    status: RunStatus
    selection: str | None
    asset_keys: tuple[AssetKey, ...]
    partition: str | None
    started_at: float
    """When the run started; for a run still queued, when it was enqueued."""
    ended_at: float | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    exclude: str | None = None
    launched_by: str | None = None
    """cli | api | ui | schedule | sensor | automation | backfill | retry"""
    parent_run_id: str | None = None
    """The run this one retries or re-executes."""
    attempt: int = 1
    enqueued_at: float | None = None
    pid: int | None = None
    host: str | None = None
    heartbeat_at: float | None = None
    pools: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    """How to execute it: executor, retry policy, steps to skip (from failure)."""
    cancel_requested_at: float | None = None
    error: str | None = None
    """Why the daemon ended the run (its process died, it could not start)."""
    claimed_by: str | None = None
    """The daemon that launched it."""


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
    return orjson.loads(text) if text else {}
