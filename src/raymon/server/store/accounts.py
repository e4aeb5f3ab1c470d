"""Projects, API keys, users, memberships and invitations: every SQL statement about who may do what.

Functions take the caller's session first (they never open, commit or roll
back a transaction) and answer frozen rows, never ORM objects, JSON or HTTP
errors: a missing row is ``None``. Rules (names, scopes, roles, hashing) are
``services.auth``'s; this module stores what it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from raymon.server.store.models import ApiKey, Invitation, Membership, Project, User


class ProjectRow(NamedTuple):
    id: str
    name: str
    created_at: datetime


class KeyRow(NamedTuple):
    id: str
    project_id: str
    name: str
    key_prefix: str
    scopes: str  # comma-separated, canonical order
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = None  # to within a minute (services.key_usage)


class UserRow(NamedTuple):
    id: str
    email: str
    password_hash: str
    created_at: datetime


class MemberRow(NamedTuple):
    email: str
    role: str
    created_at: datetime  # the user's


class InvitationRow(NamedTuple):
    id: str
    project_id: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None


def _project(row: Project) -> ProjectRow:
    return ProjectRow(row.id, row.name, row.created_at)


def key_row(row: ApiKey) -> KeyRow:
    """The frozen row of an ``ApiKey`` (also for ``store.access_tokens``, which reads a key with its token)."""
    return KeyRow(
        row.id,
        row.project_id,
        row.name,
        row.key_prefix,
        row.scopes,
        row.created_at,
        row.revoked_at,
        row.last_used_at,
    )


def _user(row: User) -> UserRow:
    return UserRow(row.id, row.email, row.password_hash, row.created_at)


def _invitation(row: Invitation) -> InvitationRow:
    return InvitationRow(
        row.id, row.project_id, row.email, row.role, row.created_at, row.expires_at, row.accepted_at
    )


# -- projects ------------------------------------------------------------------------------------
def get_project(session: Session, project_id: str) -> ProjectRow | None:
    row = session.get(Project, project_id)
    return None if row is None else _project(row)


def any_project(session: Session) -> bool:
    """Whether the store holds a project at all (first start or not)."""
    return session.scalar(select(Project.id).limit(1)) is not None


def insert_project(session: Session, project_id: str, name: str, created_at: datetime) -> ProjectRow:
    row = Project(id=project_id, name=name, created_at=created_at)
    session.add(row)
    session.flush()
    return _project(row)


def project_named(session: Session, name: str) -> ProjectRow | None:
    """A project whose name is ``name`` ignoring case (the oldest, if several), else ``None``."""
    query = select(Project).where(func.lower(Project.name) == name.lower()).order_by(Project.created_at)
    row = session.scalars(query.limit(1)).first()
    return None if row is None else _project(row)


def list_projects(session: Session, project_ids: Iterable[str] | None = None) -> list[ProjectRow]:
    """All projects (``None``) or those named, oldest first."""
    query = select(Project).order_by(Project.created_at, Project.id)
    if project_ids is not None:
        query = query.where(Project.id.in_(list(project_ids)))
    return [_project(row) for row in session.scalars(query)]


# -- API keys ------------------------------------------------------------------------------------
def key_by_hash(session: Session, key_hash: str) -> KeyRow | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
    return None if row is None else key_row(row)


def insert_key(
    session: Session,
    key_id: str,
    project_id: str,
    name: str,
    key_prefix: str,
    key_hash: str,
    scopes: str,
    created_at: datetime,
) -> KeyRow:
    row = ApiKey(
        id=key_id,
        project_id=project_id,
        name=name,
        key_prefix=key_prefix,
        key_hash=key_hash,
        scopes=scopes,
        created_at=created_at,
    )
    session.add(row)
    session.flush()
    return key_row(row)


def list_keys(session: Session, project_id: str) -> list[KeyRow]:
    query = select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.created_at)
    return [key_row(row) for row in session.scalars(query)]


def key_by_id(session: Session, key_id: str, project_id: str | None = None) -> KeyRow | None:
    """The key with id ``key_id`` (only if it is of ``project_id``, when given)."""
    query = select(ApiKey).where(ApiKey.id == key_id)
    if project_id is not None:
        query = query.where(ApiKey.project_id == project_id)
    row = session.scalar(query)
    return None if row is None else key_row(row)


def touch_keys(session: Session, used: Mapping[str, datetime]) -> None:
    """Record when keys were last used (key id -> time); a time never moves back (another process wrote a later one)."""
    for key_id, when in used.items():
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < when))
            .values(last_used_at=when)
        )


def revoke_key(session: Session, key_id: str, when: datetime) -> KeyRow:
    """Mark key ``key_id`` revoked at ``when`` unless it was already; answer it as it now is."""
    row = session.get_one(ApiKey, key_id)
    if row.revoked_at is None:
        row.revoked_at = when
        session.flush()
    return key_row(row)


# -- users and memberships -----------------------------------------------------------------------
def user_by_email(session: Session, email: str) -> UserRow | None:
    row = session.scalar(select(User).where(User.email == email))
    return None if row is None else _user(row)


def user_by_id(session: Session, user_id: str) -> UserRow | None:
    row = session.get(User, user_id)
    return None if row is None else _user(row)


def insert_user(
    session: Session, user_id: str, email: str, password_hash: str, created_at: datetime
) -> UserRow:
    row = User(id=user_id, email=email, password_hash=password_hash, created_at=created_at)
    session.add(row)
    session.flush()
    return _user(row)


def delete_user(session: Session, user_id: str) -> bool:
    """Delete the user and their memberships; answer whether there was such a user."""
    session.execute(delete(Membership).where(Membership.user_id == user_id))
    result: Any = session.execute(delete(User).where(User.id == user_id))
    return bool(result.rowcount)


def set_password_hash(
    session: Session, user_id: str, password_hash: str, replacing: str | None = None
) -> bool:
    """Replace a user's password hash (a password change, or a rehash at sign-in); answer whether it was.

    ``replacing``: only if the stored hash is still that one (a rehash never undoes a change made
    since the password was checked).
    """
    query = update(User).where(User.id == user_id)
    if replacing is not None:
        query = query.where(User.password_hash == replacing)
    return bool(session.execute(query.values(password_hash=password_hash)).rowcount)  # type: ignore[attr-defined]


def role_of(session: Session, user_id: str, project_id: str) -> str | None:
    """The user's role in the project, ``None`` when they have none there."""
    membership = session.get(Membership, (user_id, project_id))
    return None if membership is None else membership.role


def set_role(session: Session, user_id: str, project_id: str, role: str) -> None:
    """Give the user ``role`` in the project, replacing any role they had there."""
    membership = session.get(Membership, (user_id, project_id))
    if membership is None:
        session.add(Membership(user_id=user_id, project_id=project_id, role=role))
    else:
        membership.role = role
    session.flush()


def delete_membership(session: Session, user_id: str, project_id: str) -> bool:
    """Remove the user's role in the project; answer whether they had one."""
    membership = session.get(Membership, (user_id, project_id))
    if membership is None:
        return False
    session.delete(membership)
    session.flush()
    return True


def member_role(session: Session, project_id: str, email: str) -> tuple[str, str] | None:
    """(user id, role) of the user with ``email`` in the project; ``None`` when no such member."""
    row = session.execute(
        select(User.id, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id, User.email == email)
    ).first()
    return None if row is None else (row[0], row[1])


def members(session: Session, project_id: str) -> list[MemberRow]:
    rows = session.execute(
        select(User.email, Membership.role, User.created_at)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id)
        .order_by(User.email)
    )
    return [MemberRow(email, role, created) for email, role, created in rows]


def roles_of_user(session: Session, user_id: str) -> dict[str, str]:
    """project id -> the user's role there."""
    rows = session.execute(
        select(Membership.project_id, Membership.role).where(Membership.user_id == user_id)
    )
    return {project_id: role for project_id, role in rows}


# -- invitations ---------------------------------------------------------------------------------
def insert_invitation(
    session: Session,
    invitation_id: str,
    project_id: str,
    email: str,
    role: str,
    token_hash: str,
    created_at: datetime,
    expires_at: datetime,
) -> InvitationRow:
    row = Invitation(
        id=invitation_id,
        project_id=project_id,
        email=email,
        role=role,
        token_hash=token_hash,
        created_at=created_at,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return _invitation(row)


def delete_pending_invitations(session: Session, project_id: str, email: str) -> int:
    """Remove the project's invitations of ``email`` that were not accepted; answer how many."""
    result = session.execute(
        delete(Invitation).where(
            Invitation.project_id == project_id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delete_pending_invitation(session: Session, project_id: str, invitation_id: str) -> bool:
    """Remove one not yet accepted invitation of the project; answer whether there was one."""
    result = session.execute(
        delete(Invitation).where(
            Invitation.project_id == project_id,
            Invitation.id == invitation_id,
            Invitation.accepted_at.is_(None),
        )
    )
    return bool(getattr(result, "rowcount", 0))


def pending_invitations(session: Session, project_id: str, now: datetime) -> list[InvitationRow]:
    """The project's invitations not accepted and not expired at ``now``, oldest first."""
    query = (
        select(Invitation)
        .where(
            Invitation.project_id == project_id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > now,
        )
        .order_by(Invitation.created_at, Invitation.id)
    )
    return [_invitation(row) for row in session.scalars(query)]


def pending_invitations_of_email(session: Session, email: str, now: datetime) -> list[InvitationRow]:
    """Every project's open invitations of ``email`` (what a user sees at login), oldest first."""
    query = (
        select(Invitation)
        .where(Invitation.email == email, Invitation.accepted_at.is_(None), Invitation.expires_at > now)
        .order_by(Invitation.created_at, Invitation.id)
    )
    return [_invitation(row) for row in session.scalars(query)]


def invitation_by_token_hash(session: Session, token_hash: str) -> InvitationRow | None:
    row = session.scalar(select(Invitation).where(Invitation.token_hash == token_hash))
    return None if row is None else _invitation(row)


def invitation_by_id(session: Session, invitation_id: str) -> InvitationRow | None:
    row = session.get(Invitation, invitation_id)
    return None if row is None else _invitation(row)


def mark_invitation_accepted(session: Session, invitation_id: str, when: datetime) -> bool:
    """Set ``accepted_at`` unless it is set already; answer whether this call set it (one winner)."""
    result = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation_id, Invitation.accepted_at.is_(None))
        .values(accepted_at=when)
    )
    return bool(getattr(result, "rowcount", 0))
