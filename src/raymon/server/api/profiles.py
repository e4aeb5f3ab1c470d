"""Profile routes: store a ModelProfile's JSON under name@version, list them, fetch one.

Storing needs the ``ingest`` scope (a service publishes its profile when it
deploys); reading needs ``read``. A stored version is immutable: the same
document again answers 200, a different one under the same name@version 409.
Routes never talk SQL.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Body, Query, Request, Response

from raymon.server.api.deps import get_database
from raymon.server.api.reading import IngestAccess, ReadAccess, checked_text, required_text
from raymon.server.services import profiles

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["profiles"])
_PROFILE_BODY = Body(..., description="A profile's JSON (ModelProfile.to_jcr()) with name and version")


@router.post("/profiles", status_code=201)
def profile_create(
    request: Request,
    response: Response,
    access: IngestAccess,
    body: dict[str, Any] = _PROFILE_BODY,
) -> dict[str, Any]:
    """Store a profile; 201 when new, 200 when the identical document was stored already, 409 on a clash."""
    limit = request.app.state.settings.profile_limit
    summary, created = profiles.create_profile(get_database(request), access.project_id, body, limit)
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
    return profiles.list_profiles(get_database(request), access.project_id, checked_text("name", name))


@router.get("/profiles/{profile_ref}")
def profile_get(
    profile_ref: str,
    request: Request,
    access: ReadAccess,
) -> Response:
    """The stored JSON of one profile, by `name@version`."""
    body = profiles.get_profile(
        get_database(request), access.project_id, required_text("profile_ref", profile_ref)
    )
    return Response(orjson.dumps(body), media_type="application/json")
