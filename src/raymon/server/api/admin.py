"""Admin routes: projects, API keys, users and roles. Thin: authorise, call ``services.auth``, answer JSON.

Who may create a project: any caller holding the ``admin`` scope in some
project (a server's first admin key comes from start-up). The answer carries
a new admin key of the new project, shown once; a user creating a project
becomes its admin. Routes never talk SQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from raymon.server.api.deps import AdminAccess, ReadAccess, get_database, require_scope_anywhere
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
    request: Request,
    principal: Annotated[Principal, Depends(require_scope_anywhere("admin"))],
) -> dict[str, Any]:
    with get_database(request).write_session() as session:
        project = auth.create_project(session, body.name, body.project_id)
        key_row, key = auth.create_key(
            session, project.id, "admin", name=f"created by {principal.kind} {principal.id}"
        )
        if principal.kind == "user":
            auth.grant_user_role(session, principal.id, project.id, "admin")
        return {**auth.project_json(project), "key": key, "key_id": key_row.id}


@router.get("/projects")
def projects_list(
    request: Request,
    principal: Annotated[Principal, Depends(require_scope_anywhere("read"))],
) -> dict[str, Any]:
    visible = [p for p in principal.project_ids if principal.allows(p, "read")]
    with get_database(request).session() as session:
        return {"projects": [auth.project_json(p) for p in auth.list_projects(session, visible)]}


@router.get("/projects/{project_id}")
def project_get(request: Request, access: ReadAccess) -> dict[str, Any]:
    with get_database(request).session() as session:
        return auth.project_json(auth.get_project(session, access.project_id))


@router.post("/projects/{project_id}/keys", status_code=201)
def key_create(
    body: KeyCreate,
    request: Request,
    access: AdminAccess,
) -> dict[str, Any]:
    with get_database(request).write_session() as session:
        row, key = auth.create_key(session, access.project_id, body.scopes, name=body.name)
        return {**auth.key_json(row), "key": key}


@router.get("/projects/{project_id}/keys")
def keys_list(request: Request, access: AdminAccess) -> dict[str, Any]:
    with get_database(request).session() as session:
        return {"keys": [auth.key_json(row) for row in auth.list_keys(session, access.project_id)]}


@router.delete("/projects/{project_id}/keys/{key_id}")
def key_revoke(
    key_id: str,
    request: Request,
    access: AdminAccess,
) -> dict[str, Any]:
    with get_database(request).write_session() as session:
        return auth.key_json(auth.revoke_key(session, key_id, access.project_id))


@router.post("/projects/{project_id}/users")
def user_create(
    body: UserCreate,
    request: Request,
    response: Response,
    access: AdminAccess,
) -> dict[str, Any]:
    """Give a user a role in the project, creating the user first if needed (201 then, else 200).

    An existing user's password is never changed here: a project admin must
    not be able to take over an account that other projects trust.
    """
    with get_database(request).write_session() as session:
        membership, created = auth.add_member(
            session, access.project_id, body.email, body.password, body.role
        )
    response.status_code = 201 if created else 200
    return {
        "email": body.email.strip().lower(),
        "project_id": access.project_id,
        "role": membership.role,
        "created": created,
    }


@router.get("/projects/{project_id}/users")
def users_list(request: Request, access: AdminAccess) -> dict[str, Any]:
    with get_database(request).session() as session:
        return {"users": auth.list_members(session, access.project_id)}


@router.put("/projects/{project_id}/users/{email}/role")
def role_set(
    email: str,
    body: RoleSet,
    request: Request,
    access: AdminAccess,
) -> dict[str, Any]:
    with get_database(request).write_session() as session:
        membership = auth.set_role(session, email, access.project_id, body.role)
        return {"email": email.strip().lower(), "project_id": access.project_id, "role": membership.role}


@router.delete("/projects/{project_id}/users/{email}")
def member_remove(
    email: str,
    request: Request,
    access: AdminAccess,
) -> dict[str, Any]:
    with get_database(request).write_session() as session:
        auth.remove_member(session, email, access.project_id)
    return {"email": email.strip().lower(), "project_id": access.project_id, "removed": True}
