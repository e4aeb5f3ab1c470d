"""Manifest routes: apply a project's YAML manifest, read the current one (redacted), list its versions.

Applying needs the ``admin`` scope, reading ``read``. The body of ``PUT`` is the
YAML text (``text/yaml``, ``application/yaml``, ``application/x-yaml`` or
``text/plain``) or the original client's JSON ``{"config": "<yaml text>"}``. A bad
manifest is a 422 ``{"detail": "...", "errors": [{"path", "line", "column",
"message"}]}`` listing every error; nothing is applied. Routes never talk SQL.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from raymon.server.api.deps import AdminAccess, get_backend
from raymon.server.api.json_body import JSON_MEDIA_TYPES, json_document
from raymon.server.api.reading import ReadAccess
from raymon.server.services import manifests
from raymon.server.services.errors import InvalidInputError

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["manifest"])

YAML_MEDIA_TYPES = ("text/yaml", "application/yaml", "application/x-yaml", "text/x-yaml", "text/plain")
_TEXT_SCHEMA = {"type": "string", "description": "The manifest's YAML text (docs/manifest.md)"}
# A YAML body's schema describes the document it holds: a mapping (project_id, actions, slices, settings).
_DOCUMENT_SCHEMA = {"type": "object", "description": "The manifest document (docs/manifest.md)"}
_APPLY_BODY = {
    "requestBody": {
        "required": True,
        "description": "The manifest: its YAML text (text/plain is taken too), or the original client's JSON "
        '{"config": "<yaml text>"}',
        "content": {
            **{media: {"schema": _DOCUMENT_SCHEMA} for media in ("text/yaml", "application/x-yaml")},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["config"],
                    "properties": {"config": _TEXT_SCHEMA},
                }
            },
        },
    }
}


def _yaml_text(body: bytes, content_type: str | None) -> str:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in JSON_MEDIA_TYPES or media_type.endswith("+json"):
        document = json_document(body, "the request body")
        if not isinstance(document, dict) or not isinstance(document.get("config"), str):
            raise InvalidInputError('a JSON body is {"config": "<the manifest\'s YAML text>"}')
        config: str = document["config"]
        return config
    if media_type and media_type not in YAML_MEDIA_TYPES:
        raise HTTPException(
            415,
            detail=f"Content-Type {media_type!r} is not a manifest: send text/yaml (the YAML text) "
            'or application/json ({"config": "<yaml>"})',
        )
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"the manifest is not UTF-8 text (byte {exc.start})") from None


@router.put("/manifest", openapi_extra=_APPLY_BODY)
async def manifest_apply(request: Request, access: AdminAccess) -> Any:
    """Apply a manifest: the project's next version (the same text again changes nothing).

    Answers `{"project_id", "version", "applied_at", "changed", "config"}` (the text with secrets
    redacted). A bad manifest is a 422 listing every error with its line and column; the previous
    manifest stays in force.
    """
    text = _yaml_text(await request.body(), request.headers.get("content-type"))
    try:
        applied = await run_in_threadpool(
            manifests.apply_manifest, get_backend(request), access.project_id, text
        )
    except manifests.ManifestRefused as refused:
        return JSONResponse(
            {"detail": str(refused), "errors": [error.as_dict() for error in refused.errors]},
            status_code=422,
        )
    return applied.as_dict()


_ORIGINAL_APPLY_BODY = {
    "requestBody": {
        "required": True,
        "description": 'The original client\'s body: {"config": "<the manifest\'s YAML text>"}',
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["config"], "properties": {"config": _TEXT_SCHEMA}}
            }
        },
    }
}


@router.put("", openapi_extra=_ORIGINAL_APPLY_BODY)
async def orchestration_apply(request: Request, access: AdminAccess) -> Any:
    """Apply a manifest as the original client's `orchestration_apply` does: `{"config": "<yaml>"}`.

    The same as `PUT .../manifest` (docs/migration.md); its `orchestration_get` reads `config`
    from `GET /api/v1/projects/{project_id}`.
    """
    return await manifest_apply(request, access)


@router.get("/manifest")
def manifest_get(
    request: Request,
    access: ReadAccess,
    version: int | None = Query(
        None, ge=1, le=2**31 - 1, description="An earlier version (default: current)"
    ),
) -> dict[str, Any]:
    """The manifest in force (or one version): `{"project_id", "version", "applied_at", "config"}`.

    `config` is the YAML text as applied, with webhook URLs and secrets shown as `"<redacted>"`;
    applying that text again keeps them.
    """
    return manifests.shown(get_backend(request), access.project_id, version)


@router.get("/manifest/history")
def manifest_history(request: Request, access: ReadAccess) -> dict[str, Any]:
    """Every applied version, newest first: `{"project_id", "versions": [{"version", "applied_at"}]}`."""
    return manifests.history(get_backend(request), access.project_id)
