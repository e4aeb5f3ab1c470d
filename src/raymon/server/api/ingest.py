"""The ingest routes: read a bounded body, take an ingest slot or answer 429, hand the body to the service.

Statuses: 200 when every record was stored or known already, 207 when some
were refused (the others are stored), 422 when all were refused, 413 when the
body or the batch is over a limit, 429 (with ``Retry-After``) when the server
is busy. The JSON answer is always ``{"accepted", "duplicates", "rejected":
[{"index", "error"}]}`` (or ``{"detail"}`` for 413/429). Memory stays bounded:
a body is read only after a slot is taken, and at most
``ingest_max_inflight`` bodies of at most ``max_request_bytes`` are held.
Routes never talk SQL.
"""

from __future__ import annotations

import zlib

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from raymon.server.api.deps import IngestAccess, ProjectAccess, get_backend
from raymon.server.services.ingest import IngestResult, ingest_body

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["ingest"])

NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonlines",
    "application/json-lines",
    "application/jsonl",
    "text/plain",
)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed if gzip/deflate, refused with 413 past ``limit`` bytes."""
    too_large = HTTPException(
        413, detail=f"the request body is over the limit max_request_bytes={limit} (RAYMON_MAX_REQUEST_BYTES)"
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding not in ("identity", "gzip", "deflate", ""):
        raise HTTPException(415, detail=f"unsupported Content-Encoding {encoding!r}: use gzip or none")
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding in ("gzip", "deflate") else None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if decompressor is not None:
            try:
                chunk = decompressor.decompress(chunk, limit + 1 - size)
            except zlib.error as exc:
                raise HTTPException(
                    400, detail=f"the {encoding} body cannot be decompressed: {exc}"
                ) from None
            if decompressor.unconsumed_tail:
                raise too_large
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _status(result: IngestResult) -> int:
    if not result.rejected:
        return 200
    return 207 if result.accepted or result.duplicates else 422


async def _ingest(request: Request, access: ProjectAccess) -> JSONResponse:
    backend = get_backend(request)
    settings, gate = backend.settings, backend.ingest_gate
    if not await gate.acquire():
        return JSONResponse(
            {"detail": f"the server is busy ingesting ({gate.slots} requests in flight): retry later"},
            status_code=429,
            headers={"Retry-After": str(settings.retry_after_seconds)},
        )
    try:
        body = await read_body(request, settings.max_request_bytes)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        result = await run_in_threadpool(
            ingest_body, backend, access.project_id, body, content_type in NDJSON_TYPES
        )
    finally:
        gate.release()
    return JSONResponse(result.to_json(), status_code=_status(result))


@router.post("/ingest", summary="Ingest events (one, a JSON array, NDJSON, or shipper/legacy records)")
async def ingest(request: Request, access: IngestAccess) -> JSONResponse:
    """Store events (one JSON event, a JSON array, NDJSON lines, or shipper/legacy records); see the module."""
    return await _ingest(request, access)


@router.post("/ingest_batch", summary="The original Raymon client's batch endpoint (same formats)")
async def ingest_batch(request: Request, access: IngestAccess) -> JSONResponse:
    """The original Raymon client's batch endpoint: the same formats and answers as `/ingest`."""
    return await _ingest(request, access)
