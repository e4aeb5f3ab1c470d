"""Trace routes: list with tag filters and cursors, one trace, its tags, a whole-trace download.

Thin: parse the query string, authorise with ``require_scope("read")``, call
``services.traces``, answer JSON. Routes never talk SQL.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from raymon.server.api.deps import get_backend
from raymon.server.api.params import DateTimeParam
from raymon.server.api.reading import ReadAccess, attachment, checked_text, required_text
from raymon.server.services import traces
from raymon.server.services.paging import DEFAULT_PAGE, MAX_PAGE
from raymon.server.services.traces import TraceFilter

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["traces"])

FILTER_HELP = (
    "Tag filter expression, e.g. `client==bigshot && (app==v1.0.0 || latency_ms>120)`: "
    "operators == != < > <= >=, && || ! and parentheses; unquoted numbers compare numerically, "
    'quote text with spaces ("a b"). See docs/traces.md.'
)


@router.get("/traces")
def traces_list(
    request: Request,
    access: ReadAccess,
    filter: str | None = Query(None, description=FILTER_HELP),  # noqa: A002
    begin: Annotated[
        DateTimeParam | None, Query(description="Only traces that began at or after this time (RFC 3339)")
    ] = None,
    end: Annotated[
        DateTimeParam | None, Query(description="Only traces that began before this time (RFC 3339)")
    ] = None,
    tag_type: str | None = Query(None, description="Only traces with a tag of this type (e.g. error)"),
    text: str | None = Query(None, description="Only traces whose logged texts contain this (any case)"),
    sort: Literal["received", "time"] = Query(
        "received",
        description="received: in the order the backend first received the traces (fast with any filter); "
        "time: by each trace's earliest logged time (first_ts)",
    ),
    order: Literal["desc", "asc"] = Query(
        "desc", description="Newest first (desc) or oldest first (asc), in the chosen sort"
    ),
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="Traces per page"),
    cursor: str | None = Query(None, description="The next_cursor of the previous page"),
    tags: bool = Query(True, description="Include each trace's tags"),
) -> dict[str, Any]:
    """One page of traces, with `next_cursor` for the next page (null on the last one)."""
    flt = TraceFilter(
        expression=checked_text("filter", filter),
        begin=begin,
        end=end,
        tag_type=checked_text("tag_type", tag_type),
        text=checked_text("text", text),
    )
    return traces.list_traces(
        get_backend(request),
        access.project_id,
        flt,
        sort=sort,
        order=order,
        limit=limit,
        cursor=checked_text("cursor", cursor),
        with_tags=tags,
    )


@router.get("/traces/{trace_id}")
def trace_get(
    trace_id: str,
    request: Request,
    access: ReadAccess,
) -> dict[str, Any]:
    """One trace: its tags, texts and object references (size and type; no data)."""
    return traces.get_trace(get_backend(request), access.project_id, required_text("trace_id", trace_id))


@router.get("/traces/{trace_id}/tags")
def trace_tags(
    trace_id: str,
    request: Request,
    access: ReadAccess,
) -> list[dict[str, Any]]:
    """The tags of one trace."""
    return traces.trace_tags(get_backend(request), access.project_id, required_text("trace_id", trace_id))


@router.get("/traces/{trace_id}/download")
def trace_download(
    trace_id: str,
    request: Request,
    access: ReadAccess,
) -> StreamingResponse:
    """The whole trace as a JSON file: tags, texts and every object with its data (`obj_data`)."""
    trace_id = required_text("trace_id", trace_id)
    backend = get_backend(request)
    traces.get_trace(backend, access.project_id, trace_id)  # 404 before the first byte
    chunks = traces.download_trace(backend, access.project_id, trace_id)
    return StreamingResponse(
        chunks,
        media_type="application/json",
        headers={"Content-Disposition": attachment(f"trace-{trace_id}.json")},
    )
