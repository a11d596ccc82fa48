"""The process executor: Python steps run in forked worker processes; batch steps (dbt) in threads
of the run's process, which already run their work in subprocesses or a warehouse."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from orchestrator.execution.executors.base import RunScope, StepExecutor, StepPool, refuse_memory_io
from orchestrator.execution.executors.threads import ThreadPool
from orchestrator.execution.plan import Step
from orchestrator.execution.python_step import StepEnv, StepOutcome, run_python_asset
from orchestrator.io.base import IOManager
from orchestrator.keys import AssetKey
from orchestrator.storage.events import Event

# The state a forked worker inherits: set right before the pool forks.
_FORKED_ENV: StepEnv | None = None


def _run_in_forked_process(key: AssetKey) -> tuple[StepOutcome, list[Event]]:
    assert _FORKED_ENV is not None
    events: list[Event] = []
    env = dataclasses.replace(_FORKED_ENV, emit=events.append)
    return run_python_asset(env.graph.assets[key], env), events


class ProcessPool(ThreadPool):
    inline = False

    def __init__(self, scope: RunScope) -> None:
        global _FORKED_ENV
        super().__init__(scope)
        _FORKED_ENV = scope.env
        self.processes = ProcessPoolExecutor(max_workers=self.capacity,
                                             mp_context=multiprocessing.get_context("fork"))

    def submit(self, step: Step, keys: tuple[AssetKey, ...]) -> Future[StepOutcome]:
        if step.runner is not None:
            return super().submit(step, keys)
        outcome: Future[StepOutcome] = Future()

        def deliver(done: Future) -> None:  # the worker's events come back with its outcome
            try:
                result, events = done.result()
            except BaseException as exc:
                outcome.set_exception(exc)
                return
            self.scope.buffer.add_many(events)
            outcome.set_result(result)

        self.processes.submit(_run_in_forked_process, keys[0]).add_done_callback(deliver)
        return outcome

    def close(self, canceled: bool) -> None:
        global _FORKED_ENV
        super().close(canceled)
        self.processes.shutdown(wait=True, cancel_futures=True)
        _FORKED_ENV = None


@dataclass(frozen=True)
class ProcessExecutor(StepExecutor):
    name = "process"

    def validate(self, io_managers: Mapping[str, IOManager]) -> None:
        refuse_memory_io(io_managers, "process", "values written in one process are not seen by another")

    def open(self, scope: RunScope) -> StepPool:
        return ProcessPool(scope)
