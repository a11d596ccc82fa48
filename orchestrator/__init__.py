"""orchestrator: a dbt-first lakehouse orchestrator. The public API is exactly `__all__`."""

from orchestrator.assets import (
    AssetCheckDefinition,
    AssetDefinition,
    AssetDep,
    AssetResult,
    AssetSpec,
    CheckResult,
    RetryPolicy,
    asset,
    asset_check,
)
from orchestrator.automation.conditions import AutomationCondition
from orchestrator.automation.freshness import FreshnessPolicy
from orchestrator.automation.jobs import JobDefinition, RunRetryPolicy, define_job
from orchestrator.automation.schedules import ScheduleDefinition
from orchestrator.automation.sensors import (
    RunRequest, SensorContext, SensorDefinition, SkipReason, asset_sensor, run_status_sensor, sensor,
)
from orchestrator.definitions import Definitions, load_definitions
from orchestrator.errors import OrchestratorError
from orchestrator.execution.context import AssetContext, BatchContext, build_context
from orchestrator.execution.materialize import materialize
from orchestrator.execution.plan import Plan, Step, plan
from orchestrator.execution.run import RunResult, execute_plan
from orchestrator.graph import AssetGraph
from orchestrator.hints import ComputeHints
from orchestrator.io.base import InputContext, IOManager, MemoryIOManager, OutputContext
from orchestrator.keys import AssetKey
from orchestrator.lazy import lazy_attributes
from orchestrator.partition_mappings import (
    AllPartitionsMapping,
    IdentityMapping,
    LastPartitionMapping,
    PartitionMapping,
    TimeWindowMapping,
)
from orchestrator.partitions import (
    BackfillPolicy,
    DailyPartitions,
    DynamicPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    PartitionRange,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowPartitions,
    WeeklyPartitions,
)
from orchestrator.selection import resolve
from orchestrator.storage.base import EventStore, MemoryEventStore
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus

__getattr__ = lazy_attributes(__name__, {
    "ConfigurableResource": "orchestrator.resources",  # pydantic: loaded by projects that use it
    "EnvVar": "orchestrator.resources",
    "DuckDBIOManager": "orchestrator.io.duckdb",
    "ParquetIOManager": "orchestrator.io.parquet",
    "open_store": "orchestrator.storage.open",
    "enqueue_run": "orchestrator.launch.queue",
    "cancel_run": "orchestrator.launch.queue",
    "asset_statuses": "orchestrator.automation.status",
    "DaskExecutor": "orchestrator.execution.executors.dask",
})


__all__ = [
    "AllPartitionsMapping",
    "AutomationCondition",
    "FreshnessPolicy",
    "JobDefinition",
    "RunRequest",
    "RunRetryPolicy",
    "ScheduleDefinition",
    "SensorContext",
    "SensorDefinition",
    "SkipReason",
    "asset_sensor",
    "asset_statuses",
    "cancel_run",
    "define_job",
    "enqueue_run",
    "run_status_sensor",
    "sensor",
    "AssetCheckDefinition",
    "AssetContext",
    "AssetDefinition",
    "AssetDep",
    "AssetGraph",
    "AssetKey",
    "AssetResult",
    "AssetSpec",
    "BackfillPolicy",
    "BatchContext",
    "CheckResult",
    "ComputeHints",
    "ConfigurableResource",
    "DailyPartitions",
    "DaskExecutor",
    "DuckDBIOManager",
    "DynamicPartitions",
    "Definitions",
    "EnvVar",
    "Event",
    "EventStore",
    "EventType",
    "HourlyPartitions",
    "IdentityMapping",
    "IOManager",
    "InputContext",
    "LastPartitionMapping",
    "MemoryEventStore",
    "MemoryIOManager",
    "MonthlyPartitions",
    "MultiPartitions",
    "OrchestratorError",
    "OutputContext",
    "ParquetIOManager",
    "PartitionMapping",
    "PartitionRange",
    "PartitionsDefinition",
    "Plan",
    "RetryPolicy",
    "RunRecord",
    "RunResult",
    "RunStatus",
    "StaticPartitions",
    "Step",
    "TimeWindowMapping",
    "TimeWindowPartitions",
    "WeeklyPartitions",
    "asset",
    "asset_check",
    "build_context",
    "execute_plan",
    "load_definitions",
    "materialize",
    "open_store",
    "plan",
    "resolve",
]
