"""Invitations: how a person gets a role in a project through the API, and only by accepting.

Users are global (one account per e-mail address), so a project admin must not learn whether
an address is registered, nor enrol someone without their consent. ``invite`` answers the same
for every address: an invitation row and its token (``rmi_`` + 32 random bytes, shown once,
stored as SHA-256 like API keys). The person accepts with the token and their e-mail and
password (``accept_invitation``: creating the account for a new address, proving it for an
existing one), or, once the UI has a login, as the logged-in user
(``accept_invitation_as_user``). This module never parses HTTP, never logs a token or a
password and runs no SQL (``store.accounts`` does).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from raymon.server.services.auth import (
    check_email,
    check_password,
    check_role,
    create_user,
    get_project,
    hash_key,
)
from raymon.server.services.errors import (
    ConflictError,
    InvalidInputError,
    NotAuthenticatedError,
    NotFoundError,
    PermissionDeniedError,
)
from raymon.server.services.text_params import check_text
from raymon.server.store import accounts
from raymon.server.store.accounts import InvitationRow

if TYPE_CHECKING:
    from raymon.server.backend import Backend

INVITATION_PREFIX = "rmi_"
INVITATION_TTL = timedelta(days=7)
_UNUSABLE = "unknown, revoked, expired or already accepted invitation token"


def invitation_json(row: InvitationRow) -> dict[str, object]:
    return {
        "invitation_id": row.id,
        "project_id": row.project_id,
        "email": row.email,
        "role": row.role,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
    }


def invite(backend: Backend, project_id: str, email: str, role: str) -> tuple[InvitationRow, str]:
    """Invite ``email`` to a role in the project: the invitation and its token (shown once, never stored).

    The same answer whether or not the address has an account: the person accepting decides
    (``accept_invitation``). A new invitation replaces the address's open one in the project.
    A member of the project is a 409 (change their role instead): that tells the project's
    admin only what the project's member list does.
    """
    role = check_role(role)
    email = check_email(email)
    now = backend.clock()
    with backend.writing() as session:
        get_project(session, project_id)
        member = accounts.member_role(session, project_id, email)
        if member is not None:
            raise ConflictError(
                f"{email!r} is a member of project {project_id!r} already (role {member[1]!r}): "
                "change the role with PUT .../users/{email}/role"
            )
        accounts.delete_pending_invitations(session, project_id, email)
        token = INVITATION_PREFIX + secrets.token_urlsafe(32)
        row = accounts.insert_invitation(
            session,
            invitation_id=uuid.uuid4().hex,
            project_id=project_id,
            email=email,
            role=role,
            token_hash=hash_key(token),
            created_at=now,
            expires_at=now + INVITATION_TTL,
        )
    return row, token


def invitations(backend: Backend, project_id: str) -> list[InvitationRow]:
    """The project's open invitations (neither accepted nor expired)."""
    with backend.reading() as session:
        get_project(session, project_id)
        return accounts.pending_invitations(session, project_id, backend.clock())


def revoke_invitation(backend: Backend, project_id: str, invitation_id: str) -> None:
    """Withdraw an invitation not accepted yet: its token stops working."""
    check_text("invitation_id", invitation_id, 64)
    with backend.writing() as session:
        if not accounts.delete_pending_invitation(session, project_id, invitation_id):
            raise NotFoundError(f"no open invitation {invitation_id!r} in project {project_id!r}")


def _open(row: InvitationRow | None, now: datetime) -> InvitationRow | None:
    return row if row is not None and row.accepted_at is None and row.expires_at > now else None


def open_invitation(backend: Backend, token: str) -> InvitationRow | None:
    """The invitation of ``token`` if it can still be accepted (for the accept route's credential check)."""
    if not token.startswith(INVITATION_PREFIX):
        return None
    with backend.reading() as session:
        return _open(accounts.invitation_by_token_hash(session, hash_key(token)), backend.clock())


def accept_invitation(backend: Backend, token: str, email: str, password: str) -> tuple[InvitationRow, bool]:
    """Enrol the invited person: the invitation and whether their account was created now.

    ``email`` must be the invited address. A new address gets an account with ``password``; an
    existing account must prove itself with its password, and a wrong one voids the invitation
    (one guess per invitation: whoever holds a token cannot try passwords with it).
    """
    email = check_email(email)
    if not isinstance(password, str):
        raise InvalidInputError("password: must be a string")
    now = backend.clock()
    with backend.writing() as session:
        row = _open(accounts.invitation_by_token_hash(session, hash_key(token)), now)
        if row is None:
            raise NotAuthenticatedError(_UNUSABLE)
        if row.email != email:
            raise PermissionDeniedError(f"this invitation is not for {email!r}")
        user = accounts.user_by_email(session, email)
        voided = user is not None and not check_password(session, user, password)
        if voided:  # committed, then refused: the void invitation stays void
            accounts.delete_pending_invitation(session, row.project_id, row.id)
        else:
            if not accounts.mark_invitation_accepted(session, row.id, now):
                raise NotAuthenticatedError(_UNUSABLE)
            if user is None:
                user = create_user(session, email, password)
                created = True
            else:
                created = False
            accounts.set_role(session, user.id, row.project_id, row.role)
    if voided:
        raise NotAuthenticatedError(
            f"wrong password for {email!r}: the invitation is void now, ask the project's admin for a new one"
        )
    return row, created


def open_invitations_of_user(backend: Backend, user_id: str) -> list[InvitationRow]:
    """The open invitations of a logged-in user's address (for the UI to show at login)."""
    with backend.reading() as session:
        user = accounts.user_by_id(session, user_id)
        if user is None:
            return []
        return accounts.pending_invitations_of_email(session, user.email, backend.clock())


def accept_invitation_as_user(backend: Backend, user_id: str, invitation_id: str) -> InvitationRow:
    """A logged-in user (the UI's session) accepts an open invitation of their own address."""
    now = backend.clock()
    with backend.writing() as session:
        user = accounts.user_by_id(session, user_id)
        row = _open(accounts.invitation_by_id(session, check_text("invitation_id", invitation_id, 64)), now)
        if user is None or row is None or row.email != user.email:
            raise NotFoundError(f"no open invitation {invitation_id!r} for this user")
        if not accounts.mark_invitation_accepted(session, row.id, now):
            raise NotFoundError(f"no open invitation {invitation_id!r} for this user")
        accounts.set_role(session, user.id, row.project_id, row.role)
    return row
