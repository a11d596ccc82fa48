"""Where a run's steps execute: threads (default), forked processes, or a Dask cluster.

`dask` is imported only by `executors/dask.py`, and only when a run asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from orchestrator.errors import ExecutionError, did_you_mean
from orchestrator.execution.executors.base import RunScope, StepExecutor, StepPool
from orchestrator.execution.executors.processes import ProcessExecutor
from orchestrator.execution.executors.threads import ThreadExecutor

EXECUTORS = ("thread", "process", "dask")


def executor_named(name: str | StepExecutor, dask_address: str | None = None) -> StepExecutor:
    """The executor called `name`; `dask` connects to `dask_address` (else $ORCH_DASK_ADDRESS, else a
    LocalCluster for the run)."""
    if isinstance(name, StepExecutor):
        return name
    if name == "thread":
        return ThreadExecutor()
    if name == "process":
        return ProcessExecutor()
    if name == "dask":
        from orchestrator.execution.executors.dask import DaskExecutor

        return DaskExecutor(address=dask_address or os.environ.get("ORCH_DASK_ADDRESS") or None)
    raise ExecutionError(f"Unknown executor '{name}'. Use one of {EXECUTORS}." + did_you_mean(name, EXECUTORS))


def executor_from_env(environ: Mapping[str, str] | None = None) -> StepExecutor:
    """The executor a launched run uses: $ORCH_EXECUTOR (default thread) and $ORCH_DASK_ADDRESS, as the
    daemon sets them from its --executor and --dask-address."""
    environ = os.environ if environ is None else environ
    return executor_named(environ.get("ORCH_EXECUTOR") or "thread", environ.get("ORCH_DASK_ADDRESS") or None)


__all__ = ["EXECUTORS", "ProcessExecutor", "RunScope", "StepExecutor", "StepPool", "ThreadExecutor",
           "executor_from_env", "executor_named"]
