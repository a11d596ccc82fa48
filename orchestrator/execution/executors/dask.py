"""DaskExecutor: each ready step is one task on a Dask cluster. The only module that imports dask.

Without an address a `LocalCluster` starts for the run (one worker process per core, one thread
each); with one, the run's steps go to that scheduler. Values move through the IO managers, never
through Dask's memory: a task returns only its step's outcome. What every step needs (graph, IO
managers, resources) is pickled once per run and replicated to the workers. A contiguous dbt
segment is one step, so one task on one worker (one dbt invocation); a linear chain of Python steps
is one task too (fusion.py), each step in it settled as its own result message arrives.

Events: with a PostgreSQL store every worker appends its steps' events itself; otherwise (SQLite,
memory) workers publish them to the scheduler in batches and this process appends them in order.
Faults: a worker that dies mid-step fails that attempt; the step (with the rest of its chain) is
submitted again, to another worker, while its assets' retry policy allows. Losing the scheduler
fails the run's open steps with a clear error. A cancel interrupts the run's running steps on every worker.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any

import cloudpickle
import dask
from distributed import Client, KilledWorker, LocalCluster, get_worker
from dask.utils import format_bytes
from distributed.system import MEMORY_LIMIT

from orchestrator.errors import ExecutionError
from orchestrator.execution.executors.base import RunScope, StepExecutor, StepPool, refuse_memory_io
from orchestrator.execution.executors.fusion import linear_chains
from orchestrator.execution.executors.inflight import InFlight
from orchestrator.execution.executors.remote import (
    RunPayload, StepTask, TaskResult, cancel_run, forget_run, loads, run_environ, run_steps, shippable,
)
from orchestrator.execution.plan import Step
from orchestrator.execution.python_step import CANCELED, StepOutcome
from orchestrator.hints import needed_resources
from orchestrator.io.base import IOManager
from orchestrator.keys import AssetKey
from orchestrator.storage.events import EventType

TOPIC = "orch-events"
MAX_REQUEUES = 3  # times a step assigned to a worker that died before it began is sent elsewhere
RESULT_WAIT_SECONDS = 2.0  # a finished task's result message is normally there first
RELEASE_EVERY = 500
"""Finished tasks whose keys the cluster forgets together: one release per task as each ends cost
the scheduler and the workers' event loops a message each while other steps ran (run process and
scheduler CPU per 20 ms step 2.56 -> 2.15 ms and 3.15 -> 2.50 ms, medians of 5 paired runs)."""
_BROADCAST_TIMEOUT = 5
LOCAL_CLUSTER_CONFIG = {
    # a worker death fails the attempt at once: the assets' retry policies, not Dask's own count,
    # decide whether it runs again
    "distributed.scheduler.allowed-failures": 0,
    # the statistical profiler, for the dashboard only, takes the GIL from a worker's step every
    # 10 ms: bare 46 ms tasks used 51-52 ms of CPU without it, 55-57 ms with it
    "distributed.worker.profile.enabled": False,
    # the event-loop health check (every 20 ms) and the dashboard's system monitor (every 500 ms)
    # take the GIL from a worker's step too: bare 50 ms tasks, 200 on 2 workers, took 3.4% less
    # wall (median of 8 paired rounds, faster in 6 of 8, twice) with these; memory limits are
    # watched by their own monitor, left as it is
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "5s",
}


@dataclass(frozen=True)
class DaskExecutor(StepExecutor):
    """Run steps on Dask: `address` of a scheduler (tcp://host:8786), or None for a LocalCluster.

    LocalCluster settings: `n_workers` (default: one per core), `threads_per_worker`, and
    `resources` every worker declares besides CPU (its threads) and MEMORY (its memory limit),
    e.g. {"gpu": 1} for assets with `ComputeHints(worker="gpu")`.
    """

    address: str | None = None
    n_workers: int | None = None
    threads_per_worker: int = 1
    resources: Mapping[str, float] = field(default_factory=dict)
    local_directory: str | None = None
    connect_timeout: float = 10.0
    name = "dask"

    def validate(self, io_managers: Mapping[str, IOManager]) -> None:
        refuse_memory_io(io_managers, "dask", "each step runs in a worker process, possibly on another machine")

    def open(self, scope: RunScope) -> StepPool:
        return DaskPool(self, scope)

    def connect(self) -> tuple[Client, LocalCluster | None]:
        """A client of the scheduler at `address`, or of a new LocalCluster (returned, to be closed by
        close_cluster())."""
        if self.address:
            try:
                return Client(self.address, timeout=self.connect_timeout, set_as_default=False), None
            except (OSError, TimeoutError) as exc:
                raise ExecutionError(
                    f"Cannot reach the Dask scheduler at {self.address} (waited {self.connect_timeout:g}s): "
                    f"{exc}. Start one (`dask scheduler`), fix --dask-address / ORCH_DASK_ADDRESS, or leave "
                    "it out to run on a LocalCluster."
                ) from exc
        workers = self.n_workers or _cores()
        memory = MEMORY_LIMIT // workers
        CLUSTER_LOGS.quiet()
        try:
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=self.threads_per_worker, processes=True,
                    memory_limit=memory, dashboard_address=":0", local_directory=self.local_directory,
                    resources={"CPU": self.threads_per_worker, "MEMORY": memory, **self.resources},
                )
            return Client(cluster, set_as_default=False), cluster
        except BaseException:
            CLUSTER_LOGS.restore()
            raise


class _ClusterLogs:
    """While a LocalCluster of ours lives in this process, its scheduler's and nannies' INFO records
    stay out of stderr. LocalCluster means to do that itself (silence_logs=WARN) by lowering the
    stderr handler distributed gives its logger on import; but when another library set up the root
    logger first (dbt imports snowplow_tracker, which calls logging.basicConfig(): so on a run that
    parses a dbt project), distributed adds no handler of its own and its INFO records reach the
    root's. So the distributed logger passes warnings and errors only, until the last such cluster closes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clusters = 0
        self.level = logging.NOTSET

    def quiet(self) -> None:
        logger = logging.getLogger("distributed")
        with self.lock:
            if self.clusters == 0:
                self.level = logger.level
                if logger.getEffectiveLevel() < logging.WARNING:
                    logger.setLevel(logging.WARNING)
            self.clusters += 1

    def restore(self) -> None:
        with self.lock:
            self.clusters -= 1
            if self.clusters == 0:
                logging.getLogger("distributed").setLevel(self.level)


CLUSTER_LOGS = _ClusterLogs()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _dask_task(tasks: tuple[StepTask, ...], payload: bytes) -> list[TaskResult]:
    """The task every step (or fused chain of steps) becomes; runs on a worker."""
    worker = get_worker()
    return run_steps(tasks, payload, lambda message: worker.log_event(TOPIC, message), worker.address)


@dataclass
class _Attempt:
    step: Step
    keys: tuple[AssetKey, ...]
    outcome: Future
    number: int = 1
    token: str = ""
    requeued: int = 0
    payload: Any = None
    """The run's payload on the cluster when this attempt was sent."""


class DaskPool(StepPool):
    def __init__(self, config: DaskExecutor, scope: RunScope) -> None:
        self.scope = scope
        self.run_id = scope.env.run_id
        self.capacity = scope.max_concurrency or 100_000  # the scheduler queues what workers cannot take yet
        self.client, self.cluster = config.connect()
        self.address = self.client.scheduler.address
        self.broken: str | None = None
        self.closed = False
        self._scattering = threading.Lock()
        self._chains = linear_chains(scope.steps, scope.env.graph)
        self._inflight: InFlight[_Attempt] = InFlight()
        self._done: queue.Queue = queue.Queue()
        self._workers: dict[str, Any] = {}
        self._pending: list[list[_Attempt]] = []
        self._ended: list[Any] = []  # futures of finished tasks, released RELEASE_EVERY at a time
        self.direct = False
        try:
            url, direct = _store_address(scope.store)
            payload = RunPayload(shippable(scope.env), {s.key: s for s in scope.steps}, url, direct,
                                 direct and scope.listener is not None, run_environ())
            self.direct = direct
            if direct:  # the run's first events get their ids before any worker appends
                scope.buffer.flush()
            self.client.subscribe_topic(TOPIC, self._on_events)
            self._payload_bytes = _dumps(payload)
            self.payload = self.client.scatter(self._payload_bytes, broadcast=True, hash=False)
        except BaseException:
            self._close_client()
            raise
        threading.Thread(target=self._collect_forever, name="orch-dask-results", daemon=True).start()
        threading.Thread(target=self._watch_cancel, name="orch-dask-cancel", daemon=True).start()

    # -- submitting -------------------------------------------------------------------------------

    def submit(self, step: Step, keys: tuple[AssetKey, ...]) -> Future[StepOutcome]:
        running = self.claim(step)
        if running is not None:  # already running in its chain's task
            return running
        chain = [_Attempt(step, keys, Future())]
        chain += [_Attempt(s, s.assets, Future()) for s in self._chains.get(step.key, ())]
        self._inflight.hold_ahead(chain[1:])
        self._pending.append(chain)  # sent by flush(), all ready steps in one message
        return chain[0].outcome

    def claim(self, step: Step) -> Future[StepOutcome] | None:
        member = self._inflight.claim(step.key)
        return None if member is None else member.outcome

    def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            self._submit(*batch)

    def _submit(self, *chains: list[_Attempt]) -> None:
        """Send tasks: each a step, or a chain of steps run in order on one worker."""
        groups: dict[tuple, list[tuple[list[_Attempt], tuple[StepTask, ...]]]] = {}
        for chain in chains:
            try:
                if self.broken:
                    raise ExecutionError(self.broken)
                resources = self._resources(chain[0])  # a chain's steps have the same hints
            except Exception as exc:
                self._fail(chain, exc)
                continue
            versions = None
            if self.direct and self.scope.stamper is not None:
                keys = tuple(k for a in chain for k in a.keys)
                versions = self.scope.stamper.versions_for(keys, self.scope.env.partition_of)
            for a in chain:
                a.token = f"orch-{_slug(a.step.key)}-{self.run_id[:8]}-{a.number}-{uuid.uuid4().hex[:6]}"
            tasks = tuple(StepTask(self.run_id, a.step.key, a.keys, a.number, a.token, versions) for a in chain)
            groups.setdefault(tuple(sorted(resources.items())), []).append((chain, tasks))
        for resources, group in groups.items():
            try:
                payload = self._payload_now()
                for chain, _ in group:
                    for a in chain:
                        a.payload = payload
                futures = self.client.map(_dask_task, [t for _, t in group], [payload] * len(group),
                                          key=[c[0].token for c, _ in group], pure=False,
                                          resources=dict(resources) or None, retries=0)
            except Exception as exc:
                for chain, _ in group:
                    self._fail(chain, exc)
                continue
            self._inflight.sent((chain, future) for (chain, _), future in zip(group, futures, strict=True))
            for future in futures:
                future.add_done_callback(self._done.put)

    def _payload_now(self) -> Any:
        """The run's payload on the cluster, scattered again if every worker that held it died."""
        with self._scattering:  # not the in-flight lock: the client's event loop takes that one
            if self.payload.status != "finished":
                self.payload = self.client.scatter(self._payload_bytes, broadcast=True, hash=False)
            return self.payload

    def _fail(self, chain: list[_Attempt], error: BaseException) -> None:
        """The chain's first step fails with `error`; the driver skips the steps after it."""
        if not chain[0].outcome.done():
            chain[0].outcome.set_exception(error)
        for attempt in chain[1:]:
            self._drop(attempt)

    def _drop(self, attempt: _Attempt) -> None:
        """A chain step that will not run in this task: the step before it did not succeed (so the
        driver skips it), or its task failed. Should the driver ask for it anyway, it is sent anew."""
        self._inflight.drop(attempt)
        if not attempt.outcome.done():
            attempt.outcome.set_exception(ExecutionError(
                f"Step '{attempt.step.key}' did not run: the step before it in its chain did not succeed."))

    def _resources(self, attempt: _Attempt) -> dict[str, float]:
        """The step's compute hints as Dask resources; a clear error when no worker offers them."""
        wanted = needed_resources(self.scope.env.graph.assets[k].hints for k in attempt.keys)
        if not wanted:
            return wanted
        for refresh in (False, True):
            if refresh or not self._workers:
                self._workers = self.client.scheduler_info(n_workers=-1)["workers"]
            if any(all(w.get("resources", {}).get(k, 0) >= v for k, v in wanted.items())
                   for w in self._workers.values()):
                return wanted
        offered = sorted({_show({k: v}) for w in self._workers.values() for k, v in w.get("resources", {}).items()})
        raise ExecutionError(
            f"Step '{attempt.step.key}' needs {_show(wanted)} (its assets' compute hints), but no worker of the "
            f"Dask cluster at {self.address} offers that (they offer: {', '.join(offered) or 'no resources'}). "
            "Start workers with e.g. `dask worker ADDRESS --resources \"CPU=4,MEMORY=16e9,gpu=1\"`, or "
            "DaskExecutor(resources={...}) for a LocalCluster."
        )

    # -- results ------------------------------------------------------------------------------------

    def _on_events(self, event: tuple[float, dict[str, Any]]) -> None:
        """Messages workers publish, in the order they sent them (on the client's event loop): event
        batches, and last the attempt's result, which settles the step at once. Several messages of
        one task may come as one batch."""
        message = event[1]
        if message.get("run") != self.run_id or self.closed:
            return
        for part in message.get("batch", (message,)):
            self._on_message(part)

    def _on_message(self, message: dict[str, Any]) -> None:
        token = message["token"]
        if "events" in message:
            self.scope.buffer.add_many(loads(message["events"]))
        if "result" not in message:
            self._inflight.begun(token)
            return
        attempt, rest = self._inflight.result_came(token, bool(message.get("last")))
        if attempt is not None:
            self._deliver(attempt, loads(message["result"]))
        for skipped in rest:  # the chain stopped at this step
            self._drop(skipped)

    def _deliver(self, attempt: _Attempt, result: TaskResult) -> None:
        if self.scope.stamper is not None:
            for (key, partition), version in result.versions.items():
                self.scope.stamper.record(key, partition, version)
        if self.scope.listener is not None:
            for shown in result.events:
                self.scope.listener(shown)
        if not attempt.outcome.done():
            attempt.outcome.set_result(result.outcome)

    def _collect_forever(self) -> None:
        while True:
            future = self._done.get()
            if future is None:
                return
            chain, unsettled = self._inflight.task_ended(future)
            try:
                if unsettled:  # else settled by their result messages already
                    self._settle(future, chain, unsettled)
            except BaseException as exc:  # never leave the run waiting on a step
                for attempt in unsettled:
                    if not attempt.outcome.done():
                        attempt.outcome.set_exception(exc)
            finally:
                self._inflight.forget(future, unsettled)
                self._ended.append(future)
                if len(self._ended) >= RELEASE_EVERY:
                    self._ended = []

    def _settle(self, future: Any, chain: Sequence[_Attempt], unsettled: list[_Attempt]) -> None:
        """A task that ended before the result messages of all its steps: failed, its worker died,
        the scheduler was lost, or (rarely) the messages are late."""
        first = unsettled[0]
        if future.status == "finished":
            deadline = time.monotonic() + RESULT_WAIT_SECONDS
            while time.monotonic() < deadline:
                if not self._inflight.unsettled(future):
                    return  # the messages came
                time.sleep(0.01)
            results = future.result()  # of the steps that ran, in order
            waiting = {id(a) for a in unsettled}
            for attempt, result in zip(chain, results):
                if id(attempt) in waiting:
                    self._deliver(attempt, result)
            for attempt in chain[len(results):]:
                self._drop(attempt)
            return
        if (future.status == "cancelled" and self.client.status == "running" and not self.scope.cancel.is_set()
                and first.payload is not None and first.payload.status != "finished"):
            # the run's payload died with every worker holding it (the task's own worker too): the
            # task was dropped, not failed; it goes again (scattered anew) as after a KilledWorker
            self._retry_or_fail(unsettled, None)
            return
        if future.status == "cancelled" or self.client.status not in ("running", "newly-created"):
            if self.scope.cancel.is_set():
                for attempt in unsettled:
                    attempt.outcome.set_result(_canceled(attempt.keys))
                return
            self.broken = self.broken or (
                f"Lost the Dask scheduler at {self.address} while step '{first.step.key}' ran "
                f"({_reason(future)}). The run failed; once the scheduler is back, re-execute it from failure "
                "(only what did not succeed runs again)."
            )
            for attempt in unsettled:
                attempt.outcome.set_exception(ExecutionError(self.broken))
            return
        error = future.exception()
        if isinstance(error, KilledWorker) or _worker_lost(error):
            self._retry_or_fail(unsettled, error)
            return
        self._fail(unsettled, error)

    def _began(self, attempt: _Attempt, worker: str) -> bool:
        """Whether the dead worker had begun the attempt (its STEP_STARTED came back or reached the
        store), or only had it queued."""
        if self._inflight.take_begun(attempt.token):
            return True
        if not self.direct:
            return False
        started = self.scope.store.events(self.run_id, types=[EventType.STEP_STARTED])
        return any(e.step_key == attempt.step.key and e.data.get("worker") == worker
                   and e.data.get("attempt") == attempt.number for e in started)

    def _retry_or_fail(self, unsettled: list[_Attempt], error: BaseException | None) -> None:
        """The worker running a task died (`error`: KilledWorker, or None when the task was dropped
        with the run's payload): its first unfinished step used an attempt if it had begun; the steps
        of its chain after that one had not, and go along with it."""
        attempt, rest = unsettled[0], [replace(a) for a in unsettled[1:]]
        graph = self.scope.env.graph
        policies = [graph.assets[k].retry for k in attempt.keys]
        policy = max(policies, key=lambda p: p.attempts)
        worker = getattr(getattr(error, "last_worker", None), "address", None) or "?"
        began = self._began(attempt, worker)
        if not began and attempt.requeued < MAX_REQUEUES and not self.scope.cancel.is_set():
            # queued on the worker that died, not yet begun: it runs elsewhere, no attempt used
            self._submit([replace(attempt, requeued=attempt.requeued + 1), *rest])
            return
        who = f"The Dask worker {worker}" if worker != "?" else "The Dask worker"
        where = f"{who} running step '{attempt.step.key}' died (attempt {attempt.number}/{policy.attempts})"
        if attempt.number >= policy.attempts or self.scope.cancel.is_set():
            self._fail([attempt, *rest], ExecutionError(
                f"{where}. Give its asset a retry policy (retry=RetryPolicy(attempts=2)) to run it again on "
                "another worker."))
            return
        delay = policy.delay(attempt.number)
        for key in attempt.keys:
            self.scope.env.event(EventType.STEP_RETRY, key, f"{where}; retrying on another worker in {delay:.1f}s",
                                 attempt=attempt.number, worker=worker)
        again = [replace(attempt, number=attempt.number + 1), *rest]
        if delay > 0:
            threading.Timer(delay, self._submit, (again,)).start()
        else:
            self._submit(again)

    # -- cancel and close ---------------------------------------------------------------------------

    def _watch_cancel(self) -> None:
        while not self.closed:
            if self.scope.cancel.wait(0.5) and not self.closed:
                self._broadcast(cancel_run)
                return

    def _broadcast(self, function: Any) -> None:
        if self.broken:
            return
        try:
            self.client.sync(self.client._run, function, self.run_id, on_error="ignore",
                             callback_timeout=_BROADCAST_TIMEOUT)
        except Exception:  # best effort: workers that miss it drop the run when its tasks end
            pass

    def close(self, canceled: bool) -> None:
        self.closed = True
        leftover = self._inflight.futures()
        if leftover and not self.broken:
            with suppress(Exception):
                self.client.cancel(leftover, force=True)
        self._broadcast(forget_run)
        self._done.put(None)
        self._ended = []  # released while the client is still connected
        self._close_client()

    def _close_client(self) -> None:
        with suppress(Exception):
            self.client.unsubscribe_topic(TOPIC)
        with suppress(Exception):
            self.client.close(timeout=5)
        if self.cluster is not None:
            close_cluster(self.cluster)


def close_cluster(cluster: LocalCluster) -> None:
    """Close a LocalCluster that DaskExecutor.connect() started."""
    with suppress(Exception):
        cluster.close(timeout=10)
    CLUSTER_LOGS.restore()


def _store_address(store: Any) -> tuple[str | None, bool]:
    """(URL with password, workers write directly) for SQL stores; (None, False) for memory."""
    url = getattr(store, "url", None)
    if url is None or not hasattr(url, "render_as_string"):
        return None, False
    return url.render_as_string(hide_password=False), url.get_backend_name() == "postgresql"


def _dumps(payload: RunPayload) -> bytes:
    """cloudpickle, with the user's definitions file (loaded by path, so not importable by name on a
    worker) pickled by value; modules it imports must be importable on the workers."""
    for name, module in list(sys.modules.items()):
        if name.startswith("_orch_defs_") and module is not None:
            cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(payload)
    except Exception as exc:
        raise ExecutionError(
            f"Cannot send this run's definitions to Dask workers: {type(exc).__name__}: {exc}. Everything a "
            "step uses (IO managers, resources, asset functions' globals) must be picklable."
        ) from exc


def _canceled(keys: tuple[AssetKey, ...]) -> StepOutcome:
    outcome = StepOutcome()
    for key in keys:
        outcome.statuses[key] = CANCELED
        outcome.causes[key] = "the run was canceled while it ran"
    return outcome


def _worker_lost(error: BaseException | None) -> bool:
    text = f"{type(error).__name__}: {error}"
    return any(s in text for s in ("CommClosedError", "worker died", "lost", "StreamClosedError"))


def _reason(future: Any) -> str:
    try:
        return str(future.exception()) or "connection lost"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip(": ")


def _slug(step_key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", step_key)[:60]


def _show(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={format_bytes(v) if k == 'MEMORY' else f'{v:g}'}" for k, v in resources.items())

