"""The thread executor (the default): steps run in threads of the run's process."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from orchestrator.execution.batch_step import run_batch
from orchestrator.execution.executors.base import RunScope, StepExecutor, StepPool, default_concurrency
from orchestrator.execution.plan import Step
from orchestrator.execution.python_step import StepOutcome, run_python_asset
from orchestrator.keys import AssetKey


class ThreadPool(StepPool):
    inline = True

    def __init__(self, scope: RunScope) -> None:
        self.scope = scope
        self.capacity = default_concurrency(scope.max_concurrency)
        self.threads = ThreadPoolExecutor(max_workers=self.capacity, thread_name_prefix="orch-step")

    def submit(self, step: Step, keys: tuple[AssetKey, ...]) -> Future[StepOutcome]:
        env = self.scope.env
        if step.runner is None:
            return self.threads.submit(run_python_asset, env.graph.assets[keys[0]], env)
        return self.threads.submit(run_batch, step, keys, env, self.scope.cancel)

    def close(self, canceled: bool) -> None:
        self.threads.shutdown(wait=not canceled, cancel_futures=True)


@dataclass(frozen=True)
class ThreadExecutor(StepExecutor):
    name = "thread"

    def open(self, scope: RunScope) -> StepPool:
        return ThreadPool(scope)
