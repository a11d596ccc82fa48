"""Putting runs on the queue: what the CLI's `runs launch`, the web UI, schedules, sensors, retries
and declarative automation all call. The daemon executes queued runs (`orch daemon`, `orch dev`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Mapping
from typing import Any

from orchestrator.definitions import Definitions
from orchestrator.errors import DefinitionError, ExecutionError, SelectionError, UnknownAssetError, did_you_mean
from orchestrator.execution.materialize import load_dynamic_partitions, select_assets, validate_partition
from orchestrator.keys import AssetKey
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus, new_run_id

LAUNCHERS = ("cli", "api", "ui", "schedule", "sensor", "automation", "backfill", "retry")


def plan_run(
    defs: Definitions,
    store: EventStore,
    *,
    selection: str | None = None,
    exclude: str | None = None,
    partition: str | None = None,
    tags: Mapping[str, str] | None = None,
    launched_by: str = "api",
    asset_keys: Collection[AssetKey] | None = None,
    job: Any = None,
    parent: RunRecord | None = None,
    run_id: str | None = None,
) -> RunRecord:
    """A queued run record, checked against the definitions (not stored): the assets are resolved
    now, so the run executes exactly them even if the selection would match others later."""
    if launched_by not in LAUNCHERS:
        raise ExecutionError(f"launched_by='{launched_by}' is not one of {', '.join(LAUNCHERS)}.")
    graph = defs.graph
    if job is not None:
        selection, exclude = selection or job.selection, exclude if selection else job.exclude
    if asset_keys is None:
        chosen = [k for k in select_assets(graph, selection, exclude) if graph.assets[k].executable]
        if not chosen:
            what = f"'{selection or '*'}'" + (f" excluding '{exclude}'" if exclude else "")
            raise SelectionError(f"Selection {what} matches only assets that another system materializes "
                                 "(sources, AssetSpec); nothing was queued.")
    else:
        unknown = [str(k) for k in asset_keys if k not in graph]
        if unknown:
            raise UnknownAssetError(f"Run of unknown assets {unknown}: they are no longer defined.")
        chosen = list(asset_keys)
    keys = tuple(graph.toposort(chosen))
    load_dynamic_partitions(graph, store)
    partition = validate_partition(graph, keys, partition)
    retries = (job.retries if job is not None else None) or defs.run_retries
    config: dict[str, Any] = {}
    if retries is not None and retries.max_retries:
        config["retries"] = retries.as_config()
    all_tags = {**(job.tags if job is not None else {}), **dict(tags or {})}
    if job is not None:
        all_tags.setdefault("job", job.name)
    now = time.time()
    return RunRecord(
        run_id=run_id or new_run_id(), status=RunStatus.QUEUED, selection=selection, asset_keys=keys,
        partition=partition, started_at=now, tags=all_tags, exclude=exclude, launched_by=launched_by,
        parent_run_id=parent.run_id if parent else None, attempt=1, enqueued_at=now,
        pools=tuple(sorted({graph.assets[k].pool for k in keys if graph.assets[k].pool})), config=config,
    )


def enqueue_run(store: EventStore, defs: Definitions, *, selection: str | None = None,
                exclude: str | None = None, partition: str | None = None,
                tags: Mapping[str, str] | None = None, launched_by: str = "api",
                job: Any = None) -> RunRecord:
    """Queue a run of the selection (or of `job`); returns the queued record."""
    if isinstance(job, str):
        job = _job(defs, job)
    record = plan_run(defs, store, selection=selection, exclude=exclude, partition=partition, tags=tags,
                      launched_by=launched_by, job=job)
    return store.queue.enqueue(record)


def _job(defs: Definitions, name: str) -> Any:
    if name not in defs.jobs:
        raise DefinitionError(f"No job '{name}'.{did_you_mean(name, defs.jobs)} Known jobs: "
                              f"{', '.join(sorted(defs.jobs)) or 'none'}.")
    return defs.jobs[name]


def cancel_run(store: EventStore, run_id: str) -> RunRecord:
    """A queued run is canceled at once; a starting or running one is asked to stop and its process
    stops it (the run ends `canceled`)."""
    record = store.queue.request_cancel(run_id)
    if record.status == RunStatus.CANCELED:
        store.append([Event(record.run_id, EventType.RUN_CANCELED, time.time(),
                            message="canceled while queued", data={"counts": {}})])
    return record


def succeeded_assets(store: EventStore, run: RunRecord) -> set[AssetKey]:
    """The assets a run materialized."""
    return {e.asset_key for e in store.events(run.run_id, types=[EventType.MATERIALIZATION])
            if e.asset_key is not None}


def reexecute_run(store: EventStore, defs: Definitions, run_id: str, *, from_failure: bool = False,
                  launched_by: str = "ui", retry: bool = False,
                  run_key: tuple[str, str] | None = None) -> RunRecord | None:
    """Queue the run again: all its assets, or (`from_failure`) those that did not succeed. With a
    `run_key` used before, nothing is queued (None)."""
    parent = store.get_run(run_id)
    keys = list(parent.asset_keys)
    if from_failure:
        if not parent.status.terminal:
            raise ExecutionError(f"Run '{parent.run_id}' is still {parent.status.value}; re-execute it "
                                 "from failure once it has ended.")
        done = succeeded_assets(store, parent)
        keys = [k for k in keys if k not in done]
        if not keys:
            raise ExecutionError(f"Run '{parent.run_id}' materialized all its assets; nothing to re-execute "
                                 "from failure (re-execute it whole instead).")
    record = plan_run(defs, store, selection=parent.selection, exclude=parent.exclude,
                      partition=parent.partition, tags=parent.tags, launched_by=launched_by,
                      asset_keys=[k for k in keys if k in defs.graph] or keys, parent=parent)
    if retry:
        record = _as_retry(record, parent)
    return store.queue.enqueue(record, run_key)


def _as_retry(record: RunRecord, parent: RunRecord) -> RunRecord:
    return dataclasses.replace(record, attempt=parent.attempt + 1, config={**parent.config, **record.config},
                               tags={**parent.tags, "retry_of": parent.run_id})
