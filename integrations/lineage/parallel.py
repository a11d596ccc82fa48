"""Analyze many queries: in this process for a few, in worker processes for many.

A task is plain data (SQL, the nested schema of the tables it reads, its own relation, dialect),
so it travels to a worker and back cheaply; each worker parses once, qualifies once and walks.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from integrations.lineage.duck import duckdb_syntax_error
from integrations.lineage.prepare import SqlLineageError, parse
from integrations.lineage.query import analyze
from orchestrator.memory import paused_gc

PARALLEL_THRESHOLD = 32
"""Tasks ready at once that start the worker processes; once started, every task goes to them."""
CHUNK = 8  # tasks per round trip at most: small, so the workers' last chunks end together
AHEAD = 3
"""Chunks handed to the pool per worker at most: enough that none waits for the next, few enough
that waiting for the first to finish is cheap (it watches every chunk handed over)."""


@dataclass(frozen=True, slots=True)
class Task:
    asset: str
    sql: str
    schema: dict[str, Any]
    self_table: str | None
    dialect: str
    functions: dict[str, tuple[str, ...]] | None = None
    exact: frozenset[str] = frozenset()
    """Tables (dotted, as in `schema`) whose column lists are complete: reading another is an error."""


@dataclass(frozen=True, slots=True)
class Outcome:
    asset: str
    columns: dict[str, dict[tuple[str, str], int]] | None
    filters: frozenset[tuple[str, str, str]]
    warnings: tuple[str, ...]
    error: str | None
    starred: bool = True
    """The output columns came from a `*`: they are exact only when what it read is."""


def run_task(task: Task, duckdb_error: Callable[[str], str | None] = duckdb_syntax_error) -> Outcome:
    """One query's lineage; any failure becomes the outcome's error, never an exception. SQL that
    sqlglot parses but DuckDB's own parser rejects (`duckdb_error`) is an error too (DuckDB
    warehouses)."""
    try:
        query = parse(task.sql, task.dialect)
        if task.dialect == "duckdb" and (rejected := duckdb_error(task.sql)) is not None:
            return Outcome(task.asset, None, frozenset(), (), f"the warehouse rejects this SQL (DuckDB: {rejected})")
        found = analyze(query, task.schema, task.dialect, task.self_table, dbt=True,
                        sql=task.sql, functions=task.functions, exact=task.exact)
    except SqlLineageError as exc:
        return Outcome(task.asset, None, frozenset(), (), str(exc))
    except Exception as exc:  # a bug or an unexpected tree must not stop the other models
        return Outcome(task.asset, None, frozenset(), (), f"{type(exc).__name__}: {exc}")
    return Outcome(task.asset, found.columns, frozenset(found.filters), tuple(found.warnings), None, found.starred)


def process_context() -> Any:
    """fork where it is cheap (what is imported stays imported) and safe (this process runs no
    other thread); otherwise clean interpreters."""
    method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
    return multiprocessing.get_context(method)


def _start_worker() -> None:
    """What the parent built is not the worker's garbage: frozen, the collector never walks it
    (a parent may fork with collection paused: a worker collects)."""
    gc.freeze()
    gc.enable()


def _run_chunk(tasks: Sequence[Task]) -> list[Outcome]:
    """A chunk of tasks (in a worker, or here). DuckDB's parser checks the whole chunk first: run
    between sqlglot's passes, its code and data were out of the CPU cache each time (~8% more CPU
    per query). sqlglot trees are cyclic (parent links), so only the collector frees them: one
    young-generation pass right after each query, while its garbage is still in the CPU cache
    (~10% less CPU than one pass per chunk of 8, which was ~15% less than the automatic passes)."""
    rejected = {t.sql: duckdb_syntax_error(t.sql) for t in tasks if t.dialect == "duckdb"}
    outcomes = []
    with paused_gc():
        for task in tasks:
            outcomes.append(run_task(task, rejected.get))
            gc.collect(0)
    return outcomes


class Runner:
    """Runs tasks as they become ready: `start()` hands some over, `results()` waits for some to
    finish. A few run here; a batch big enough starts worker processes, which then take every
    task. A child's task can start as soon as its parents' results are in, so the workers never
    wait for a whole level of the graph to drain."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: Executor | None = None
        self._waiting: list[Task] = []
        self._running: set[Future[list[Outcome]]] = set()
        self._finished: list[Outcome] = []

    @property
    def busy(self) -> bool:
        """Whether some started task's outcome has not been handed out by `results()` yet."""
        return bool(self._waiting or self._running or self._finished)

    def start(self, tasks: Sequence[Task]) -> None:
        if self._pool is None and (self.workers <= 1 or len(tasks) < max(PARALLEL_THRESHOLD, 2)):
            for first in range(0, len(tasks), CHUNK):  # in chunks here too: the collector may be paused
                self._finished += _run_chunk(tasks[first : first + CHUNK])
            return
        self._waiting += tasks
        self._dispatch()

    def results(self) -> list[Outcome]:
        """Outcomes of finished tasks, waiting for at least one when none is finished yet."""
        if not self._finished and self._running:
            done, self._running = wait(self._running, return_when=FIRST_COMPLETED)
            for future in done:
                self._finished += future.result()
            self._dispatch()
        finished, self._finished = self._finished, []
        return finished

    def _dispatch(self) -> None:
        """Full chunks go while the pool has fewer than AHEAD per worker; the rest only to keep an
        idle worker busy (else it waits for more tasks to fill a chunk)."""
        pool = self._executor()
        while len(self._waiting) >= CHUNK and len(self._running) < AHEAD * self.workers:
            self._running.add(pool.submit(_run_chunk, self._waiting[:CHUNK]))
            del self._waiting[:CHUNK]
        idle = self.workers - len(self._running)
        if self._waiting and idle > 0:
            size = -(-len(self._waiting) // idle)
            for first in range(0, len(self._waiting), size):
                self._running.add(pool.submit(_run_chunk, self._waiting[first : first + size]))
            self._waiting = []

    def _executor(self) -> Executor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=process_context(), initializer=_start_worker)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
