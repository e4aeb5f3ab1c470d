"""A project's API keys: ``/projects/{project_id}/settings/keys`` (list, create, revoke).

Every member sees the list (name, hint, scopes, created, last used, revoked); only an
admin creates and revokes (``require(page, "admin")``: 403 for a viewer, who
sees no buttons). A new key is shown once, on the answer to the create form
(``Cache-Control: no-store``): never in a URL, never stored (the server keeps
its SHA-256 and a 4-character hint, ``services.auth``). Revoking asks first
(a confirmation page, GET, changes nothing), then POSTs. When a key was last
used is recorded to within a minute (``services.key_usage``: at most one write per key a
minute, off the request's path).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from raymon.server.api.deps import get_backend
from raymon.server.services import auth
from raymon.server.services.auth import KeyRow
from raymon.server.services.errors import InvalidInputError, NotFoundError
from raymon.server.ui.auth import ProjectPage, project_page, require
from raymon.server.ui.templating import render

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


def _keys_url(page: ProjectPage) -> str:
    return f"/projects/{page.project_id}/settings/keys"


def _list(
    request: Request, page: ProjectPage, error: str | None = None, status_code: int = 200, **form: Any
) -> Response:
    rows = sorted(auth.keys(get_backend(request), page.project_id), key=lambda r: r.created_at, reverse=True)
    revoked = request.query_params.get("revoked")
    context = {
        "project": page.project,
        "nav": "settings",
        "keys": rows,
        "is_admin": page.allows("admin"),
        "scopes": auth.SCOPES,
        "error": error,
        "revoked": next((r for r in rows if r.id == revoked), None) if revoked else None,
        "form_name": form.get("name", ""),
        "form_scopes": form.get("scopes", ["ingest", "read"]),
        "keys_url": _keys_url(page),
    }
    return render(request, "keys/list.html", context, status_code=status_code)


def _key(request: Request, page: ProjectPage, key_id: str) -> KeyRow:
    for row in auth.keys(get_backend(request), page.project_id):
        if row.id == key_id:
            return row
    raise NotFoundError(f"no API key with id {key_id!r} in project {page.project_id!r}")


@router.get("/projects/{project_id}/settings/keys")
def keys_page(request: Request, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    return _list(request, page)


@router.post("/projects/{project_id}/settings/keys")
def create_key(
    request: Request,
    name: str = Form(""),
    scopes: list[str] = Form([]),  # noqa: B008
    page: ProjectPage = Depends(project_page),  # noqa: B008
) -> Response:
    require(page, "admin")
    try:
        row, key = auth.add_key(get_backend(request), page.project_id, scopes, name=name.strip())
    except InvalidInputError as exc:
        return _list(request, page, error=str(exc), status_code=422, name=name, scopes=scopes)
    context = {
        "project": page.project,
        "nav": "settings",
        "row": row,
        "key": key,
        "keys_url": _keys_url(page),
    }
    return render(request, "keys/created.html", context, status_code=201, headers=NO_STORE)


@router.get("/projects/{project_id}/settings/keys/{key_id}/revoke")
def revoke_confirm(request: Request, key_id: str, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    require(page, "admin")
    row = _key(request, page, key_id)
    context = {"project": page.project, "nav": "settings", "row": row, "keys_url": _keys_url(page)}
    return render(request, "keys/revoke.html", context)


@router.post("/projects/{project_id}/settings/keys/{key_id}/revoke")
def revoke(request: Request, key_id: str, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    require(page, "admin")
    row = auth.revoke_key(get_backend(request), key_id, page.project_id)
    return RedirectResponse(f"{_keys_url(page)}?revoked={row.id}", status_code=303)
