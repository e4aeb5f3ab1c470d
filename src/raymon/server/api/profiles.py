"""Profile routes: store a ModelProfile's JSON under name@version, list them, fetch one.

Storing needs the ``ingest`` scope (a service publishes its profile when it
deploys); reading needs ``read``. A stored version is immutable: the same
document again answers 200, a different one under the same name@version 409.
The body is read as strict JSON (``json_body``: no NaN or Infinity, no
integer over 64 bits; 422 naming the problem), not by FastAPI's ``json.loads``.
Routes never talk SQL.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from raymon.server.api.deps import get_backend
from raymon.server.api.json_body import json_document, require_json
from raymon.server.api.reading import IngestAccess, ReadAccess, checked_text, required_text
from raymon.server.services import profiles

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["profiles"])
_PROFILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A profile's JSON (ModelProfile.to_jcr()) with name and version",
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}


@router.post("/profiles", status_code=201, openapi_extra=_PROFILE_BODY)
async def profile_create(request: Request, response: Response, access: IngestAccess) -> dict[str, Any]:
    """Store a profile; 201 when new, 200 when the identical document was stored already, 409 on a clash."""
    require_json(request.headers.get("content-type"))
    body = json_document(await request.body(), "the profile")
    summary, created = await run_in_threadpool(
        profiles.create_profile, get_backend(request), access.project_id, body
    )
    if not created:
        response.status_code = 200
    return summary


@router.get("/profiles")
def profile_list(
    request: Request,
    access: ReadAccess,
    name: str | None = Query(None, description="Only the versions of this profile"),
) -> list[dict[str, Any]]:
    """Every stored profile: name, version, `name@version` ref and creation time."""
    return profiles.list_profiles(get_backend(request), access.project_id, checked_text("name", name))


@router.get("/profiles/{profile_ref}")
def profile_get(
    profile_ref: str,
    request: Request,
    access: ReadAccess,
) -> Response:
    """The stored JSON of one profile, by `name@version`."""
    body = profiles.get_profile(
        get_backend(request), access.project_id, required_text("profile_ref", profile_ref)
    )
    return Response(orjson.dumps(body), media_type="application/json")
