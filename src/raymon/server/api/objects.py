"""Object routes: list references, find one by trace and ref, fetch one by id (JSON or as a download).

An object answers ``{"obj_id", "trace_id", "ref", "ts", "data_type", "size",
"obj_data"}`` where ``obj_data`` is the jcr, so ``rt.load_jcr(obj_data)``
gives the logged object back. Thin: authorise, call ``services.objects``,
answer. Routes never talk SQL.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from raymon.server.api.deps import get_backend
from raymon.server.api.reading import ReadAccess, attachment, checked_text, required_text
from raymon.server.services import objects
from raymon.server.services.paging import DEFAULT_PAGE, MAX_PAGE

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["objects"])


def _object_response(meta: dict[str, Any], body: bytes, download: bool) -> Response:
    headers = {}
    if download:
        headers["Content-Disposition"] = attachment(f"{meta['ref']}-{meta['obj_id']}.json")
    return Response(objects.object_json(meta, body), media_type="application/json", headers=headers)


@router.get("/objects")
def objects_list(
    request: Request,
    access: ReadAccess,
    trace_id: str | None = Query(None, description="Only objects of this trace"),
    ref: str | None = Query(None, description="Only objects logged under this ref"),
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(None, description="The next_cursor of the previous page"),
) -> dict[str, Any]:
    """Object references (no data), newest first, with `next_cursor` for the next page."""
    return objects.list_objects(
        get_backend(request),
        access.project_id,
        trace_id=checked_text("trace_id", trace_id),
        ref=checked_text("ref", ref),
        limit=limit,
        cursor=checked_text("cursor", cursor),
    )


@router.get("/objects/search")
def object_search(
    request: Request,
    access: ReadAccess,
    trace_id: str = Query(..., description="The trace the object was logged on"),
    ref: str = Query(..., description="The ref it was logged under"),
    download: bool = Query(False, description="Answer with a Content-Disposition to save it as a file"),
) -> Response:
    """The object logged under `ref` on a trace (the latest, when the ref was logged more than once)."""
    meta, body = objects.search_object(
        get_backend(request),
        access.project_id,
        required_text("trace_id", trace_id),
        required_text("ref", ref),
    )
    return _object_response(meta, body, download)


@router.get("/objects/{obj_id}")
def object_get(
    obj_id: str,
    request: Request,
    access: ReadAccess,
    download: bool = Query(False, description="Answer with a Content-Disposition to save it as a file"),
) -> Response:
    """One object by id, with its data as `obj_data`."""
    meta, body = objects.get_object(
        get_backend(request),
        access.project_id,
        required_text("obj_id", obj_id),
    )
    return _object_response(meta, body, download)


@router.get("/refs")
def refs_list(
    request: Request,
    access: ReadAccess,
    limit: int | None = Query(None, ge=1, le=MAX_PAGE, description="At most this many refs, by name"),
) -> list[dict[str, Any]]:
    """Every ref objects were logged under: how many objects, their data types, the last time."""
    return objects.list_refs(get_backend(request), access.project_id, limit)
