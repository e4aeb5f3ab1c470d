"""Admin routes: projects, API keys, users and roles. Thin: authorise, call ``services.auth``, answer JSON.

Who may create a project: any caller holding the ``admin`` scope in some
project (a server's first admin key comes from start-up). The answer carries
a new admin key of the new project, shown once; a user creating a project
becomes its admin. Routes never talk SQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from raymon.server.api.deps import AdminAccess, BackendDep, ReadAccess, require_scope_anywhere
from raymon.server.api.params import ColumnText
from raymon.server.services import auth
from raymon.server.services.auth import Principal

router = APIRouter(prefix="/api/v1", tags=["admin"])


class ProjectCreate(BaseModel):
    name: ColumnText = Field(..., description="A human name for the project")
    project_id: ColumnText | None = Field(None, description="Optional id; default: a slug of the name")


class KeyCreate(BaseModel):
    scopes: list[str] | str = Field(..., description="Any of ingest, read, admin (admin implies the others)")
    name: ColumnText = ""


class UserCreate(BaseModel):
    email: ColumnText
    password: ColumnText | None = Field(
        None, min_length=auth.MIN_PASSWORD_LENGTH, description="Needed when the user does not exist yet"
    )
    role: str = "viewer"


class RoleSet(BaseModel):
    role: str


@router.post("/projects", status_code=201)
def project_create(
    body: ProjectCreate,
    backend: BackendDep,
    principal: Annotated[Principal, Depends(require_scope_anywhere("admin"))],
) -> dict[str, Any]:
    """Create a project; the answer carries its new admin API key (`key`, shown only now).

    A user who creates a project becomes its admin.
    """
    project, key_row, key = auth.new_project(
        backend,
        body.name,
        body.project_id,
        key_name=f"created by {principal.kind} {principal.id}",
        admin_user_id=principal.id if principal.kind == "user" else None,
    )
    assert key_row is not None
    return {**auth.project_json(project), "key": key, "key_id": key_row.id}


@router.get("/projects")
def projects_list(
    backend: BackendDep,
    principal: Annotated[Principal, Depends(require_scope_anywhere("read"))],
) -> dict[str, Any]:
    """The projects the caller may read."""
    visible = [p for p in principal.project_ids if principal.allows(p, "read")]
    return {"projects": [auth.project_json(p) for p in auth.projects(backend, visible)]}


@router.get("/projects/{project_id}")
def project_get(backend: BackendDep, access: ReadAccess) -> dict[str, Any]:
    """One project: its id, name and creation time."""
    return auth.project_json(auth.project(backend, access.project_id))


@router.post("/projects/{project_id}/keys", status_code=201)
def key_create(body: KeyCreate, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Create an API key of the project with the given scopes; the key itself (`key`) is shown only now."""
    row, key = auth.add_key(backend, access.project_id, body.scopes, name=body.name)
    return {**auth.key_json(row), "key": key}


@router.get("/projects/{project_id}/keys")
def keys_list(backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """The project's API keys: ids, prefixes, scopes and whether revoked (never the keys themselves)."""
    return {"keys": [auth.key_json(row) for row in auth.keys(backend, access.project_id)]}


@router.delete("/projects/{project_id}/keys/{key_id}")
def key_revoke(key_id: str, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Revoke an API key of the project, by its id or its shown prefix; it stops working at once."""
    return auth.key_json(auth.revoke_key(backend, key_id, access.project_id))


@router.post("/projects/{project_id}/users")
def user_create(
    body: UserCreate,
    backend: BackendDep,
    response: Response,
    access: AdminAccess,
) -> dict[str, Any]:
    """Give a user a role in the project, creating the user first if needed (201 then, else 200).

    An existing user's password is never changed here: a project admin must
    not be able to take over an account that other projects trust.
    """
    role, created = auth.member_add(backend, access.project_id, body.email, body.password, body.role)
    response.status_code = 201 if created else 200
    return {
        "email": body.email.strip().lower(),
        "project_id": access.project_id,
        "role": role,
        "created": created,
    }


@router.get("/projects/{project_id}/users")
def users_list(backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """The project's users and their roles."""
    return {"users": auth.members(backend, access.project_id)}


@router.put("/projects/{project_id}/users/{email}/role")
def role_set(email: str, body: RoleSet, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Set a user's role in the project (admin or viewer), replacing the role they had."""
    role = auth.role_set(backend, email, access.project_id, body.role)
    return {"email": email.strip().lower(), "project_id": access.project_id, "role": role}


@router.delete("/projects/{project_id}/users/{email}")
def member_remove(email: str, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Take a user's role in the project away (the user stays, with their other projects)."""
    auth.member_remove(backend, email, access.project_id)
    return {"email": email.strip().lower(), "project_id": access.project_id, "removed": True}
