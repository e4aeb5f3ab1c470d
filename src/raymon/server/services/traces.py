"""Reading traces: the trace list with filters and keyset pagination, one trace, its tags, a whole-trace download.

The routes in ``server/api`` call these functions with typed, validated
arguments and send back what they answer; the web UI and the CLI use them
too. They only read (never write or delete), never parse HTTP and run no SQL
(``store.traces`` does: the plans that keep a page's cost at the page's size
are described there). Traces are listed in the order the backend first
received them (``sort="received"``) or by their first timestamp
(``sort="time"``: ``first_ts``, when the request began), then by id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson

from raymon.server.services import objects, tagfilter
from raymon.server.services.errors import NotFoundError
from raymon.server.services.paging import (
    DEFAULT_PAGE,
    Order,
    QueryError,
    check_limit,
    decode_cursor,
    decode_id_cursor,
    encode_cursor,
    iso,
    utc,
)
from raymon.server.services.tags import tags_json_by_trace
from raymon.server.store import data_objects
from raymon.server.store import traces as trace_store
from raymon.server.store.db import Session
from raymon.server.store.traces import TraceRow, TraceSelection

if TYPE_CHECKING:
    from raymon.server.backend import Backend

Sort = Literal["received", "time"]
SORTS: tuple[str, ...] = ("received", "time")


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """Which traces: a tag expression, a time range on ``first_ts`` (``begin <= t < end``), a tag type, a text."""

    expression: str | None = None
    begin: datetime | None = None
    end: datetime | None = None
    tag_type: str | None = None
    text: str | None = None


def parse_filter(expression: str | None) -> tagfilter.Node | None:
    """The parsed tag expression (``None`` when blank); ``QueryError`` names the position of a fault."""
    if expression is None or not expression.strip():
        return None
    try:
        return tagfilter.parse(expression)
    except tagfilter.TagFilterError as exc:
        raise QueryError("filter", str(exc)) from exc


def selection(flt: TraceFilter) -> TraceSelection:
    """``flt`` checked and as the store takes it (the expression parsed, the times in UTC)."""
    return TraceSelection(
        tree=parse_filter(flt.expression),
        begin=None if flt.begin is None else utc(flt.begin),
        end=None if flt.end is None else utc(flt.end),
        tag_type=flt.tag_type,
        text=flt.text,
    )


def list_traces(
    backend: Backend,
    project_id: str,
    flt: TraceFilter,
    *,
    sort: Sort = "received",
    order: Order = "desc",
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
    with_tags: bool = True,
) -> dict[str, Any]:
    """One page of traces: ``{"traces": [{"trace_id", "first_ts", "last_ts", "tags"}], "next_cursor"}``.

    ``sort="received"`` (the default) orders traces by when the backend first
    received them; ``sort="time"`` by their earliest logged timestamp (``first_ts``).
    ``next_cursor`` is ``None`` on the last page.
    """
    check_limit(limit)
    if sort not in SORTS:
        raise QueryError("sort", f"must be one of {list(SORTS)}, got {sort!r}")
    sel = selection(flt)
    with backend.reading() as session:
        if sort == "time":
            after_key = decode_cursor(cursor, "trace", order) if cursor else None
            rows = trace_store.page_by_time(session, project_id, sel, order, limit + 1, after_key)
        else:
            after_pk = decode_id_cursor(cursor, "received", order) if cursor else None
            rows = trace_store.page_by_received(session, project_id, sel, order, limit + 1, after_pk)
        more = len(rows) > limit
        rows = rows[:limit]
        tags = tags_json_by_trace(session, project_id, [row.id for row in rows]) if with_tags else {}
    traces = [
        {
            "trace_id": row.trace_id,
            "first_ts": iso(row.first_ts),
            "last_ts": iso(row.last_ts),
            **({"tags": tags.get(row.id, [])} if with_tags else {}),
        }
        for row in rows
    ]
    next_cursor = None
    if more and sort == "time":
        next_cursor = encode_cursor("trace", order, rows[-1].first_ts, rows[-1].id)
    elif more:
        next_cursor = encode_cursor("received", order, rows[-1].id)
    return {"traces": traces, "next_cursor": next_cursor}


def trace_row(session: Session, project_id: str, trace_id: str) -> TraceRow:
    """The trace ``trace_id`` (a step of a caller's transaction); ``NotFoundError`` naming it."""
    row = trace_store.trace_by_id(session, project_id, trace_id)
    if row is None:
        raise NotFoundError(f"trace {trace_id!r} not found in project {project_id!r}")
    return row


def trace_tags(backend: Backend, project_id: str, trace_id: str) -> list[dict[str, Any]]:
    """The tags of one trace, by name: ``[{"name", "value", "type", "group", "ts"}]``."""
    with backend.reading() as session:
        row = trace_row(session, project_id, trace_id)
        return tags_json_by_trace(session, project_id, [row.id], with_ts=True).get(row.id, [])


def get_trace(backend: Backend, project_id: str, trace_id: str) -> dict[str, Any]:
    """One trace with its tags, texts (in time order) and object references (no bodies)."""
    with backend.reading() as session:
        row = trace_row(session, project_id, trace_id)
        tags = tags_json_by_trace(session, project_id, [row.id], with_ts=True).get(row.id, [])
        texts = trace_store.texts_of(session, row.id)
        metas = data_objects.objects_of_trace(session, row.id)
    return {
        "trace_id": row.trace_id,
        "first_ts": iso(row.first_ts),
        "last_ts": iso(row.last_ts),
        "tags": tags,
        "texts": [{"ts": iso(t.ts), "level": t.level, "message": t.message} for t in texts],
        "objects": [objects.meta_json(o) for o in metas],
    }


def download_trace(backend: Backend, project_id: str, trace_id: str) -> Iterator[bytes]:
    """One whole trace as JSON bytes, every object with its data under ``obj_data``; streamed object by object."""
    trace = get_trace(backend, project_id, trace_id)
    metas = trace.pop("objects")
    head = orjson.dumps(trace)
    yield head[:-1] + b',"objects":['
    for i, meta in enumerate(metas):
        body = objects.object_body(backend, project_id, meta["obj_id"])
        yield (b"," if i else b"") + objects.object_json(meta, body)
    yield b"]}"
