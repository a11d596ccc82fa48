"""Execute a plan: steps run as soon as their upstream steps finish, events go to the store."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import ExecutionError
from orchestrator.execution.executors import EXECUTORS, RunScope, StepExecutor, StepPool, executor_named
from orchestrator.execution.listeners import guarded, run_listeners
from orchestrator.execution.plan import Plan, Step
from orchestrator.execution.run_resources import (
    ResourceView, RunResources, check_resources, opened, used_resources,
)
from orchestrator.execution.versions import StampingWriter, VersionStamper
from orchestrator.execution.python_step import (
    CANCELED, FAILED, SKIPPED, SUCCEEDED, StepEnv, StepOutcome, _error, run_python_asset,
)
from orchestrator.io.base import IOManager, InputContext
from orchestrator.keys import AssetKey
from orchestrator.partitions import PartitionRange
from orchestrator.storage.base import EventStore
from orchestrator.storage.writer import EventWriter
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, new_run_id

__all__ = ["EXECUTORS", "RunResult", "execute_plan"]


@dataclass
class RunResult:
    """The outcome of one run: a status per asset, the causes of failures, and stored values."""

    run_id: str
    status: RunStatus
    assets: dict[AssetKey, str]
    causes: dict[AssetKey, str]
    io_managers: Mapping[str, IOManager]
    graph: Any
    partition: str | None = None
    values: dict[AssetKey, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status == RunStatus.SUCCEEDED

    def value(self, key: str | AssetKey) -> Any:
        """The value an asset produced in this run, read back through its IO manager."""
        asset_key = AssetKey.coerce(key)
        if asset_key in self.values:
            return self.values[asset_key]
        definition = self.graph.get(asset_key)
        part = self.partition if definition.partitions else None
        context = InputContext(asset_key, part, metadata=definition.metadata,
                               partitions=definition.partitions)
        with opened(definition.io_manager, self.io_managers[definition.io_manager]) as manager:
            return manager.read(context)


class _Scheduler:
    """Tracks which steps are ready, what each asset's outcome is, and why things were skipped."""

    def __init__(self, run_plan: Plan) -> None:
        self.plan = run_plan
        self.steps = {s.key: s for s in run_plan.steps}
        self.waiting = {s.key: set(s.upstream) for s in run_plan.steps}
        self.downstream: dict[str, list[str]] = {s.key: [] for s in run_plan.steps}
        for s in run_plan.steps:
            for up in s.upstream:
                self.downstream[up].append(s.key)
        self.status: dict[AssetKey, str] = {}
        self.causes: dict[AssetKey, str] = {}
        self.blocked: dict[AssetKey, str] = {}
        self.ready = [s.key for s in run_plan.steps if not s.upstream]

    def blocker(self, key: AssetKey) -> str | None:
        """Why `key` cannot run: an upstream asset in this run that failed, was skipped or blocked."""
        for parent in self.plan.graph.parents(key):
            if parent in self.blocked:
                return self.blocked[parent]
            if self.status.get(parent, SUCCEEDED) != SUCCEEDED:
                return self.causes.get(parent, f"upstream '{parent}' {self.status[parent]}")
        return None

    def record(self, outcome: StepOutcome) -> None:
        self.status.update(outcome.statuses)
        self.causes.update(outcome.causes)
        self.blocked.update(outcome.blocked)

    def finish(self, step_key: str) -> None:
        for down in self.downstream[step_key]:
            self.waiting[down].discard(step_key)
            if not self.waiting[down]:
                self.ready.append(down)


class _Tee:
    """An event buffer that also hands each event to listeners (the CLI's progress display, the
    run listeners of integrations)."""

    def __init__(self, buffer: EventWriter, listeners: list[Callable[[Event], None]]) -> None:
        self._buffer, self._listeners = buffer, listeners

    def add(self, event: Event) -> None:
        self._buffer.add(event)
        for listener in self._listeners:
            listener(event)

    def add_many(self, events: list[Event]) -> None:
        for event in events:
            self.add(event)

    def flush(self) -> None:
        self._buffer.flush()

    def close(self) -> None:
        self._buffer.close()


def execute_plan(
    run_plan: Plan,
    *,
    store: EventStore,
    io_managers: Mapping[str, IOManager],
    resources: Mapping[str, Any] | None = None,
    partition: str | None = None,
    partition_range: PartitionRange | None = None,
    selection: str | None = None,
    exclude: str | None = None,
    max_concurrency: int | None = None,
    executor: str | StepExecutor = "thread",
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    keep_values: bool = False,
    cancel: threading.Event | None = None,
    listener: Callable[[Event], None] | None = None,
    queued: RunRecord | None = None,
    launched_by: str | None = None,
) -> RunResult:
    """Run every step of `run_plan`; Ctrl-C (KeyboardInterrupt) cancels the run cleanly.

    `executor` is "thread" (default), "process", "dask" or an executor object such as
    `DaskExecutor(address=...)`. `queued`: the record of a run taken from the queue (already marked
    running), executed under its id instead of creating a new run."""
    step_executor = executor_named(executor)
    step_executor.validate(io_managers)
    # IO managers are resources too; those given for this run win over same-named resources.
    run_resources = RunResources({**(resources or {}), **io_managers})
    check_resources(run_plan, run_resources)
    run_id = queued.run_id if queued is not None else run_id or new_run_id()
    cancel = cancel or threading.Event()
    buffer = EventWriter(store)
    listeners = [guarded(found) for found in run_listeners(run_plan.source, io_managers)]
    if listener is not None or listeners:
        buffer = _Tee(buffer, [*([listener] if listener is not None else []), *listeners])
    stamper = VersionStamper(run_plan.source, store, run_plan.asset_keys)
    buffer = StampingWriter(buffer, stamper)
    env = StepEnv(run_id, run_plan.source, ResourceView(run_resources, io_managers), run_resources,
                  partition, partition_range, buffer.add, keep_values, _previous_schemas(store, run_plan),
                  store.dynamic_partitions.add)
    if queued is None:
        store.create_run(RunRecord(run_id, RunStatus.RUNNING, selection, run_plan.asset_keys, partition,
                                   time.time(), tags=dict(tags or {}), exclude=exclude,
                                   launched_by=launched_by))
    buffer.add(Event(run_id, EventType.RUN_STARTED, time.time(),
                     data={"steps": len(run_plan.steps), "assets": len(run_plan.asset_keys)}))
    scheduler = _Scheduler(run_plan)
    values: dict[AssetKey, Any] = {}
    try:
        if step_executor.name == "process":  # set up before the workers fork, so they share one setup
            run_resources.open_all(used_resources(run_plan))
        pool = _open_pool(step_executor, RunScope(env, store, buffer, listener, cancel, max_concurrency,
                                                  run_plan.steps, stamper), scheduler, env)
        if pool is not None:
            _drive(scheduler, env, cancel, pool, values)
    except KeyboardInterrupt:
        cancel.set()
    finally:
        for problem in run_resources.close():
            buffer.add(Event(run_id, EventType.LOG, time.time(), message=problem, data={"level": "warning"}))
    status = _finish(scheduler, env, buffer, cancel)
    store.finish_run(run_id, status, time.time())
    return RunResult(run_id, status, dict(scheduler.status), dict(scheduler.causes),
                     io_managers, run_plan.source, partition, values)


def _previous_schemas(store: EventStore, run_plan: Plan) -> dict[tuple[AssetKey, str | None], Any]:
    """One query per run: the schema each planned asset's latest materialization recorded."""
    python_keys = [k for s in run_plan.steps if s.runner is None for k in s.assets]
    latest = store.latest_materializations(python_keys) if python_keys else {}
    return {key: event.data.get("metadata", {}).get("schema") for key, event in latest.items()
            if event.data.get("metadata", {}).get("schema")}


def _open_pool(executor: StepExecutor, scope: RunScope, scheduler: _Scheduler, env: StepEnv) -> StepPool | None:
    """The executor's pool for this run; None (every asset failed with the cause) when it cannot
    start, e.g. a Dask scheduler out of reach."""
    try:
        return executor.open(scope)
    except Exception as exc:
        _fail_unstarted(scheduler, env, f"{type(exc).__name__}: {exc}")
        return None


def _fail_unstarted(scheduler: _Scheduler, env: StepEnv, cause: str) -> None:
    for step in scheduler.plan.steps:
        for key in step.assets:
            scheduler.status.setdefault(key, FAILED)
            scheduler.causes.setdefault(key, cause)
    env.emit(Event(env.run_id, EventType.LOG, time.time(), message=cause, data={"level": "error"}))


def _drive(scheduler: _Scheduler, env: StepEnv, cancel: threading.Event,
           pool: StepPool, values: dict[AssetKey, Any]) -> None:
    running: dict[Future, Step] = {}
    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()  # O(1) per step, however many run
    try:
        while (scheduler.ready or running) and not cancel.is_set():
            if pool.inline and not running and _run_lone_step_inline(scheduler, env, values):
                continue
            while scheduler.ready and len(running) < pool.capacity and not cancel.is_set():
                step = scheduler.steps[scheduler.ready.pop()]
                keys = _runnable(step, scheduler, env)
                if keys:
                    future = pool.submit(step, keys)
                    running[future] = step
                    future.add_done_callback(finished.put)
                else:
                    scheduler.finish(step.key)
            pool.flush()
            if not running:
                continue
            done = [finished.get()]
            while not finished.empty():
                done.append(finished.get())
            for future in done:
                step = running.pop(future)
                _collect(step, future, scheduler, env, values)
                scheduler.finish(step.key)
    except KeyboardInterrupt:
        cancel.set()
    finally:
        if cancel.is_set():
            _claim_running(pool, scheduler, running)
            if running:
                _drain(running, scheduler, env, values, pool)
        pool.close(canceled=cancel.is_set())


def _claim_running(pool: StepPool, scheduler: _Scheduler, running: dict[Future, Step]) -> None:
    """After a cancel, ready steps are not submitted, but one may run already in a fused chain on
    the step before it: it is waited for like a submitted one (it says how it was canceled)."""
    unclaimed = []
    for key in scheduler.ready:
        step = scheduler.steps[key]
        blocked = any(scheduler.blocker(k) is not None for k in step.assets)
        future = None if blocked else pool.claim(step)
        if future is None:
            unclaimed.append(key)
        else:
            running[future] = step
    scheduler.ready[:] = unclaimed


PYTHON_GRACE_SECONDS = 2.0
BATCH_GRACE_SECONDS = 60.0


def _run_lone_step_inline(scheduler: _Scheduler, env: StepEnv, values: dict[AssetKey, Any]) -> bool:
    """A chain needs no thread hand-off: when one Python step is all there is to do, run it here."""
    if len(scheduler.ready) != 1 or scheduler.steps[scheduler.ready[0]].runner is not None:
        return False
    step = scheduler.steps[scheduler.ready.pop()]
    key = step.assets[0]
    cause = scheduler.blocker(key)
    if cause is not None:
        _skip(scheduler, env, key, cause)
    else:
        try:
            outcome = run_python_asset(env.graph.assets[key], env)
        except KeyboardInterrupt:  # Ctrl-C inside the function: it had started
            _canceled_while_running(scheduler, env, key)
            raise
        scheduler.record(outcome)
        values.update(outcome.values)
    scheduler.finish(step.key)
    return True


def _canceled_while_running(scheduler: _Scheduler, env: StepEnv, key: AssetKey) -> None:
    scheduler.status.setdefault(key, CANCELED)
    scheduler.causes.setdefault(key, "the run was canceled while it ran")
    env.event(EventType.STEP_CANCELED, key, "canceled while running")


def _drain(running: dict[Future, Step], scheduler: _Scheduler, env: StepEnv,
           values: dict[AssetKey, Any], pool: StepPool) -> None:
    """After a cancel: batch runners (dbt) stop on the cancel event and are waited for; Python
    steps get a short grace and are then abandoned (their writes are atomic, so nothing half-written
    is ever visible). A second Ctrl-C stops waiting at once."""
    start = time.monotonic()
    try:
        while running:
            batch = any(step.runner is not None for step in running.values())
            grace = BATCH_GRACE_SECONDS if batch else PYTHON_GRACE_SECONDS
            done, _ = wait(running, timeout=max(0.0, start + grace - time.monotonic()),
                           return_when=FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                step = running.pop(future)
                _collect(step, future, scheduler, env, values)
                scheduler.finish(step.key)
            _claim_running(pool, scheduler, running)
    except KeyboardInterrupt:
        pass
    for step in running.values():
        for key in step.assets:
            _canceled_while_running(scheduler, env, key)
    running.clear()


def _runnable(step: Step, scheduler: _Scheduler, env: StepEnv) -> tuple[AssetKey, ...]:
    """The assets of `step` that should run; the others are recorded as skipped."""
    runnable = []
    for key in step.assets:  # in plan order, so in-step parents are decided first
        cause = scheduler.blocker(key)  # in-step parents that will run have no status yet
        if cause is not None:
            _skip(scheduler, env, key, cause)
        else:
            runnable.append(key)
    return tuple(runnable)


def _skip(scheduler: _Scheduler, env: StepEnv, key: AssetKey, cause: str) -> None:
    scheduler.status[key] = SKIPPED
    scheduler.causes[key] = cause
    env.event(EventType.STEP_SKIPPED, key, f"skipped: {cause}", cause=cause)


def _collect(step: Step, future: Future, scheduler: _Scheduler, env: StepEnv,
             values: dict[AssetKey, Any]) -> None:
    try:
        result = future.result()
    except Exception as exc:  # the executor's own error (a lost worker), or a crash of the machinery
        cause = str(exc) if isinstance(exc, ExecutionError) else f"step '{step.key}' crashed: {exc}"
        for key in step.assets:
            scheduler.status[key] = FAILED
            scheduler.causes[key] = cause
        env.emit(Event(env.run_id, EventType.STEP_FAILED, time.time(), step_key=step.key,
                       message=str(exc), data={"error": _error(exc)}))
        return
    scheduler.record(result)
    values.update(result.values)


def _finish(scheduler: _Scheduler, env: StepEnv, buffer: EventWriter, cancel: threading.Event) -> RunStatus:
    if cancel.is_set():
        for step in scheduler.plan.steps:
            for key in step.assets:
                if key not in scheduler.status:
                    scheduler.status[key] = CANCELED
                    scheduler.causes[key] = "the run was canceled"
                    env.event(EventType.STEP_CANCELED, key, "canceled before it started")
        status = RunStatus.CANCELED
    elif any(s != SUCCEEDED for s in scheduler.status.values()) or scheduler.blocked:
        status = RunStatus.FAILED
    else:
        status = RunStatus.SUCCEEDED
    event_type = {RunStatus.CANCELED: EventType.RUN_CANCELED, RunStatus.FAILED: EventType.RUN_FAILED,
                  RunStatus.SUCCEEDED: EventType.RUN_SUCCEEDED}[status]
    counts: dict[str, int] = {}
    for s in scheduler.status.values():
        counts[s] = counts.get(s, 0) + 1
    buffer.add(Event(env.run_id, event_type, time.time(), data={"counts": counts}))
    buffer.close()
    return status
