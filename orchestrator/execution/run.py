"""Execute a plan: steps run as soon as their upstream steps finish, events go to the store."""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import ExecutionError
from orchestrator.execution.context import BatchContext
from orchestrator.execution.listeners import guarded, run_listeners
from orchestrator.execution.plan import Plan, Step
from orchestrator.execution.run_resources import (
    ResourceView, RunResources, check_resources, opened, used_resources,
)
from orchestrator.execution.versions import StampingWriter, VersionStamper
from orchestrator.execution.python_step import (
    CANCELED, FAILED, SKIPPED, SUCCEEDED, StepEnv, StepOutcome, _error, run_python_asset,
)
from orchestrator.io.base import IOManager, InputContext, MemoryIOManager
from orchestrator.keys import AssetKey
from orchestrator.partitions import PartitionRange
from orchestrator.storage.base import EventStore
from orchestrator.storage.writer import EventWriter
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, new_run_id

EXECUTORS = ("thread", "process")


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

    def close(self) -> None:
        self._buffer.close()


# The state a forked process-pool worker inherits: set right before the pool forks.
_FORKED_ENV: StepEnv | None = None


def _run_in_forked_process(key: AssetKey) -> tuple[StepOutcome, list[Event]]:
    assert _FORKED_ENV is not None
    events: list[Event] = []
    env = dataclasses.replace(_FORKED_ENV, emit=events.append)
    return run_python_asset(env.graph.assets[key], env), events


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
    executor: str = "thread",
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    keep_values: bool = False,
    cancel: threading.Event | None = None,
    listener: Callable[[Event], None] | None = None,
    queued: RunRecord | None = None,
    launched_by: str | None = None,
) -> RunResult:
    """Run every step of `run_plan`; Ctrl-C (KeyboardInterrupt) cancels the run cleanly.

    `queued`: the record of a run taken from the queue (already marked running), executed under
    its id instead of creating a new run."""
    if executor not in EXECUTORS:
        raise ExecutionError(f"Unknown executor '{executor}'. Use one of {EXECUTORS}.")
    if executor == "process" and any(isinstance(m, MemoryIOManager) for m in io_managers.values()):
        raise ExecutionError("The process executor cannot share in-memory IO managers; use Parquet.")
    # IO managers are resources too; those given for this run win over same-named resources.
    run_resources = RunResources({**(resources or {}), **io_managers})
    check_resources(run_plan, run_resources)
    run_id = queued.run_id if queued is not None else run_id or new_run_id()
    cancel = cancel or threading.Event()
    buffer = EventWriter(store)
    listeners = [guarded(found) for found in run_listeners(run_plan.source, io_managers)]
    if listener is not None or listeners:
        buffer = _Tee(buffer, [*([listener] if listener is not None else []), *listeners])
    buffer = StampingWriter(buffer, VersionStamper(run_plan.source, store, run_plan.asset_keys))
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
    workers = max_concurrency or min(32, (multiprocessing.cpu_count() or 1) + 4)
    try:
        if executor == "process":  # set up before the workers fork, so they share one setup
            run_resources.open_all(used_resources(run_plan))
        _drive(scheduler, env, buffer, cancel, workers, executor, values)
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


def _drive(scheduler: _Scheduler, env: StepEnv, buffer: EventWriter, cancel: threading.Event,
           workers: int, executor: str, values: dict[AssetKey, Any]) -> None:
    global _FORKED_ENV
    threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="orch-step")
    processes: Executor | None = None
    if executor == "process":
        _FORKED_ENV = env
        processes = ProcessPoolExecutor(max_workers=workers,
                                        mp_context=multiprocessing.get_context("fork"))
    running: dict[Future, Step] = {}
    try:
        while (scheduler.ready or running) and not cancel.is_set():
            if processes is None and not running and _run_lone_step_inline(scheduler, env, values):
                continue
            while scheduler.ready and len(running) < workers and not cancel.is_set():
                step = scheduler.steps[scheduler.ready.pop()]
                future = _submit(step, scheduler, env, threads, processes, cancel)
                if future is None:
                    scheduler.finish(step.key)
                else:
                    running[future] = step
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                step = running.pop(future)
                _collect(step, future, scheduler, env, buffer, values)
                scheduler.finish(step.key)
    except KeyboardInterrupt:
        cancel.set()
    finally:
        if cancel.is_set() and running:
            _drain(running, scheduler, env, buffer, values)
        threads.shutdown(wait=not cancel.is_set(), cancel_futures=True)
        if processes is not None:
            processes.shutdown(wait=True, cancel_futures=True)
            _FORKED_ENV = None


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


def _drain(running: dict[Future, Step], scheduler: _Scheduler, env: StepEnv, buffer: EventWriter,
           values: dict[AssetKey, Any]) -> None:
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
                _collect(running.pop(future), future, scheduler, env, buffer, values)
    except KeyboardInterrupt:
        pass
    for step in running.values():
        for key in step.assets:
            _canceled_while_running(scheduler, env, key)
    running.clear()


def _submit(step: Step, scheduler: _Scheduler, env: StepEnv, threads: Executor,
            processes: Executor | None, cancel: threading.Event) -> Future | None:
    if step.runner is None:
        key = step.assets[0]
        cause = scheduler.blocker(key)
        if cause is not None:
            _skip(scheduler, env, key, cause)
            return None
        if processes is not None:
            return processes.submit(_run_in_forked_process, key)
        return threads.submit(run_python_asset, env.graph.assets[key], env)
    runnable = []
    for key in step.assets:  # in plan order, so in-step parents are decided first
        cause = scheduler.blocker(key)  # in-step parents that will run have no status yet
        if cause is not None:
            _skip(scheduler, env, key, cause)
        else:
            runnable.append(key)
    if not runnable:
        return None
    return threads.submit(_run_batch, step, tuple(runnable), env, cancel)


def _skip(scheduler: _Scheduler, env: StepEnv, key: AssetKey, cause: str) -> None:
    scheduler.status[key] = SKIPPED
    scheduler.causes[key] = cause
    env.event(EventType.STEP_SKIPPED, key, f"skipped: {cause}", cause=cause)


def _run_batch(step: Step, keys: tuple[AssetKey, ...], env: StepEnv, cancel: threading.Event) -> StepOutcome:
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


def _collect(step: Step, future: Future, scheduler: _Scheduler, env: StepEnv, buffer: EventWriter,
             values: dict[AssetKey, Any]) -> None:
    try:
        result = future.result()
    except Exception as exc:  # a crash of the machinery, not of the user's function
        for key in step.assets:
            scheduler.status[key] = FAILED
            scheduler.causes[key] = f"step '{step.key}' crashed: {exc}"
        env.emit(Event(env.run_id, EventType.STEP_FAILED, time.time(), step_key=step.key,
                       message=str(exc), data={"error": _error(exc)}))
        return
    if isinstance(result, tuple):  # from a process worker: its events come back with it
        result, events = result
        buffer.add_many(events)
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
