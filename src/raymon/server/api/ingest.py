"""The ingest routes: read a bounded body, then take an ingest slot or answer 429, hand the body to the service.

Statuses: 200 when every record was stored or known already, 207 when some
were refused (the others are stored), 422 when all were refused, 400 when a
compressed body does not decompress to its end, 408 when the body is too slow
to arrive (``RequestBodyLimits``), 413 when the body or the batch is over a
limit, 415 for a Content-Type that is not JSON or NDJSON, 429 (with
``Retry-After``) when the server is busy. The JSON answer is always
``{"accepted", "duplicates", "conflicts": [{"index", "event_id", "error"}],
"rejected": [{"index", "error"}]}`` (or ``{"detail"}`` otherwise); a conflict
(an event id stored before with another content) does not change the status. A request never holds an ingest slot while it waits
on the network: its body is read first, counted in the ingest buffer (at most
``ingest_buffer_bytes`` held in all), and only then does it wait for a slot.
Routes never talk SQL.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from raymon.server.api.body_limit import too_large_message
from raymon.server.api.content_encoding import ENCODINGS, BodyDecoder, BodyTooLarge, UndecodableBody
from raymon.server.api.deps import IngestAccess, ProjectAccess, get_backend
from raymon.server.services.ingest import IngestResult, ingest_body
from raymon.server.services.ingest_buffer import IngestBuffer

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["ingest"])

NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonlines",
    "application/json-lines",
    "application/jsonl",
    "application/x-jsonlines",
    "text/plain",  # Vector's text codec, Logstash's format => "message"
)
JSON_TYPES = ("application/json", "text/json", "application/x-json")


def body_format(content_type: str | None) -> bool:
    """Whether a body of this Content-Type is NDJSON (True) or JSON (False); 415 for anything else.

    No Content-Type: JSON, or NDJSON when the body is not one JSON document.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in NDJSON_TYPES:
        return True
    if not media_type or media_type in JSON_TYPES or media_type.endswith("+json"):
        return False
    raise HTTPException(
        415,
        detail=f"Content-Type {media_type!r} is not JSON or NDJSON: send application/json "
        "(one event or an array) or application/x-ndjson (one event a line)",
    )


async def read_body(request: Request, limit: int, hold: BodyHold | None = None) -> bytes:
    """The whole request body, decoded if gzip/deflate, refused with 413 past ``limit`` decoded bytes.

    Every byte kept is counted in ``hold`` (the ingest buffer): 429 when it is full. A body is read
    to its end or refused: a compressed stream that does not end cleanly is a 400.
    """
    encoding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in ENCODINGS:
        raise HTTPException(415, detail=f"unsupported Content-Encoding {encoding!r}: use gzip or none")
    decoder = BodyDecoder(encoding, limit)
    chunks: list[bytes] = []
    try:
        async for chunk in request.stream():
            decoded = decoder.feed(chunk)
            if hold is not None:
                hold.grow(len(decoded))
            chunks.append(decoded)
        chunks.append(decoder.finish())
    except BodyTooLarge:
        raise HTTPException(413, detail=too_large_message(limit)) from None
    except UndecodableBody as exc:
        raise HTTPException(400, detail=str(exc)) from None
    except ClientDisconnect:
        raise HTTPException(400, detail="the client closed the connection before its body ended") from None
    return b"".join(chunks)


def _status(result: IngestResult) -> int:
    if not result.rejected:
        return 200
    return 207 if result.accepted or result.duplicates or result.conflicts else 422


async def _ingest(request: Request, access: ProjectAccess) -> JSONResponse:
    backend = get_backend(request)
    settings, gate = backend.settings, backend.ingest_gate
    project_id = access.project_id
    ndjson = body_format(request.headers.get("content-type"))
    with BodyHold(gate.buffer, project_id, settings.retry_after_seconds) as hold:
        # The body first: a request waiting on the network never holds a slot (RequestBodyLimits times it).
        body = await read_body(request, settings.max_request_bytes, hold)
        if not await gate.acquire(project_id):
            return JSONResponse(
                {
                    "detail": f"the server is busy ingesting ({gate.slots} requests in flight; "
                    f"project {project_id!r} holds {gate.held_by(project_id)}, at most "
                    f"{gate.per_project} while other projects wait): retry later"
                },
                status_code=429,
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
        try:
            result = await run_in_threadpool(ingest_body, backend, project_id, body, ndjson)
        finally:
            gate.release(project_id)
    return JSONResponse(result.to_json(), status_code=_status(result))


class BodyHold:
    """The bytes of one request's body counted in the ingest buffer, given back when the request ends."""

    def __init__(self, buffer: IngestBuffer, project_id: str, retry_after: int) -> None:
        self.buffer = buffer
        self.project_id = project_id
        self.retry_after = retry_after
        self.size = 0

    def grow(self, size: int) -> None:
        refusal = self.buffer.take(self.project_id, size)
        if refusal is not None:
            raise HTTPException(
                429,
                detail=f"the server is busy reading request bodies ({refusal}): retry later",
                headers={"Retry-After": str(self.retry_after), "Connection": "close"},
            )
        self.size += size

    def __enter__(self) -> BodyHold:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.buffer.give_back(self.project_id, self.size)
        self.size = 0


@router.post("/ingest", summary="Ingest events (one, a JSON array, NDJSON, or shipper/legacy records)")
async def ingest(request: Request, access: IngestAccess) -> JSONResponse:
    """Store events (one JSON event, a JSON array, NDJSON lines, or shipper/legacy records); see the module."""
    return await _ingest(request, access)


@router.post("/ingest_batch", summary="The original Raymon client's batch endpoint (same formats)")
async def ingest_batch(request: Request, access: IngestAccess) -> JSONResponse:
    """The original Raymon client's batch endpoint: the same formats and answers as `/ingest`."""
    return await _ingest(request, access)
