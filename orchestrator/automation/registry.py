"""The jobs, schedules and sensors of a Definitions, checked for names that clash or point nowhere."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestrator.automation.jobs import JobDefinition
from orchestrator.automation.schedules import ScheduleDefinition
from orchestrator.automation.sensors import SensorDefinition
from orchestrator.errors import DefinitionError, did_you_mean


def _unique(kind: str, items: Iterable[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        if item.name in found and found[item.name] != item:
            raise DefinitionError(f"Two {kind}s are named '{item.name}'; give one another name.")
        found[item.name] = item
    return found


def _typed(kind: str, cls: type, items: Iterable[Any]) -> list[Any]:
    items = list(items)
    for item in items:
        if not isinstance(item, cls):
            raise DefinitionError(f"Definitions({kind}s=...) got a {type(item).__name__} ({item!r}); "
                                  f"expected a {cls.__name__}.")
    return items


def automation_registry(
    jobs: Iterable[Any], schedules: Iterable[Any], sensors: Iterable[Any]
) -> tuple[dict[str, JobDefinition], dict[str, ScheduleDefinition], dict[str, SensorDefinition]]:
    """(jobs, schedules, sensors) by name. A job object a schedule or sensor names joins the jobs;
    a job named by a string must be among them."""
    job_list = _typed("job", JobDefinition, jobs)
    schedule_list = _typed("schedule", ScheduleDefinition, schedules)
    sensor_list = _typed("sensor", SensorDefinition, sensors)
    referenced = [t.job for t in (*schedule_list, *sensor_list) if isinstance(t.job, JobDefinition)]
    by_name = _unique("job", [*job_list, *referenced])
    for trigger in (*schedule_list, *sensor_list):
        if isinstance(trigger.job, str) and trigger.job not in by_name:
            kind = "Schedule" if isinstance(trigger, ScheduleDefinition) else "Sensor"
            raise DefinitionError(f"{kind} '{trigger.name}' names job '{trigger.job}', which is not "
                                  f"defined.{did_you_mean(trigger.job, by_name)} Known jobs: "
                                  f"{', '.join(sorted(by_name)) or 'none'}.")
    schedules_by_name = _unique("schedule", schedule_list)
    sensors_by_name = _unique("sensor", sensor_list)
    clash = set(schedules_by_name) & set(sensors_by_name)
    if clash:
        raise DefinitionError(f"'{sorted(clash)[0]}' names both a schedule and a sensor; names are shared.")
    return by_name, schedules_by_name, sensors_by_name
