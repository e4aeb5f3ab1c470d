"""The dataset export route: every object of a ref on the traces a filter selects, streamed.

``GET .../export?ref=...&filter=...&format=ndjson|parquet``. The filter is
checked before the first byte is sent (a bad one is a 422; a ref no object of
the project has is a 404 naming the refs there are); the body then
streams batch by batch and is never built in memory. Routes never talk SQL.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from raymon.server.api.deps import get_backend
from raymon.server.api.params import DateTimeParam
from raymon.server.api.reading import ReadAccess, attachment, checked_text, required_text
from raymon.server.api.traces import FILTER_HELP
from raymon.server.services import exports
from raymon.server.services.traces import TraceFilter

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["exports"])


@router.get("/export")
def export_dataset(
    request: Request,
    access: ReadAccess,
    ref: str = Query(..., description="The ref whose objects to export"),
    filter: str | None = Query(None, description=FILTER_HELP),  # noqa: A002
    begin: Annotated[
        DateTimeParam | None, Query(description="Only traces that began at or after this time")
    ] = None,
    end: Annotated[DateTimeParam | None, Query(description="Only traces that began before this time")] = None,
    tag_type: str | None = Query(None, description="Only traces with a tag of this type"),
    format: Literal["ndjson", "parquet"] = Query("ndjson", description="ndjson or parquet"),  # noqa: A002
) -> StreamingResponse:
    """Stream the objects as NDJSON lines or a Parquet file, each with `trace_id`, `tags` and `data` (the jcr)."""
    flt = TraceFilter(
        expression=checked_text("filter", filter),
        begin=begin,
        end=end,
        tag_type=checked_text("tag_type", tag_type),
    )
    ref = required_text("ref", ref)
    chunks = exports.export_stream(
        get_backend(request),
        access.project_id,
        ref,
        flt,
        exports.check_format(format),
    )
    return StreamingResponse(
        chunks,
        media_type=exports.MEDIA_TYPES[format],
        headers={"Content-Disposition": attachment(f"{access.project_id}-{ref}.{format}")},
    )
