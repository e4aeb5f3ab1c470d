"""Admin routes: projects, API keys, users, roles and invitations. Thin: authorise, call ``services.auth``.

Who may create a project: any caller holding the ``admin`` scope in some
project (a server's first admin key comes from start-up). The answer carries
a new admin key of the new project, shown once; a user creating a project
becomes its admin. A project admin adds people by invitation only (the
answer is the same for every address); the person accepts with the token.
Every text these routes take is checked by the services (no NUL characters:
422). Routes never talk SQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator

from raymon.server.api.deps import (
    AdminAccess,
    BackendDep,
    InvitationToken,
    ReadAccess,
    require_scope_anywhere,
)
from raymon.server.api.params import ColumnText
from raymon.server.services import auth, invitations, manifests
from raymon.server.services.auth import Principal

router = APIRouter(prefix="/api/v1", tags=["admin"])


class ProjectCreate(BaseModel):
    name: ColumnText = Field(..., description="A human name for the project")
    project_id: ColumnText | None = Field(None, description="Optional id; default: a slug of the name")

    @model_validator(mode="before")
    @classmethod
    def _original_client_name(cls, data: Any) -> Any:
        """The original client's ``{"project_name"}`` (``project_create``) is the name when no name is given."""
        if isinstance(data, dict) and "name" not in data and "project_name" in data:
            return {**{k: v for k, v in data.items() if k != "project_name"}, "name": data["project_name"]}
        return data


class KeyCreate(BaseModel):
    scopes: list[str] | str = Field(..., description="Any of ingest, read, admin (admin implies the others)")
    name: ColumnText = ""


class UserInvite(BaseModel):
    model_config = ConfigDict(
        extra="forbid"
    )  # no password, no other field: the invited person chooses theirs

    email: ColumnText = Field(..., description="The address of the person to invite")
    role: str = Field("viewer", description="admin or viewer")

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "password: a project admin does not set passwords; the invited person chooses "
                "theirs when accepting the invitation (POST /api/v1/invitations/accept)"
            )
        return data


class InvitationAccept(BaseModel):
    email: ColumnText = Field(..., description="The invited address")
    password: str = Field(
        ...,
        description="The account's password; for a new account, the password it gets (8 characters or more)",
    )


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
    """One project: its id, name, creation time, and `config`: its manifest's YAML (redacted; null: none).

    `config` is what the original client's `orchestration_get` reads.
    """
    return {
        **auth.project_json(auth.project(backend, access.project_id)),
        "config": manifests.current_text(backend, access.project_id),
    }


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
    """Revoke an API key of the project by its `key_id`; it stops working at once."""
    return auth.key_json(auth.revoke_key(backend, key_id, access.project_id))


@router.post("/projects/{project_id}/users", status_code=201)
def user_invite(body: UserInvite, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Invite a person to a role in the project: 201 with the invitation and its `token` (shown only now).

    The answer is the same whether or not the address has an account, and nobody is enrolled
    until the person accepts: hand them the token; they call `POST /api/v1/invitations/accept`
    with it and their e-mail and password (which creates their account if they have none). A new
    invitation replaces the address's open one; a member of the project already is a 409.
    """
    row, token = invitations.invite(backend, access.project_id, body.email, body.role)
    return {**invitations.invitation_json(row), "token": token, "accept": "POST /api/v1/invitations/accept"}


@router.get("/projects/{project_id}/users")
def users_list(backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """The project's users and their roles."""
    return {"users": auth.members(backend, access.project_id)}


@router.put("/projects/{project_id}/users/{email}/role")
def role_set(email: str, body: RoleSet, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Set a member's role in the project (admin or viewer); 404 for anyone not a member (invite them)."""
    role = auth.member_role_set(backend, access.project_id, email, body.role)
    return {"email": email.strip().lower(), "project_id": access.project_id, "role": role}


@router.delete("/projects/{project_id}/users/{email}")
def member_remove(email: str, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Take a user's role in the project away (the user stays, with their other projects)."""
    auth.member_remove(backend, email, access.project_id)
    return {"email": email.strip().lower(), "project_id": access.project_id, "removed": True}


@router.get("/projects/{project_id}/invitations")
def invitations_list(backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """The project's open invitations (not accepted, not expired); never their tokens."""
    rows = invitations.invitations(backend, access.project_id)
    return {"invitations": [invitations.invitation_json(row) for row in rows]}


@router.delete("/projects/{project_id}/invitations/{invitation_id}")
def invitation_revoke(invitation_id: str, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Withdraw an open invitation of the project: its token stops working at once."""
    invitations.revoke_invitation(backend, access.project_id, invitation_id)
    return {"invitation_id": invitation_id, "project_id": access.project_id, "revoked": True}


@router.post("/invitations/accept")
def invitation_accept(body: InvitationAccept, backend: BackendDep, token: InvitationToken) -> dict[str, Any]:
    """Accept an invitation: `Authorization: Bearer <invitation token>`, body `{"email", "password"}`.

    Enrols the invited person in the project with the invited role. For a new address this
    creates the account with `password`; an existing account must give its password (a wrong
    one voids the invitation: 401). `created` says whether the account was made now.
    """
    row, created = invitations.accept_invitation(backend, token, body.email, body.password)
    return {"project_id": row.project_id, "email": row.email, "role": row.role, "created": created}
