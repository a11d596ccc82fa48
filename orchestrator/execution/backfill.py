"""Backfills: a range of partitions, split into chunks by each asset's policy, run chunk by chunk.

The backfill and all its chunks are stored before anything runs; each chunk's outcome is committed
when it ends. `run_backfill` on an existing backfill does only the chunks that did not succeed, so a
backfill killed at any moment resumes where it stopped. Chunk writes are idempotent (a partition or
range is overwritten, never appended), so redoing a chunk never duplicates rows.

Chunks, in order: unpartitioned assets upstream of the partitioned ones (once), then each plan step
of the partitioned assets split by its policy, then unpartitioned assets downstream (once). The first
chunk of a step runs alone before the next (no race to create an incremental table).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.definitions import Definitions
from orchestrator.errors import ExecutionError, PartitionError
from orchestrator.execution.materialize import load_dynamic_partitions, select_assets
from orchestrator.execution.plan import plan
from orchestrator.execution.run import execute_plan
from orchestrator.graph import AssetGraph
from orchestrator.io.base import IOManager
from orchestrator.keys import AssetKey
from orchestrator.partitions import PartitionRange, PartitionsDefinition
from orchestrator.storage.backfills import BackfillRecord, BackfillStatus, Chunk, ChunkStatus
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import RunStatus

Progress = Callable[[Chunk, ChunkStatus], None]


def _partitions_of(graph: AssetGraph, keys: tuple[AssetKey, ...]) -> PartitionsDefinition:
    found = {graph.assets[k].partitions for k in keys}
    if len(found) != 1:
        raise PartitionError(f"Assets {', '.join(map(str, keys))} run in one step but have different partitions.")
    return found.pop()


def split_into_chunks(graph: AssetGraph, selected: frozenset[AssetKey], start: str, end: str,
                      range_writers: frozenset[str] = frozenset()) -> list[Chunk]:
    """`range_writers`: names of IO managers that write a range in one commit."""
    executable = {k for k in selected if graph.assets[k].executable}
    partitioned = {k for k in executable if graph.assets[k].partitions is not None}
    if not partitioned:
        raise PartitionError("No partitioned asset is selected: there is nothing to backfill.")
    after = graph.downstream(partitioned) & (executable - partitioned)
    before = executable - partitioned - after
    chunks: list[Chunk] = []

    def add(assets: tuple[AssetKey, ...], keys: list[str] | None) -> None:
        first, last = (keys[0], keys[-1]) if keys else (None, None)
        chunks.append(Chunk(len(chunks), assets, first, last, len(keys or ())))

    if before:
        add(tuple(graph.toposort(before)), None)
    for step in plan(graph, partitioned).steps:
        partitions = _partitions_of(graph, step.assets)
        keys = partitions.keys_between(start, end)
        if not keys:
            raise PartitionError(f"No partition of {', '.join(map(str, step.assets))} lies in {start}...{end}.")
        sizes = [graph.assets[k].effective_backfill_policy(graph.assets[k].io_manager in range_writers)
                 for k in step.assets]
        policy = min(sizes, key=lambda p: p.size or len(keys))
        for part in policy.split(keys):
            add(step.assets, part)
    if after:
        add(tuple(graph.toposort(after)), None)
    return chunks


def create_backfill(defs: Definitions, store: EventStore, selection: str | None, exclude: str | None,
                    start: str, end: str, options: Mapping[str, Any] | None = None) -> BackfillRecord:
    """Plan the chunks and store the backfill (nothing runs yet)."""
    load_dynamic_partitions(defs.graph, store)
    selected = select_assets(defs.graph, selection, exclude)
    range_writers = frozenset(n for n, io in defs.io_managers.items() if getattr(io, "writes_ranges", False))
    chunks = split_into_chunks(defs.graph, selected, start, end, range_writers)
    now = time.time()
    record = BackfillRecord(uuid.uuid4().hex[:12], selection, exclude, start, end, BackfillStatus.REQUESTED,
                            now, now, dict(options or {}))
    store.backfills.create(record, chunks)
    return record


def _overlaps(a: Chunk, b: Chunk) -> bool:
    if a.start is None or b.start is None:
        return True
    return not (a.end < b.start or b.end < a.start)  # keys of one grain sort as dates do


def _blocked_by(chunk: Chunk, failed: list[Chunk], graph: AssetGraph) -> Chunk | None:
    upstream = graph.upstream(chunk.assets)
    for bad in failed:
        if set(bad.assets) & upstream and _overlaps(bad, chunk):
            return bad
    return None


def run_backfill(
    defs: Definitions,
    store: EventStore,
    backfill_id: str,
    *,
    io_managers: Mapping[str, IOManager],
    resources: Mapping[str, Any] | None = None,
    retry_failed: bool = False,
    progress: Progress | None = None,
    max_concurrency: int | None = None,
) -> BackfillRecord:
    """Run the chunks that have not succeeded (and, with retry_failed, those that failed)."""
    backfills = store.backfills
    record = backfills.get(backfill_id)
    if record.status in (BackfillStatus.SUCCEEDED,) and not retry_failed:
        return record
    graph = defs.graph
    todo = {ChunkStatus.PENDING, ChunkStatus.RUNNING, ChunkStatus.CANCELED}
    if retry_failed:
        todo |= {ChunkStatus.FAILED, ChunkStatus.SKIPPED}
    backfills.set_status(record.backfill_id, BackfillStatus.RUNNING)
    failed: list[Chunk] = []
    for chunk in backfills.chunks(record.backfill_id):
        if chunk.status not in todo:
            if chunk.status in (ChunkStatus.FAILED, ChunkStatus.SKIPPED):
                failed.append(chunk)
            continue
        if backfills.get(record.backfill_id).status == BackfillStatus.CANCELING:
            return _cancel_rest(store, record.backfill_id, progress)
        missing = [k for k in chunk.assets if k not in graph]
        if missing:
            raise ExecutionError(f"Backfill {record.backfill_id} needs {missing}, which the definitions no longer have.")
        blocker = _blocked_by(chunk, failed, graph)
        if blocker is not None:
            cause = f"upstream chunk {blocker.seq} ({blocker.range_text or 'unpartitioned'}) failed"
            backfills.update_chunk(record.backfill_id, chunk.seq, ChunkStatus.SKIPPED, error=cause)
            failed.append(chunk)
            _report(progress, chunk, ChunkStatus.SKIPPED)
            continue
        status = _run_chunk(defs, store, record, chunk, io_managers, resources, max_concurrency, progress)
        if status == ChunkStatus.CANCELED:
            return _cancel_rest(store, record.backfill_id, progress)
        if status == ChunkStatus.FAILED:
            failed.append(chunk)
    final = BackfillStatus.FAILED if failed else BackfillStatus.SUCCEEDED
    backfills.set_status(record.backfill_id, final)
    return backfills.get(record.backfill_id)


def _run_chunk(defs: Definitions, store: EventStore, record: BackfillRecord, chunk: Chunk,
               io_managers: Mapping[str, IOManager], resources: Mapping[str, Any] | None,
               max_concurrency: int | None, progress: Progress | None) -> ChunkStatus:
    backfills = store.backfills
    backfills.update_chunk(record.backfill_id, chunk.seq, ChunkStatus.RUNNING)
    _report(progress, chunk, ChunkStatus.RUNNING)
    partition_range = PartitionRange(chunk.start, chunk.end) if chunk.start is not None else None
    partition = str(partition_range) if partition_range is not None else None
    result = execute_plan(
        plan(defs.graph, chunk.assets), store=store, io_managers=io_managers,
        resources={**defs.resources, **(resources or {})}, partition=partition,
        partition_range=partition_range if chunk.partitions > 1 else None,
        selection=record.selection, exclude=record.exclude, max_concurrency=max_concurrency,
        tags={"backfill": record.backfill_id, "chunk": str(chunk.seq)}, launched_by="backfill",
    )
    if result.status == RunStatus.CANCELED:
        status, error = ChunkStatus.CANCELED, "the run was canceled"
    elif result.status == RunStatus.SUCCEEDED:
        status, error = ChunkStatus.SUCCEEDED, None
    else:
        status = ChunkStatus.FAILED
        error = "; ".join(f"{k}: {v}" for k, v in list(result.causes.items())[:3]) or "the run failed"
    backfills.update_chunk(record.backfill_id, chunk.seq, status, run_id=result.run_id, error=error)
    _report(progress, chunk, status)
    return status


def _cancel_rest(store: EventStore, backfill_id: str, progress: Progress | None) -> BackfillRecord:
    for chunk in store.backfills.chunks(backfill_id):
        if chunk.status in (ChunkStatus.PENDING, ChunkStatus.RUNNING):
            store.backfills.update_chunk(backfill_id, chunk.seq, ChunkStatus.CANCELED)
            _report(progress, chunk, ChunkStatus.CANCELED)
    store.backfills.set_status(backfill_id, BackfillStatus.CANCELED)
    return store.backfills.get(backfill_id)


def request_cancel(store: EventStore, backfill_id: str) -> BackfillRecord:
    """Ask a running backfill to stop after its current chunk (a pending one stops at once)."""
    record = store.backfills.get(backfill_id)
    if record.status == BackfillStatus.RUNNING:
        store.backfills.set_status(record.backfill_id, BackfillStatus.CANCELING)
    elif record.status == BackfillStatus.REQUESTED:
        _cancel_rest(store, record.backfill_id, None)
    return store.backfills.get(record.backfill_id)


def _report(progress: Progress | None, chunk: Chunk, status: ChunkStatus) -> None:
    if progress is not None:
        progress(chunk, status)
