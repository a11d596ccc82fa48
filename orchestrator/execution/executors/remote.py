"""The worker side of a distributed executor: runs a step of a run that another process drives.

A worker process keeps, per run, what the run shipped once (graph, IO managers, resources: the
`RunPayload`) and runs the steps it is handed. Events go straight to the store when the store is
PostgreSQL (every worker can reach it), or are published back to the run's process in batches
(SQLite, memory), which appends them to its own store. Nothing here imports dask: the Dask executor
passes in the function that publishes to its scheduler.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import ExecutionError
from orchestrator.automation.staleness import data_version_of
from orchestrator.execution.batch_step import run_batch
from orchestrator.execution.plan import Step
from orchestrator.execution.python_step import CANCELED, SUCCEEDED, StepEnv, StepOutcome, run_python_asset
from orchestrator.keys import AssetKey
from orchestrator.storage.events import Event, EventType

Publish = Callable[[dict[str, Any]], None]
STREAM_EVERY_SECONDS = 0.25
_KEPT_RUNS = 8  # payloads cached per worker process; a finished run's is dropped at once
ENV_PREFIXES = ("ORCH_", "DBT_")


@dataclass(frozen=True)
class RunPayload:
    """What every step of a run needs on a worker; pickled once per run."""

    env: StepEnv
    """The run's step environment, without its ways to emit events and add partitions."""
    steps: Mapping[str, Step]
    store_url: str | None
    """The event store's URL with its password (None: an in-memory store)."""
    direct: bool
    """Workers append events to the store themselves (PostgreSQL); else they publish them back."""
    return_events: bool
    """Direct mode with a listener: events also come back with each result, to be shown."""
    environ: Mapping[str, str] = field(default_factory=dict)
    """ORCH_* and DBT_* variables of the run's process; a worker's own values win."""


@dataclass(frozen=True)
class StepTask:
    run_id: str
    step_key: str
    keys: tuple[AssetKey, ...]
    attempt: int
    token: str
    """Unique per submission: batches published by this attempt carry it."""
    versions: Mapping[tuple[AssetKey, str | None], str] | None = None
    """Direct mode: the data versions of the step's inputs, to stamp its materializations with."""


@dataclass
class TaskResult:
    outcome: StepOutcome
    events: list[Event]
    """Direct mode with a listener: the events, to be shown (the store has them already)."""
    worker_pid: int
    versions: dict[tuple[AssetKey, str | None], str] = field(default_factory=dict)
    """Direct mode: the data versions of the materializations this attempt stamped."""


class StepInterrupted(BaseException):
    """Raised inside a Python step's thread when its run is canceled."""


def run_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}


def shippable(env: StepEnv) -> StepEnv:
    """`env` without what only works in the run's process (its event buffer, its store)."""
    return dataclasses.replace(env, emit=_nowhere, add_partitions=None, keep_values=False)


class _Outbox:
    """The messages of one task, published in order and together: every STREAM_EVERY_SECONDS while
    it runs, and at once when it ends. The result of a short step of a chain rides along with the
    next batch (the step after it is already running here): no message per step."""

    def __init__(self, publish: Publish) -> None:
        self.publish = publish
        self.lock = threading.Lock()
        self.queued: list[dict[str, Any]] = []

    def put(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.queued.append(message)

    def send(self) -> None:
        with self.lock:  # held while publishing, so batches leave in order
            if self.queued:
                batch, self.queued = self.queued, []
                self.publish(batch[0] if len(batch) == 1 else {"run": batch[0]["run"], "batch": batch})


class _TaskEvents:
    """One attempt's events: published in batches (at least every STREAM_EVERY_SECONDS while it
    runs), or appended to the store by the worker's writer."""

    def __init__(self, run: _WorkerRun, task: StepTask, outbox: _Outbox, worker: str) -> None:
        self.run, self.task, self.outbox, self.worker = run, task, outbox, worker
        self.lock = threading.Lock()
        self.pending: list[Event] = []
        self.shown: list[Event] = []
        self.versions: dict[tuple[AssetKey, str | None], str] = {}
        self.stamper = None
        if run.writer is not None:  # the run's process never sees these events: stamp them here
            from orchestrator.execution.versions import VersionStamper

            self.stamper = VersionStamper.seeded(run.env.graph, dict(task.versions or {}))
        self.batches = 0

    def add(self, event: Event) -> None:
        if self.run.finished:  # the run's process has moved on: nothing more is recorded
            return
        if event.type == EventType.STEP_STARTED:  # where it ran, for `orch runs show` and the UI
            event = dataclasses.replace(event, data={**event.data, "worker": self.worker, "pid": os.getpid(),
                                                     "attempt": self.task.attempt})
        if self.run.writer is not None:
            if event.type == EventType.MATERIALIZATION and event.asset_key is not None:
                event = self.stamper.stamp(event)
                self.versions[(event.asset_key, event.partition)] = data_version_of(
                    event.data, event.run_id, event.timestamp)
            self.run.writer.add(event)
            if self.run.payload.return_events:
                self.shown.append(event)
            return
        with self.lock:
            self.pending.append(event)

    def send(self, result: TaskResult | None = None, last: bool = False) -> None:
        """Queue the pending events; with `result`, the last message of this attempt (even with no
        events): the run's process settles the step from it, with no extra round trip to fetch it.
        `last`: no step of this task runs after it (a chain that stops here drops the rest). The
        outbox is published at once when it is the last, or when a batch of this attempt went
        already (so the run's process, which knows it began, hears at once that it ended); else
        it rides along with the next step's first batch."""
        with self.lock:  # held while queueing, so batches keep their order
            batch, self.pending = self.pending, []
            if not batch and result is None:
                return
            message: dict[str, Any] = {"run": self.task.run_id, "token": self.task.token, "seq": self.batches}
            if batch:
                message["events"] = _dumps_events(batch)
            if result is not None:
                message["result"] = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            if last:
                message["last"] = True
            urgent = last or (result is not None and self.batches > 0)
            self.outbox.put(message)
            self.batches += 1
        if urgent:
            self.outbox.send()

    def finish(self, result: TaskResult, last: bool = True) -> None:
        if self.run.writer is not None:
            self.run.writer.flush()  # in the store before the run's process hears of the result
        self.send(result, last)


def _dumps_events(events: list[Event]) -> bytes:
    try:
        return pickle.dumps(events, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # data JSON can hold but pickle cannot: keep what the store would keep
        from orchestrator.storage.events import dump_json, load_json

        return pickle.dumps([dataclasses.replace(e, data=load_json(dump_json(e.data))) for e in events])


loads = pickle.loads


class _WorkerRun:
    def __init__(self, payload: RunPayload) -> None:
        self.payload = payload
        for name, value in payload.environ.items():
            os.environ.setdefault(name, value)
        self.cancel = threading.Event()
        self.finished = False
        self.lock = threading.Lock()
        self.interruptible: dict[str, int] = {}  # token -> thread id of a running Python step
        self.active: dict[str, _TaskEvents] = {}
        self.store = None
        self.writer = None
        if payload.store_url is not None:
            self.store = _shared_store(payload.store_url)
            if payload.direct:
                self.writer = _shared_writer(payload.store_url, self.store)
        self.env = dataclasses.replace(payload.env, add_partitions=self._add_partitions)

    def _add_partitions(self, name: str, keys: list[str]) -> list[str]:
        if self.store is None:
            raise ExecutionError("context.add_dynamic_partitions() on a Dask worker needs a SQL event store "
                                 "(SQLite on the same machine, or PostgreSQL); this run's store is in memory.")
        return self.store.dynamic_partitions.add(name, keys)


def _nowhere(event: Event) -> None:
    raise AssertionError("a worker step emits through its task's events")


_LOCK = threading.Lock()
_RUNS: OrderedDict[str, _WorkerRun] = OrderedDict()
_CANCELED: set[str] = set()
_STORES: dict[str, Any] = {}
_WRITERS: dict[str, Any] = {}
_FLUSHER: threading.Thread | None = None


def _shared_store(url: str) -> Any:
    from orchestrator.storage.sql import SqlEventStore

    with _LOCK:
        if url not in _STORES:
            _STORES[url] = SqlEventStore(url)
        return _STORES[url]


def _shared_writer(url: str, store: Any) -> Any:
    from orchestrator.storage.writer import EventWriter

    with _LOCK:
        if url not in _WRITERS:
            _WRITERS[url] = EventWriter(store)
        return _WRITERS[url]


def _worker_run(run_id: str, payload: bytes, worker: str) -> _WorkerRun:
    with _LOCK:
        run = _RUNS.get(run_id)
        if run is not None:
            _RUNS.move_to_end(run_id)
            return run
    run = _WorkerRun(_load_payload(payload, worker))
    with _LOCK:
        run = _RUNS.setdefault(run_id, run)
        if run_id in _CANCELED:
            run.cancel.set()
        while len(_RUNS) > _KEPT_RUNS:
            _RUNS.popitem(last=False)
    return run


def _load_payload(payload: bytes, worker: str) -> RunPayload:
    try:
        return pickle.loads(payload)
    except Exception as exc:  # most often a module the definitions import is missing here
        raise ExecutionError(
            f"The worker {worker} cannot load this run's definitions: {type(exc).__name__}: {exc}. Every "
            "module they import must be importable on every worker: install the same package or virtualenv "
            "there, or start the workers with the project on their PYTHONPATH."
        ) from exc


def run_steps(tasks: tuple[StepTask, ...], payload: bytes, publish: Publish,
              worker: str) -> list[TaskResult]:
    """Run steps of one run on this worker (`worker`: its address), in order: one step, or a fused
    linear chain (each step reads the one before it; see fusion.py). The chain stops after a step
    that does not succeed, or when the run is canceled; the last message of the task says so. Returns
    the results of the steps that ran; values stay in the IO managers."""
    run = _worker_run(tasks[0].run_id, payload, worker)
    outbox = _Outbox(publish)
    results: list[TaskResult] = []
    versions: dict[tuple[AssetKey, str | None], str] = {}
    for i, task in enumerate(tasks):
        if versions:  # direct mode: the steps before it in this chain stamped their versions here
            task = dataclasses.replace(task, versions={**(task.versions or {}), **versions})
        result, events = _run_step(run, task, outbox, worker)
        results.append(result)
        versions.update(result.versions)
        last = i == len(tasks) - 1 or run.cancel.is_set() or not succeeded(result.outcome, task.keys)
        events.finish(result, last)
        if last:
            break
    return results


def succeeded(outcome: StepOutcome, keys: tuple[AssetKey, ...]) -> bool:
    """Whether the steps after this one may run: every asset succeeded and no blocking check failed."""
    return not outcome.blocked and all(outcome.statuses.get(k) == SUCCEEDED for k in keys)


def _run_step(run: _WorkerRun, task: StepTask, outbox: _Outbox, worker: str) -> tuple[TaskResult, _TaskEvents]:
    events = _TaskEvents(run, task, outbox, worker)
    env = dataclasses.replace(run.env, emit=events.add)
    step = run.payload.steps[task.step_key]
    with run.lock:
        run.active[task.token] = events
    _ensure_flusher()
    try:
        if run.cancel.is_set():
            outcome = _canceled(env, task, "canceled before it started")
        elif step.runner is not None:
            outcome = run_batch(step, task.keys, env, run.cancel)
        else:
            outcome = _interruptible(run, task, env)
    finally:
        with run.lock:
            run.active.pop(task.token, None)
    outcome.values.clear()
    return TaskResult(outcome, events.shown, os.getpid(), events.versions), events


def _interruptible(run: _WorkerRun, task: StepTask, env: StepEnv) -> StepOutcome:
    """A Python step that a cancel of its run interrupts (StepInterrupted raised in its thread)."""
    me = threading.get_ident()
    try:
        with run.lock:
            run.interruptible[task.token] = me
        outcome = run_python_asset(env.graph.assets[task.keys[0]], env, task.attempt)
    except StepInterrupted:
        outcome = None
    while True:  # no interrupt may land after this step left its body
        try:
            with run.lock:
                run.interruptible.pop(task.token, None)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(me), None)
            break
        except StepInterrupted:
            outcome = None
    return outcome if outcome is not None else _canceled(env, task, "canceled while running")


def _canceled(env: StepEnv, task: StepTask, message: str) -> StepOutcome:
    outcome = StepOutcome()
    for key in task.keys:
        outcome.statuses[key] = CANCELED
        outcome.causes[key] = f"the run was {message}"
        env.event(EventType.STEP_CANCELED, key, message)
    return outcome


def cancel_run(run_id: str) -> int:
    """Cancel a run's steps on this worker: batch runners (dbt) see the run's cancel event, Python
    steps get StepInterrupted raised in their thread. Returns how many steps were interrupted."""
    with _LOCK:
        _CANCELED.add(run_id)
        run = _RUNS.get(run_id)
    if run is None:
        return 0
    run.cancel.set()
    with run.lock:
        for thread_id in run.interruptible.values():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                       ctypes.py_object(StepInterrupted))
        return len(run.interruptible)


def forget_run(run_id: str) -> None:
    """The run is over: drop what this worker kept of it; later events of its steps are dropped."""
    with _LOCK:
        run = _RUNS.pop(run_id, None)
        _CANCELED.discard(run_id)
    if run is not None:
        run.finished = True
        close = getattr(run.env.resources, "close", None)  # the resources this worker set up for it
        if close is not None:
            close()


def _ensure_flusher() -> None:
    global _FLUSHER
    with _LOCK:
        if _FLUSHER is not None and _FLUSHER.is_alive():
            return
        _FLUSHER = threading.Thread(target=_flush_forever, name="orch-worker-events", daemon=True)
        _FLUSHER.start()


def _flush_forever() -> None:
    """Events of long steps reach the run's process while they run, not only at their end."""
    while True:
        time.sleep(STREAM_EVERY_SECONDS)
        with _LOCK:
            runs = list(_RUNS.values())
        for run in runs:
            with run.lock:
                active = list(run.active.values())
            for events in active:
                try:
                    events.send()
                    events.outbox.send()
                except Exception:  # the worker is shutting down; the task's own finish reports
                    pass
