"""Routes with the shapes the original Raymon client (0.0.39) calls, through the same services.

Where this API has a route for the same thing with another shape, the
original's shape is an alias here (hidden from the OpenAPI document; listed
in docs/migration.md): ``profiles/{name}/{version}`` for ``profiles/{name@version}``,
``projects/{id}/m2m`` for a new ``ingest`` + ``read`` key answered as the
original's ``{project_id: {"client_id", "client_secret"}}``, ``PUT projects/{id}``
``{"config"}`` (in ``api.manifests``, documented: the original's ``orchestration_apply``;
its ``orchestration_get`` reads ``config`` from ``GET projects/{id}``, which answers it), and
``profiles/{name}/{version}/reduce`` for ``profiles/{name@version}/production``. The original's
login is ``api.oauth``; its query names ``lim`` and ``slicestr`` are
``params.OriginalQueryNames``. Thin: authorise, call a service, answer.
Routes never talk SQL.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from raymon.server.api.deps import AdminAccess, BackendDep, get_backend
from raymon.server.api.json_body import json_document, require_json
from raymon.server.api.params import DateTimeParam
from raymon.server.api.reading import IngestAccess, ReadAccess, required_text
from raymon.server.services import auth, profiles, results


class _ProfileVersion(Convertor[str]):
    """A profile version segment that is not ``production``: ``profiles/{name@version}/production``
    is this API's own route, which the original's ``profiles/{name}/{version}`` must not shadow."""

    regex = r"(?!production$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("profile_version", _ProfileVersion())

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["original client"], include_in_schema=False)


@router.post("/m2m", status_code=201)
def machine_credentials_add(backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """New machine credentials (an `ingest` + `read` key): `{project_id: {"client_id", "client_secret"}}`."""
    return auth.add_machine_credentials(backend, access.project_id)


@router.get("/m2m")
def machine_credentials_get(access: AdminAccess) -> dict[str, Any]:
    """Always 404: a key's secret is shown once, when made; make new credentials with `POST .../m2m`."""
    raise HTTPException(
        404,
        detail=f"project {access.project_id!r} shows no machine credentials: an API key is shown only "
        "when it is made; make new ones with POST .../m2m (the key's id is the client_id)",
    )


@router.post("/profiles/{name}/{version:profile_version}", status_code=201)
async def profile_create_at(
    name: str, version: str, request: Request, response: Response, access: IngestAccess
) -> dict[str, Any]:
    """Store a profile posted under its name and version; as `POST .../profiles` (201, 200 same, 409 clash)."""
    require_json(request.headers.get("content-type"))
    body = json_document(await request.body(), "the profile")
    summary, created = await run_in_threadpool(
        profiles.create_profile_at, get_backend(request), access.project_id, name, version, body
    )
    if not created:
        response.status_code = 200
    return summary


@router.get("/profiles/{name}/{version:profile_version}")
def profile_get_at(name: str, version: str, backend: BackendDep, access: ReadAccess) -> Response:
    """The stored JSON of one profile, by name and version (as `GET .../profiles/{name@version}`)."""
    ref = f"{required_text('name', name)}@{required_text('version', version)}"
    return Response(
        orjson.dumps(profiles.get_profile(backend, access.project_id, ref)), media_type="application/json"
    )


@router.get("/profiles/{name}/{version}/reduce")
def profile_reduce_at(
    name: str,
    version: str,
    backend: BackendDep,
    access: ReadAccess,
    slicestr: str = Query(""),
    begin: DateTimeParam | None = None,
    end: DateTimeParam | None = None,
) -> Response:
    """The production profile of a slice and time range (as `GET .../profiles/{name@version}/production`)."""
    ref = f"{required_text('name', name)}@{required_text('version', version)}"
    body = results.production_profile(backend, access.project_id, ref, begin, end, slicestr or "")
    return Response(orjson.dumps(body), media_type="application/json")
