"""OpenLineageListener: orchestrator run events -> OpenLineage run events, one run per asset.

A Python step starts, materializes and ends one asset; a dbt step starts many (STEP_STARTED names
them), then reports each asset's materialization, test results, failure or skip, then ends. So:
START for each asset when its step starts; the materialization and check results are kept; when
the step ends (or the run, for whatever is left) each asset gets COMPLETE (materialized), FAIL
(failed) or ABORT (skipped or canceled after it started).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from integrations.openlineage.transport import client_from_environment, enabled, namespace
from orchestrator.storage.events import Event, EventType

log = logging.getLogger("orchestrator.openlineage")
COLUMN_LINEAGE_ENV = "ORCH_OPENLINEAGE_COLUMN_LINEAGE"
ENDED = {EventType.STEP_SUCCEEDED, EventType.STEP_FAILED}


def from_environment(graph: Any, io_managers: Mapping[str, Any]) -> OpenLineageListener | None:
    """The `orchestrator.run_listeners` entry point: a listener when OpenLineage is configured."""
    if not enabled():
        return None
    client = client_from_environment()
    return None if client is None else OpenLineageListener(client, graph, io_managers)


@dataclass
class _Asset:
    key: str
    step: str | None
    materialized: Mapping[str, Any] | None = None
    checks: list[Mapping[str, Any]] = field(default_factory=list)
    failure: str | None = None
    skipped: str | None = None


class OpenLineageListener:
    def __init__(self, client: Any, graph: Any, io_managers: Mapping[str, Any] | None = None,
                 ns: str | None = None) -> None:
        self.client = client
        self.graph = graph
        self.io_managers = dict(io_managers or {})
        self.namespace = ns or namespace()
        self.open: dict[str, _Asset] = {}
        self.definitions = {str(k): d for k, d in graph.assets.items()}
        self._lineage: dict[str, Any] | None = None
        self._facets: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenLineageListener({self.namespace!r})"

    def __call__(self, event: Event) -> None:
        with self._lock:  # steps report from their own threads
            self._on(event)

    def _on(self, event: Event) -> None:
        key = str(event.asset_key) if event.asset_key is not None else None
        if event.type == EventType.STEP_STARTED:
            for asset in ([key] if key else event.data.get("assets") or ()):
                self.open[asset] = _Asset(asset, event.step_key)
                self._emit("START", event, self.open[asset])
        elif key is not None and key in self.open and event.type == EventType.MATERIALIZATION:
            self.open[key].materialized = event.data.get("metadata") or {}
        elif key is not None and key in self.open and event.type == EventType.CHECK_RESULT:
            self.open[key].checks.append(event.data)
        elif key is not None and key in self.open and event.type == EventType.STEP_FAILED:
            self.open[key].failure = event.message or "failed"
            if event.step_key == key:  # a Python step: its end
                self._close([key], event)
        elif key is not None and key in self.open and event.type in (EventType.STEP_SKIPPED,
                                                                       EventType.STEP_CANCELED):
            self.open[key].skipped = event.message or event.type.value
        elif event.type in ENDED and key is None:  # a batch step ended
            if event.type == EventType.STEP_FAILED:
                for asset in self.open.values():
                    if asset.step == event.step_key and asset.materialized is None and not asset.skipped:
                        asset.failure = asset.failure or event.message or "the step failed"
            self._close([a for a, s in self.open.items() if s.step == event.step_key], event)
        elif event.type == EventType.STEP_SUCCEEDED and key is not None:
            self._close([key], event)
        elif event.type in (EventType.RUN_SUCCEEDED, EventType.RUN_FAILED, EventType.RUN_CANCELED):
            self._close(list(self.open), event)

    def _close(self, keys: list[str], event: Event) -> None:
        for key in keys:
            asset = self.open.pop(key, None)
            if asset is None:
                continue
            if asset.failure and asset.materialized is None:
                self._emit("FAIL", event, asset)
            elif asset.materialized is not None:
                self._emit("COMPLETE", event, asset)
            else:
                self._emit("ABORT", event, asset)

    # -- events ------------------------------------------------------------------------------------

    def _emit(self, state: str, event: Event, asset: _Asset) -> None:
        from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
        from openlineage.client.generated import error_message_run, parent_run

        run_facets: dict[str, Any] = {"parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=str(uuid.UUID(hex=event.run_id))),
            job=parent_run.Job(namespace=self.namespace, name="orchestrator.run"))}
        if state == "FAIL":
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=asset.failure or "failed", programmingLanguage="python")
        definition = self.definitions.get(asset.key)
        inputs = [InputDataset(namespace=self.namespace, name=str(d.key)) for d in (definition.deps if definition else ())]
        facets = self._output_facets(asset) if state == "COMPLETE" else {}
        run_event = RunEvent(
            eventType=getattr(RunState, state),
            eventTime=dt.datetime.fromtimestamp(event.timestamp, dt.timezone.utc).isoformat(),
            run=Run(runId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"orchestrator:{event.run_id}:{asset.key}")),
                    facets=run_facets),
            job=Job(namespace=self.namespace, name=asset.key),
            inputs=inputs,
            outputs=[OutputDataset(namespace=self.namespace, name=asset.key, facets=facets)],
            producer="https://github.com/orchestrator/orchestrator",
        )
        try:
            self.client.emit(run_event)
        except Exception:  # the lineage backend being down must not fail the run
            log.exception("OpenLineage: could not emit %s for %s", state, asset.key)

    def _output_facets(self, asset: _Asset) -> dict[str, Any]:
        from integrations.openlineage.facets import (
            assertions_facet, column_lineage_facet, recorded_columns, schema_facet,
        )

        lineage = self._column_lineage()
        columns = recorded_columns(asset.materialized or {})
        if not columns and lineage is not None and asset.key in lineage.assets:
            found = lineage.assets[asset.key]
            columns = [(c, found.types.get(c)) for c in found.column_names or ()]
        facets = {"schema": schema_facet(columns),
                  "columnLineage": column_lineage_facet(self._facets.get(asset.key)),
                  "dataQualityAssertions": assertions_facet(asset.checks, self._check_columns(asset.key))}
        return {k: v for k, v in facets.items() if v is not None}

    def _check_columns(self, key: str) -> dict[str, str | None]:
        definition = self.definitions.get(key)
        if definition is None:
            return {}
        return {c.name: c.metadata.get("column_name") for c in self.graph.checks_for(definition.key)}

    def _column_lineage(self) -> Any:
        """The project's column lineage, computed once per run (off with ORCH_OPENLINEAGE_COLUMN_LINEAGE=false)."""
        if self._lineage is None:
            self._lineage = {}
            if os.environ.get(COLUMN_LINEAGE_ENV, "true").strip().lower() != "false":
                try:
                    from integrations.lineage import column_lineage, column_lineage_facets

                    defs = SimpleNamespace(assets=tuple(self.graph.assets.values()), io_managers=self.io_managers)
                    graph = column_lineage(defs, home=os.environ.get("ORCH_HOME"))
                    self._lineage = {"graph": graph}
                    self._facets = column_lineage_facets(graph, namespace=self.namespace)
                except Exception:
                    log.exception("OpenLineage: column lineage could not be computed; events go without it")
        return self._lineage.get("graph")
