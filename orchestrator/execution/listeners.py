"""Run listeners: code outside the core that sees every event of every run (OpenLineage emitters).

An integration registers a factory in the `orchestrator.run_listeners` entry point group:
`factory(graph, io_managers) -> listener | None`, called once per run (None: not configured, e.g.
no OPENLINEAGE_URL). The run calls each listener with every Event as it is appended, from the
thread that produced it; a listener that raises is logged and never fails the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from orchestrator.storage.events import Event

GROUP = "orchestrator.run_listeners"
Listener = Callable[[Event], None]
log = logging.getLogger("orchestrator.listeners")


def run_listeners(graph: Any, io_managers: Mapping[str, Any]) -> list[Listener]:
    """The listeners the installed integrations want for this run."""
    found = []
    for entry in entry_points(group=GROUP):
        try:
            listener = entry.load()(graph, io_managers)
        except Exception:  # a broken integration must not stop runs
            log.exception("run listener %r could not be set up", entry.name)
            continue
        if listener is not None:
            found.append(listener)
    return found


def guarded(listener: Listener) -> Listener:
    """`listener`, with its exceptions logged instead of raised."""

    def call(event: Event) -> None:
        try:
            listener(event)
        except Exception:
            log.exception("run listener %r failed on a %s event", listener, event.type.value)

    return call
