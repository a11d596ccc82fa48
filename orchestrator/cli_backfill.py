"""`orch backfill ...` and `orch partitions ...`: ranges of partitions, durable and resumable."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from orchestrator import render
from orchestrator.cli_options import emit, exclude_option, json_option, select_option
from orchestrator.errors import PartitionError, SelectionError, did_you_mean
from orchestrator.execution.backfill import create_backfill, request_cancel, run_backfill
from orchestrator.execution.materialize import load_dynamic_partitions
from orchestrator.execution.partition_status import summary
from orchestrator.partitions import DynamicPartitions
from orchestrator.selection import resolve
from orchestrator.storage.backfills import BackfillRecord, BackfillStatus, Chunk

EXIT_FAILED, EXIT_CANCELED = 1, 130


def _record_json(record: BackfillRecord, chunks: list[Chunk]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[chunk.status.value] = counts.get(chunk.status.value, 0) + 1
    return {
        "backfill_id": record.backfill_id, "status": record.status.value, "selection": record.selection,
        "exclude": record.exclude, "from": record.start, "to": record.end,
        "chunks": len(chunks), "chunk_counts": counts,
        "partitions": sum(c.partitions for c in chunks),
    }


def _chunk_json(chunk: Chunk) -> dict[str, Any]:
    return {"seq": chunk.seq, "assets": [str(k) for k in chunk.assets], "range": chunk.range_text,
            "partitions": chunk.partitions, "status": chunk.status.value, "run_id": chunk.run_id,
            "error": chunk.error}


def _run(ws: Any, backfill_id: str, retry_failed: bool, as_json: bool) -> None:
    record = ws.store.backfills.get(backfill_id)
    chunks = ws.store.backfills.chunks(record.backfill_id)
    with render.ChunkProgress(chunks, enabled=not as_json) as progress:
        done = run_backfill(ws.defs, ws.store, record.backfill_id, io_managers=ws.io_managers(),
                            retry_failed=retry_failed, progress=progress.on_chunk)
    _finish(ws, done, as_json)


def _finish(ws: Any, record: BackfillRecord, as_json: bool) -> None:
    chunks = ws.store.backfills.chunks(record.backfill_id)
    data = _record_json(record, chunks)
    emit(data, as_json, lambda d: render.backfill_summary(d, [_chunk_json(c) for c in chunks if c.error]))
    if record.status == BackfillStatus.CANCELED:
        sys.exit(EXIT_CANCELED)
    sys.exit(0 if record.status == BackfillStatus.SUCCEEDED else EXIT_FAILED)


@click.group(invoke_without_command=True)
@select_option
@exclude_option
@click.option("--from", "start", default=None, help="First partition key (included).")
@click.option("--to", "end", default=None, help="Last partition key (included).")
@json_option
@click.pass_context
def backfill(ctx: click.Context, selection: str | None, exclude: str | None, start: str | None,
             end: str | None, as_json: bool) -> None:
    """Backfill the selected assets from --from to --to (both included)."""
    if ctx.invoked_subcommand is not None:
        return
    if not start or not end:
        raise click.UsageError("A backfill needs --from and --to (partition keys, both included).")
    ws = ctx.obj
    record = create_backfill(ws.defs, ws.store, selection, exclude, start, end,
                             options={"defs": ws.defs_target})
    if not as_json:
        chunks = ws.store.backfills.chunks(record.backfill_id)
        render.console.print(f"Backfill {record.backfill_id}: {len(chunks)} chunks, "
                             f"{sum(c.partitions for c in chunks)} partition runs; resume with "
                             f"`orch backfill resume {record.backfill_id}`", markup=False)
    _run(ws, record.backfill_id, False, as_json)


@backfill.command("list")
@click.option("--limit", type=int, default=20)
@json_option
@click.pass_obj
def backfill_list(ws: Any, limit: int, as_json: bool) -> None:
    """Recent backfills, newest first."""
    rows = [_record_json(b, ws.store.backfills.chunks(b.backfill_id)) for b in ws.store.backfills.list(limit)]
    emit(rows, as_json, render.backfills_table)


@backfill.command("show")
@click.argument("backfill_id")
@json_option
@click.pass_obj
def backfill_show(ws: Any, backfill_id: str, as_json: bool) -> None:
    """One backfill and its chunks."""
    record = ws.store.backfills.get(backfill_id)
    chunks = ws.store.backfills.chunks(record.backfill_id)
    data = {**_record_json(record, chunks), "chunk_list": [_chunk_json(c) for c in chunks]}
    emit(data, as_json, lambda d: render.backfill_summary(d, d["chunk_list"]))


@backfill.command("resume")
@click.argument("backfill_id")
@json_option
@click.pass_obj
def backfill_resume(ws: Any, backfill_id: str, as_json: bool) -> None:
    """Run the chunks that have not succeeded (after a crash, a kill or a cancel)."""
    _run(ws, backfill_id, False, as_json)


@backfill.command("retry")
@click.argument("backfill_id")
@json_option
@click.pass_obj
def backfill_retry(ws: Any, backfill_id: str, as_json: bool) -> None:
    """Re-run only the failed partitions (and what they skipped)."""
    _run(ws, backfill_id, True, as_json)


@backfill.command("cancel")
@click.argument("backfill_id")
@click.pass_obj
def backfill_cancel(ws: Any, backfill_id: str) -> None:
    """Stop a backfill after its current chunk."""
    record = request_cancel(ws.store, backfill_id)
    render.console.print(f"Backfill {record.backfill_id}: {record.status.value}", markup=False)


@click.group()
def partitions() -> None:
    """Partitions of assets."""


@partitions.command("status")
@click.argument("asset")
@json_option
@click.pass_obj
def partitions_status(ws: Any, asset: str, as_json: bool) -> None:
    """Materialized, stale, failed and missing partitions of one asset."""
    load_dynamic_partitions(ws.defs.graph, ws.store)
    keys = resolve(asset, ws.defs.graph)
    if len(keys) != 1:
        raise SelectionError(f"'{asset}' names {len(keys)} assets; name exactly one.")
    data = summary(ws.defs.graph, ws.store, next(iter(keys)))
    emit(data, as_json, render.partition_summary)


@partitions.command("add")
@click.argument("name")
@click.argument("keys", nargs=-1, required=True)
@click.pass_obj
def partitions_add(ws: Any, name: str, keys: tuple[str, ...]) -> None:
    """Add keys to the dynamic partitions NAME."""
    _check_dynamic_name(ws, name)
    new = ws.store.dynamic_partitions.add(name, keys)
    render.console.print(f"{name}: added {len(new)} of {len(keys)} keys "
                         f"({len(ws.store.dynamic_partitions.keys(name))} in all)", markup=False)


@partitions.command("list")
@click.argument("name")
@json_option
@click.pass_obj
def partitions_list(ws: Any, name: str, as_json: bool) -> None:
    """The keys of the dynamic partitions NAME."""
    keys = ws.store.dynamic_partitions.keys(name)
    click.echo(json.dumps(keys) if as_json else "\n".join(keys))


@partitions.command("remove")
@click.argument("name")
@click.argument("keys", nargs=-1, required=True)
@click.pass_obj
def partitions_remove(ws: Any, name: str, keys: tuple[str, ...]) -> None:
    """Remove keys from the dynamic partitions NAME."""
    present = set(ws.store.dynamic_partitions.keys(name))
    if not present:
        _check_dynamic_name(ws, name)
    removed = [k for k in dict.fromkeys(keys) if k in present]
    ws.store.dynamic_partitions.remove(name, removed)
    absent = [k for k in dict.fromkeys(keys) if k not in present]
    render.console.print(f"{name}: removed {len(removed)} of {len(keys)} keys"
                         + (f" ({', '.join(removed)})" if removed else "")
                         + (f"; not there: {', '.join(absent)}" if absent else "")
                         + f" ({len(present) - len(removed)} left)", markup=False)


def _check_dynamic_name(ws: Any, name: str) -> None:
    """NAME must be the name of a DynamicPartitions some asset uses: a typo would add keys no
    asset ever reads."""
    used = sorted({d.partitions.name for d in ws.defs.graph.assets.values()
                   if isinstance(d.partitions, DynamicPartitions)})
    if name not in used:
        raise PartitionError(
            f"No asset uses dynamic partitions '{name}'.{did_you_mean(name, used)} "
            + (f"Dynamic partitions of the definitions: {', '.join(used)}." if used
               else "No asset of the definitions has DynamicPartitions.")
        )
