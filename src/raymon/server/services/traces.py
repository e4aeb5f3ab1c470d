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


# -- the web UI's trace list: pages both ways, a bounded text search, a capped count --------------
COUNT_CAP = 10_000  # the trace list says "10,000+" beyond this: no exact count on the hot path
COUNT_WINDOW = 200_000  # a count examines at most this many candidates (index entries) per request
SEARCH_WINDOW = 20_000  # a text search examines the texts of at most this many traces per request


@dataclass(frozen=True, slots=True)
class FilterProblem:
    """Why a tag expression does not parse: the parser's reason and the 0-based position of the fault."""

    expression: str
    reason: str
    position: int


def filter_problem(expression: str | None) -> FilterProblem | None:
    """The fault of ``expression`` with its position (for a form to mark), or None when it parses (or is blank)."""
    if expression is None or not expression.strip():
        return None
    try:
        tagfilter.parse(expression)
    except tagfilter.TagFilterError as exc:
        return FilterProblem(exc.expression, exc.reason, exc.position)
    return None


@dataclass(frozen=True, slots=True)
class TracePage:
    """One page of the trace list, newest received first, with cursors to the pages on either side.

    ``searched_to`` is set when a text search used up its window before the page was
    full: ``next_cursor`` then continues the search after the oldest trace examined.
    """

    traces: list[dict[str, Any]]
    next_cursor: str | None
    previous_cursor: str | None
    searched: int | None = None  # traces whose texts this request examined at most (text search)
    window_used_up: bool = False


def browse_traces(
    backend: Backend,
    project_id: str,
    flt: TraceFilter,
    *,
    limit: int = DEFAULT_PAGE,
    after: str | None = None,
    before: str | None = None,
) -> TracePage:
    """A page of traces newest first: after the ``after`` cursor (the next page) or before ``before`` (the previous).

    Keyset pages both ways (``next_cursor`` is the API's cursor for ``sort=received``,
    ``order=desc``; ``previous_cursor`` reads the other way from the page's first trace),
    so page 1 and page 10,000 cost the same. With a text (``flt.text``) the search is
    bounded: one request examines at most ``SEARCH_WINDOW`` candidate traces (a LIKE over
    each one's texts), and a page that the window could not fill says so and continues
    from where the window ended (``window_used_up``). With the index of texts (migration
    0021) a rare or absent word's page is read from the index instead, whole, whatever the
    project's size (``store.traces.page_in_window``); the traces are the same either way.
    """
    check_limit(limit)
    if after and before:
        raise QueryError(
            "before", "give either after (the next page) or before (the previous page), not both"
        )
    sel = selection(flt)
    window_used_up = False
    with backend.reading() as session:
        if before:
            first = decode_id_cursor(before, "received", "asc")
            rows = trace_store.page_by_received(session, project_id, sel, "asc", limit + 1, first)
            has_previous, has_next = len(rows) > limit, True
            rows = list(reversed(rows[:limit]))
        else:
            after_pk = decode_id_cursor(after, "received", "desc") if after else None
            if sel.text:
                found = trace_store.page_in_window(
                    session, project_id, sel, limit + 1, after_pk, SEARCH_WINDOW
                )
                rows, window_end = found.rows, found.window_end
            else:
                rows = trace_store.page_by_received(session, project_id, sel, "desc", limit + 1, after_pk)
                window_end = None
            has_previous, has_next = after_pk is not None, len(rows) > limit
            rows = rows[:limit]
            if window_end is not None:
                window_used_up = has_next = True
        tags = tags_json_by_trace(session, project_id, [row.id for row in rows])
    traces = [
        {
            "trace_id": row.trace_id,
            "first_ts": iso(row.first_ts),
            "last_ts": iso(row.last_ts),
            "tags": tags.get(row.id, []),
        }
        for row in rows
    ]
    next_cursor = previous_cursor = None
    if window_used_up and window_end is not None:
        next_cursor = encode_cursor("received", "desc", window_end)
    elif has_next and rows:
        next_cursor = encode_cursor("received", "desc", rows[-1].id)
    if has_previous and rows:
        previous_cursor = encode_cursor("received", "asc", rows[0].id)
    return TracePage(
        traces=traces,
        next_cursor=next_cursor,
        previous_cursor=previous_cursor,
        searched=SEARCH_WINDOW if sel.text else None,
        window_used_up=window_used_up,
    )


@dataclass(frozen=True, slots=True)
class TraceCount:
    """How many traces match, as far as a bounded count can tell.

    ``exact``: ``count`` is the number. Else at least ``count`` match: either ``count`` is
    past ``cap`` ("10,000+") or only the newest ``examined`` candidates were looked at.
    """

    count: int
    exact: bool
    cap: int
    examined: int

    @property
    def over_cap(self) -> bool:
        return self.count > self.cap


def count_traces(backend: Backend, project_id: str, flt: TraceFilter, cap: int = COUNT_CAP) -> TraceCount:
    """Count the matching traces up to ``cap`` (then "cap+"), examining at most ``COUNT_WINDOW`` candidates.

    Bounded whatever the project's size: at most ``COUNT_WINDOW`` index entries (the
    filter's rarest ``==`` condition's, or the project's traces) and their probes;
    with a text search only ``SEARCH_WINDOW`` traces' texts, or, for a rare word with the
    index of texts, the at most ``RARE_TEXTS`` texts that contain it (exact).
    """
    sel = selection(flt)
    window = SEARCH_WINDOW if sel.text else COUNT_WINDOW
    with backend.reading() as session:
        found, exact = trace_store.count_in_window(session, project_id, sel, cap, window)
    return TraceCount(count=min(found, cap + 1), exact=exact, cap=cap, examined=window)


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
