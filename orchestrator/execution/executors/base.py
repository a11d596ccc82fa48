"""The executor interface: where the steps of a run execute.

An executor (a value: its name and settings) opens a *pool* for one run. The run's driver hands
the pool each ready step and gets a `concurrent.futures.Future` of the step's outcome back; the
pool has delivered the step's events (to the run's buffer or straight to the store) before that
future resolves. Threads, forked processes and a Dask cluster all sit behind this one shape.
"""

from __future__ import annotations

import multiprocessing
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from orchestrator.errors import ExecutionError
from orchestrator.execution.plan import Step
from orchestrator.execution.python_step import StepEnv, StepOutcome
from orchestrator.io.base import IOManager, MemoryIOManager
from orchestrator.keys import AssetKey
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import Event


class EventBuffer(Protocol):
    def add(self, event: Event) -> None: ...
    def add_many(self, events: Iterable[Event]) -> None: ...
    def flush(self) -> None: ...


@dataclass(frozen=True)
class RunScope:
    """What a pool gets for one run."""

    env: StepEnv
    """`env.emit` appends to the run's buffer (the store, and the listener if there is one)."""
    store: EventStore
    buffer: EventBuffer
    """The run's event buffer: events that happened elsewhere (a worker process) are added in order."""
    listener: Callable[[Event], None] | None
    """Shown events only (the CLI's progress), for events a worker already wrote to the store."""
    cancel: threading.Event
    max_concurrency: int | None
    steps: tuple[Step, ...] = ()
    """The plan's steps (a remote executor ships them to its workers once)."""
    stamper: Any = None
    """The run's VersionStamper: workers that write events themselves stamp from its versions."""


class StepPool(ABC):
    """One run's use of an executor."""

    capacity: int
    """Steps in flight at once."""
    inline: bool = False
    """Whether the driver may run a lone Python step in its own thread (no hand-off)."""

    @abstractmethod
    def submit(self, step: Step, keys: tuple[AssetKey, ...]) -> Future[StepOutcome]:
        """Start `step` for `keys` (its assets that are not skipped)."""

    def flush(self) -> None:
        """The driver submitted every step that is ready now: a pool that batches sends them."""

    def claim(self, step: Step) -> Future[StepOutcome] | None:
        """After a cancel, for a ready step the driver will not submit: its outcome when it runs
        already without having been submitted (a later step of a fused chain), else None."""
        return None

    def close(self, canceled: bool) -> None:
        """The run is over; with `canceled`, do not wait for abandoned steps."""


class StepExecutor(ABC):
    name: ClassVar[str]

    def validate(self, io_managers: Mapping[str, IOManager]) -> None:
        """Refuse what cannot work before the run starts (e.g. in-memory values across processes)."""

    @abstractmethod
    def open(self, scope: RunScope) -> StepPool: ...


def default_concurrency(max_concurrency: int | None) -> int:
    return max_concurrency or min(32, (multiprocessing.cpu_count() or 1) + 4)


def refuse_memory_io(io_managers: Mapping[str, IOManager], executor: str, reason: str) -> None:
    shared = [name for name, m in io_managers.items() if isinstance(m, MemoryIOManager)]
    if shared:
        raise ExecutionError(
            f"The {executor} executor cannot share in-memory IO managers ({', '.join(sorted(shared))}): "
            f"{reason}. Use Parquet (materialize(..., home=DIR)) or another IO manager on shared storage."
        )
