"""Runs: the filtered list, one run's timeline and results, its event log, and live events (SSE)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from enum import Enum
from typing import Annotated, Any, TypeVar

import anyio
import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from orchestrator.keys import AssetKey
from orchestrator.launch.queue import LAUNCHERS
from orchestrator.storage.events import Event, EventType, RunRecord, RunStatus
from orchestrator.web.deps import BadRequest, Ctx, fast_json, run_id_of
from orchestrator.web.run_detail import run_detail
from orchestrator.web.serialize import event_json, level_of, run_json
from orchestrator.web.stream import BATCH, type_filter

router = APIRouter(tags=["runs"])
RUN_ENDED = {EventType.RUN_SUCCEEDED, EventType.RUN_FAILED, EventType.RUN_CANCELED}
ENDED_STATUSES = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED}
LEVELS = ("debug", "info", "warning", "error")
E = TypeVar("E", bound=Enum)


def _time(text: str | None, name: str) -> float | None:
    """Epoch seconds, or an ISO date / date-time (UTC unless it says otherwise)."""
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(f"'{name}' must be a date (2024-12-01), a date-time or epoch seconds; got '{text}'.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _choices(text: str | None, kind: type[E], what: str) -> list[E] | None:
    """'a,b' -> [kind('a'), kind('b')]; None when empty; a clear 400 for an unknown value."""
    if not text:
        return None
    known = {member.value: member for member in kind}
    found = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part not in known:
            raise BadRequest(f"Unknown {what} '{part}'; use one of {', '.join(sorted(known))}.")
        found.append(known[part])
    return found


def _cursor(text: str | None) -> tuple[float, str] | None:
    if not text:
        return None
    at, _, run_id = text.partition(":")
    try:
        return float(at), run_id_of(run_id)
    except ValueError:
        raise BadRequest(f"'before' must be 'started_at:run_id' as given in next_before; got '{text}'.") from None


@router.get("/runs", summary="Runs newest first, filtered by status, asset, date and launcher")
def runs(
    ctx: Ctx,
    status: Annotated[str | None, Query(description="Comma-separated statuses.")] = None,
    asset: Annotated[str | None, Query(max_length=2000, description="Runs that include this asset.")] = None,
    launched_by: Annotated[str | None, Query(description=f"One of {', '.join(LAUNCHERS)}.")] = None,
    since: Annotated[str | None, Query(description="Started at or after (date, date-time or epoch).")] = None,
    until: Annotated[str | None, Query(description="Started before (date, date-time or epoch).")] = None,
    before: Annotated[str | None, Query(description="next_before of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    asset_key: AssetKey | None = ctx.asset_key(asset) if asset else None
    if launched_by and launched_by not in LAUNCHERS:
        raise BadRequest(f"Unknown launcher '{launched_by}'; use one of {', '.join(LAUNCHERS)}.")
    found = ctx.store.runs_page(limit=limit, statuses=_choices(status, RunStatus, "run status"), asset_key=asset_key,
                                launched_by=launched_by or None,
                                started_after=_time(since, "since"), started_before=_time(until, "until"),
                                before=_cursor(before))
    last = found[-1] if len(found) == limit else None
    return fast_json({"runs": [run_json(r) for r in found],
                      "next_before": f"{last.started_at!r}:{last.run_id}" if last else None})


def _run(ctx: Any, run_id: str) -> RunRecord:
    return ctx.store.get_run(run_id_of(run_id))


@router.get("/runs/{run_id}", summary="One run: its steps (a timeline), per-asset results, errors")
def run(run_id: str, ctx: Ctx) -> Response:
    record = _run(ctx, run_id)
    return fast_json(run_detail(record, ctx.store))


@router.get("/runs/{run_id}/events", summary="A run's event log, a page at a time, filtered")
def run_events(
    run_id: str, ctx: Ctx,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    types: Annotated[str | None, Query(description="Comma-separated event types.")] = None,
    step: Annotated[str | None, Query(max_length=2000)] = None,
    asset: Annotated[str | None, Query(max_length=2000)] = None,
    level: Annotated[str | None, Query(description="Lowest level shown: debug, info, warning, error.")] = None,
) -> Response:
    record = _run(ctx, run_id)
    kinds = _choices(types, EventType, "event type")
    if level is not None and level not in LEVELS:
        raise BadRequest(f"Unknown level '{level}'; use one of {', '.join(LEVELS)}.")
    asset_key = AssetKey.parse(asset) if asset else None
    page = ctx.store.events_after(after, limit=limit, run_id=record.run_id, types=kinds, step_key=step,
                                  asset_key=asset_key)
    floor = LEVELS.index(level) if level else 0
    shown = [event_json(e) for e in page if LEVELS.index(_level(e)) >= floor]
    return fast_json({"run_id": record.run_id, "events": shown,
                      "next_after": page[-1].id if page else after, "more": len(page) == limit})


def _level(event: Event) -> str:
    found = level_of(event)
    return found if found in LEVELS else "info"


def _message(events: list[Event]) -> bytes:
    payload = orjson.dumps([event_json(e) for e in events])
    return b"id: %d\nevent: events\ndata: %s\n\n" % (events[-1].id or 0, payload)


def _sse(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _start(after: int | None, last_event_id: str | None) -> int:
    if last_event_id and last_event_id.strip().isdigit():  # a reconnecting EventSource resumes
        return int(last_event_id)
    return after or 0


@router.get("/runs/{run_id}/stream", summary="A run's events as they happen (server-sent events)",
            response_description="text/event-stream: `events` messages (a JSON list, id = last event id), "
                                 "then `end` once the run has ended")
async def run_stream(
    run_id: str, ctx: Ctx, request: Request,
    after: Annotated[int | None, Query(ge=0, description="Send events after this id.")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    record = await anyio.to_thread.run_sync(_run, ctx, run_id)
    start = _start(after, last_event_id)

    def read_since(cursor: int) -> list[Event]:
        return ctx.store.events_after(cursor, limit=BATCH, run_id=record.run_id)

    async def body() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        async for batch in ctx.hub.follow(start, read_since, lambda e: e.run_id == record.run_id):
            if batch:
                yield _message(batch)
                if any(e.type in RUN_ENDED for e in batch):
                    yield b"event: end\ndata: {}\n\n"
                    return
                continue
            current = await anyio.to_thread.run_sync(ctx.store.get_run, record.run_id)
            if current.status in ENDED_STATUSES:  # ended without an end event (a crashed worker)
                yield b"event: end\ndata: {}\n\n"
                return
            yield b": keep-alive\n\n"

    return _sse(body())


@router.get("/stream", summary="Every run's events as they happen (server-sent events)")
async def stream(
    ctx: Ctx,
    after: Annotated[int | None, Query(ge=0, description="Send events after this id (default: from now).")] = None,
    types: Annotated[str | None, Query(description="Comma-separated event types.")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    kinds = _choices(types, EventType, "event type")
    wanted = type_filter(None if kinds is None else [k.value for k in kinds])
    start = _start(after, last_event_id) if (after is not None or last_event_id) else \
        await anyio.to_thread.run_sync(ctx.store.max_event_id)

    def read_since(cursor: int) -> list[Event]:
        return ctx.store.events_after(cursor, limit=BATCH, types=kinds)

    async def body() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        async for batch in ctx.hub.follow(start, read_since, wanted):
            yield _message(batch) if batch else b": keep-alive\n\n"

    return _sse(body())
