"""What a remote pool has sent and not yet settled, under one lock. No I/O, no Dask.

A *task* (keyed by its cluster future's key) runs one attempt, or a fused chain of attempts in
order. Each attempt has a token that names it in the messages its worker sends. An attempt is
settled once: by its result message, or by the pool once the task ended without one (failed, its
worker died). Chain steps after the first are held *ahead* until the driver asks for them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar


class Attempt(Protocol):
    token: str
    step: Any
    outcome: Any


A = TypeVar("A", bound=Attempt)


class InFlight(Generic[A]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[str, tuple[Any, A]] = {}  # token -> (its task's future, attempt)
        self._tasks: dict[str, Sequence[A]] = {}  # a task's key -> its attempts, in order
        self._ahead: dict[str, A] = {}  # step key -> chain step sent before the driver asked for it
        self._begun: set[str] = set()  # tokens whose worker began them (events came back)

    def hold_ahead(self, attempts: Iterable[A]) -> None:
        with self._lock:
            self._ahead.update((a.step.key, a) for a in attempts)

    def claim(self, step_key: str) -> A | None:
        """The attempt of `step_key` already sent in a chain, now asked for (at most once)."""
        with self._lock:
            return self._ahead.pop(step_key, None)

    def sent(self, tasks: Iterable[tuple[Sequence[A], Any]]) -> None:
        """(chain, its task's future) pairs the cluster accepted."""
        with self._lock:
            for chain, future in tasks:
                self._tasks[future.key] = chain
                self._attempts.update((a.token, (future, a)) for a in chain)

    def drop(self, attempt: A) -> None:
        """An attempt that will not run in its task: it is no longer held ahead or in flight."""
        with self._lock:
            held = self._ahead.get(attempt.step.key)
            if held is not None and held.outcome is attempt.outcome:
                del self._ahead[attempt.step.key]
            self._attempts.pop(attempt.token, None)

    def begun(self, token: str) -> None:
        with self._lock:
            self._begun.add(token)

    def take_begun(self, token: str) -> bool:
        """Whether the attempt's worker had begun it (asked once, when that worker died)."""
        with self._lock:
            if token in self._begun:
                self._begun.discard(token)
                return True
            return False

    def result_came(self, token: str, last: bool) -> tuple[A | None, list[A]]:
        """The attempt a result message settles (None if already settled), and, when it was the
        last step its task ran (`last`), the attempts of that task that will now never run."""
        with self._lock:
            self._begun.discard(token)
            future, attempt = self._attempts.pop(token, (None, None))
            rest = self._unsettled(future) if last and future is not None else []
        return attempt, rest

    def task_ended(self, future: Any) -> tuple[Sequence[A], list[A]]:
        """A task whose future is done: all its attempts, and those not settled yet."""
        with self._lock:
            return self._tasks.get(future.key, ()), self._unsettled(future)

    def unsettled(self, future: Any) -> list[A]:
        with self._lock:
            return self._unsettled(future)

    def forget(self, future: Any, attempts: Iterable[A]) -> None:
        with self._lock:
            self._tasks.pop(future.key, None)
            for attempt in attempts:
                self._attempts.pop(attempt.token, None)

    def futures(self) -> list[Any]:
        """One future per task still in flight."""
        with self._lock:
            return list({f.key: f for f, _ in self._attempts.values()}.values())

    def _unsettled(self, future: Any) -> list[A]:
        return [a for a in self._tasks.get(future.key, ()) if self._attempts.get(a.token, (None,))[0] is future]
