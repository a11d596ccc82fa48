"""RunResources: the resources of one run, each set up when first used and torn down at its end.

A resource with a lifecycle has a `for_run(name)` method returning a context manager (every
ConfigurableResource does): what it yields is what assets receive. Other values are given as they
are. Setup happens once per run, on the first use, under a lock; a setup that fails fails every
asset that needs the resource with the same error, and is not retried within the run.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ExecutionError, ResourceError, did_you_mean

if TYPE_CHECKING:
    from orchestrator.execution.plan import Plan


def has_lifecycle(value: Any) -> bool:
    return callable(getattr(value, "for_run", None)) and not isinstance(value, type)


class RunResources(Mapping[str, Any]):
    """A read-only mapping name -> ready resource; `resources.name` works too."""

    def __init__(self, configured: Mapping[str, Any]) -> None:
        self._configured = dict(configured)
        self._ready: dict[str, Any] = {}
        self._failed: dict[str, BaseException] = {}
        self._entered: list[tuple[str, Any]] = []
        self._lock = threading.RLock()
        self._closed = False

    def __getitem__(self, name: str) -> Any:
        if name in self._ready:
            return self._ready[name]
        if name not in self._configured:
            raise KeyError(name)
        with self._lock:
            if name in self._failed:
                raise self._failed[name]
            if name not in self._ready:
                self._ready[name] = self._open(name, self._configured[name])
        return self._ready[name]

    def _open(self, name: str, value: Any) -> Any:
        if not has_lifecycle(value):
            return value
        if self._closed:
            raise ResourceError(f"Resource '{name}' was asked for after its run ended.")
        try:
            manager = value.for_run(name)
            ready = manager.__enter__()
        except ResourceError as exc:
            self._failed[name] = exc
            raise
        except Exception as exc:
            error = ResourceError(f"Setting up resource '{name}' ({type(value).__name__}) failed: "
                                  f"{type(exc).__name__}: {exc}")
            self._failed[name] = error
            raise error from exc
        self._entered.append((name, manager))
        return ready

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"No resource '{name}'.{did_you_mean(name, self._configured)} "
                f"Resources: {sorted(self._configured)}."
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._configured)

    def __len__(self) -> int:
        return len(self._configured)

    def __contains__(self, name: object) -> bool:
        return name in self._configured

    def __reduce__(self) -> tuple:
        # Sent to another process (a Dask worker): the resources as configured, set up there anew
        # on first use and torn down when that process is done with the run.
        return (RunResources, (self._configured,))

    def open_all(self, names: Iterable[str]) -> None:
        """Set up these resources now (before a process pool forks, so its workers share them)."""
        for name in names:
            self[name]

    def close(self) -> list[str]:
        """Tear down everything set up, last first; returns the errors of teardowns that failed
        (one failing teardown does not skip the others)."""
        with self._lock:
            self._closed = True
            entered, self._entered = self._entered, []
        errors = []
        for name, manager in reversed(entered):
            try:
                manager.__exit__(None, None, None)
            except Exception as exc:
                errors.append(f"teardown of resource '{name}' failed: {type(exc).__name__}: {exc}")
        return errors

    def __enter__(self) -> RunResources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ResourceView(Mapping[str, Any]):
    """Some of a run's resources (its IO managers), set up on first use like the others."""

    def __init__(self, resources: RunResources, names: Iterable[str]) -> None:
        self._resources, self._names = resources, tuple(names)

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        return self._resources[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@contextlib.contextmanager
def opened(name: str, value: Any) -> Iterator[Any]:
    """One resource outside a run (reading a value back after it): set up, then torn down."""
    if not has_lifecycle(value):
        yield value
        return
    with value.for_run(name) as ready:
        yield ready


def used_resources(run_plan: Plan) -> set[str]:
    """What the plan's Python steps use: their resource parameters and the IO managers of their
    assets and their upstream assets."""
    graph = run_plan.source
    used: set[str] = set()
    for step in run_plan.steps:
        if step.runner is None:
            definition = graph.assets[step.assets[0]]
            used.update(definition.resource_parameters)
            used.add(definition.io_manager)
            used.update(graph.assets[d.key].io_manager for d in definition.deps if d.key in graph.assets)
    return used


def check_resources(run_plan: Plan, resources: RunResources) -> None:
    graph = run_plan.source
    missing = sorted(
        (str(key), name) for step in run_plan.steps if step.runner is None for key in step.assets
        for name in graph.assets[key].resource_parameters if name not in resources
    )
    if missing:
        needs = ", ".join(f"'{key}' needs resource '{name}'" for key, name in missing)
        raise ExecutionError(f"Missing resources: {needs}. Give them in Definitions(resources=...) "
                             f"or materialize(..., resources=...). Known: {sorted(resources)}.")
