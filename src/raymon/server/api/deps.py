"""Authorisation for every route: who is calling (``get_principal``) and may they (``require_scope``).

Every route under ``/api/v1/projects/{project_id}/...`` depends on
``require_scope("read" | "ingest" | "admin")``. A request without a usable
credential gets 401, a known caller without the scope in that project 403,
both as ``{"detail": "..."}``. Credentials are resolved by the functions in
``Backend.principal_resolvers`` (the API key resolver first; the UI adds a
session-cookie resolver there), so routes never look at headers themselves.
``get_backend`` is how a route reaches the application object. This module
never talks SQL: it calls ``services.auth``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from raymon.server.backend import Backend
from raymon.server.services import access_tokens, auth, invitations
from raymon.server.services.auth import Principal


def get_backend(request: Request) -> Backend:
    """The application object the app was built on (``app.state.backend``)."""
    backend: Backend = request.app.state.backend
    return backend


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, detail="Authorization header must be 'Bearer <API key>'")
    return token.strip()


def resolve_api_key(request: Request, backend: Backend) -> Principal | None:
    """The caller holding the request's bearer API key, or an access token of one (``POST /oauth/token``).

    401 for an unknown or revoked key, and for an unknown or expired token or one of a revoked key.
    """
    token = bearer_token(request)
    if token is None:
        return None
    principal = auth.principal_for_key(backend, token)
    if principal is None and token.startswith(access_tokens.TOKEN_PREFIX):
        principal = access_tokens.principal_for_bearer(backend, token)
        if principal is None:
            raise HTTPException(
                401,
                detail="unknown or expired access token, or its API key was revoked: get a new one "
                "at POST /oauth/token",
            )
    if principal is None:
        raise HTTPException(401, detail="unknown or revoked API key")
    backend.key_usage.seen(backend, principal.id)  # a dict lookup; a write at most once a minute per key
    return principal


def get_principal(request: Request) -> Principal:
    """The caller, or 401. Runs in the thread pool (it may query the database)."""
    backend = get_backend(request)
    for resolve in backend.principal_resolvers:
        principal = resolve(request, backend)
        if principal is not None:
            request.state.principal = principal
            return principal
    raise HTTPException(
        401,
        detail="authentication required: send 'Authorization: Bearer <API key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


@dataclass(frozen=True)
class ProjectAccess:
    """A caller allowed ``scope`` in ``project_id``: what a project route receives."""

    project_id: str
    principal: Principal
    scope: str


def _holds(principal: Principal) -> str:
    """What the caller holds, in words: "this key is for project 'x' (scopes ingest, read)"."""
    held = "; ".join(
        f"project {pid!r} (scopes {', '.join(s for s in auth.SCOPES if s in scopes)})"
        for pid, scopes in sorted(principal.grants.items())
    )
    if principal.kind == "key":
        return f"this key is for {held}" if held else "this key is for no project"
    return f"you have roles in {held}" if held else "you have a role in no project"


def denied_message(principal: Principal, scope: str, project_id: str | None = None) -> str:
    """The 403's detail: what the caller holds, and which credential would do (with the command to make it)."""
    if project_id is None:
        return (
            f"{_holds(principal)}; this call needs a key with scope {scope!r} in some project "
            f"(raymon key create <project> --scopes {scope})"
        )
    if principal.kind == "key":
        need = f"a key of that project with scope {scope!r} (raymon key create {project_id} --scopes {scope})"
    else:
        role = "admin" if scope != "read" else "viewer or admin"
        need = f"the role {role} there (raymon user role <email> {project_id} {role.split()[0]})"
    return f"{_holds(principal)}; project {project_id!r} needs {need}"


def require_scope(scope: str) -> Callable[..., ProjectAccess]:
    """A dependency for routes with a ``{project_id}`` path parameter: the caller needs ``scope`` there."""
    if scope not in auth.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def check(project_id: str, principal: Principal = Depends(get_principal)) -> ProjectAccess:  # noqa: B008
        if not principal.allows(project_id, scope):
            raise HTTPException(403, detail=denied_message(principal, scope, project_id))
        return ProjectAccess(project_id=project_id, principal=principal, scope=scope)

    check.required_scope = scope  # type: ignore[attr-defined]  # read by the route-table auth test
    return check


def require_scope_anywhere(scope: str) -> Callable[..., Principal]:
    """For routes outside a project (e.g. creating one): the caller needs ``scope`` in some project."""

    def check(principal: Principal = Depends(get_principal)) -> Principal:  # noqa: B008
        if not principal.has_scope_anywhere(scope):
            raise HTTPException(403, detail=denied_message(principal, scope))
        return principal

    check.required_scope = scope  # type: ignore[attr-defined]
    check.project_bound = False  # type: ignore[attr-defined]
    return check


def require_invitation() -> Callable[..., str]:
    """For accepting an invitation: the credential is the invitation's token (``Bearer rmi_...``).

    The person accepting has no API key yet. No token or an unusable one is 401; an API key is 403
    (it is a credential, but not the one this route takes). Answers the token.
    """

    def check(request: Request) -> str:
        backend = get_backend(request)
        token = bearer_token(request)
        if token is None:
            raise HTTPException(
                401,
                detail="an invitation token is required: send 'Authorization: Bearer <invitation token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if invitations.open_invitation(backend, token) is not None:
            return token
        if auth.principal_for_key(backend, token) is not None:
            raise HTTPException(403, detail="this route takes an invitation token (rmi_...), not an API key")
        raise HTTPException(401, detail="unknown, revoked, expired or already accepted invitation token")

    check.required_scope = "invitation"  # type: ignore[attr-defined]  # the token is the credential
    check.project_bound = False  # type: ignore[attr-defined]
    return check


def required_scopes(dependant: Any) -> list[str]:
    """Every scope a route's dependency tree demands (for tests and docs)."""
    found: list[str] = []
    stack = [dependant]
    while stack:
        node = stack.pop()
        scope = getattr(node.call, "required_scope", None)
        if scope:
            found.append(scope)
        stack.extend(node.dependencies)
    return found


# Type aliases for route signatures (``access: ReadAccess``): the scope is visible in the signature.
ReadAccess = Annotated[ProjectAccess, Depends(require_scope("read"))]
IngestAccess = Annotated[ProjectAccess, Depends(require_scope("ingest"))]
AdminAccess = Annotated[ProjectAccess, Depends(require_scope("admin"))]
# The invitation token of the accept route (``token: InvitationToken``).
InvitationToken = Annotated[str, Depends(require_invitation())]
# The application object, for a route's call into a service (``backend: BackendDep``).
BackendDep = Annotated[Backend, Depends(get_backend)]
