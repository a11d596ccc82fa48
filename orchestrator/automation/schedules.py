"""ScheduleDefinition: run a job on a cron schedule. Which ticks are due is a pure function of the
schedule, the last tick it handled, the clock and the catch-up window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.automation.cron import CronSchedule
from orchestrator.automation.jobs import JobDefinition
from orchestrator.errors import DefinitionError
from orchestrator.partitions import MultiPartitions, PartitionsDefinition, TimeWindowPartitions

RUNNING, STOPPED = "running", "stopped"
DEFAULT_CATCHUP = dt.timedelta(hours=1)


@dataclass(frozen=True)
class ScheduleDefinition:
    """Runs `job` at each tick of `cron` in `timezone`.

    A partitioned job's tick requests the partition(s) the tick closes (a daily job ticking at
    02:00 runs yesterday); `partition_fn(tick) -> key or [keys]` decides otherwise. Schedules start
    `stopped` unless `default_status="running"`; `orch schedules start NAME` persists either.

    >>> from orchestrator.automation.jobs import define_job
    >>> ScheduleDefinition(job=define_job("nightly"), cron="0 2 * * *", timezone="Europe/Berlin").name
    'nightly_schedule'
    """

    job: JobDefinition | str
    cron: str
    timezone: str = "UTC"
    name: str = ""
    default_status: str = STOPPED
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    partition_fn: Callable[[dt.datetime], str | list[str]] | None = None
    schedule: CronSchedule = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", CronSchedule(self.cron, self.timezone))
        if not self.name:
            object.__setattr__(self, "name", f"{self.job_name}_schedule")
        if self.default_status not in (RUNNING, STOPPED):
            raise DefinitionError(f"Schedule '{self.name}': default_status is '{self.default_status}'; "
                                  f"use '{RUNNING}' or '{STOPPED}'.")

    @property
    def job_name(self) -> str:
        return self.job if isinstance(self.job, str) else self.job.name

    def due_ticks(self, last_tick_at: float | None, now: float,
                  catchup: dt.timedelta = DEFAULT_CATCHUP) -> tuple[list[dt.datetime], int]:
        """(ticks to run now, ticks missed beyond the catch-up window). A schedule that never
        ticked starts from `now`: turning it on does not replay its past."""
        if last_tick_at is None:
            return [], 0
        start = dt.datetime.fromtimestamp(last_tick_at, dt.timezone.utc)
        end = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        due = self.schedule.between(start, end)
        horizon = end - catchup
        kept = [t for t in due if t >= horizon]
        return kept, len(due) - len(kept)

    def partitions_for(self, tick: dt.datetime, partitions: PartitionsDefinition | None) -> list[str | None]:
        """The partition keys a tick requests: one run each (None: an unpartitioned run)."""
        if self.partition_fn is not None:
            chosen = self.partition_fn(tick)
            return [chosen] if isinstance(chosen, str) else list(chosen)
        if partitions is None:
            return [None]
        window = partitions.time if isinstance(partitions, MultiPartitions) else partitions
        if not isinstance(window, TimeWindowPartitions):
            raise DefinitionError(
                f"Schedule '{self.name}': job '{self.job_name}' has {partitions.describe()} partitions, "
                "which a tick does not choose; give the schedule partition_fn=lambda tick: KEY."
            )
        closed = window.keys(now=tick)
        if not closed:
            return []
        if isinstance(partitions, MultiPartitions):
            return [f"{closed[-1]}{partitions.separator}{v}" for v in partitions.static.keys()]
        return [closed[-1]]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "job": self.job_name, "cron": self.cron, "timezone": self.timezone}
