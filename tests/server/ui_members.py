"""People for UI tests: ``new_member(server, role)`` enrols a fresh user through an invitation.

The shared server's start-up admin (``server.user_email``) must keep its password and its
sign-in counts clean for every other test, so tests that change a password, fail sign-ins or
need a viewer make their own person: the admin key invites a new address to the project and
the person accepts with a password, as through the API (docs/server.md, Invitations).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Member:
    email: str
    password: str


def new_member(server: Any, role: str = "viewer", project_id: str | None = None) -> Member:
    """A new user with ``role`` in ``project_id`` (default: the server's start-up project)."""
    project_id = project_id or server.project_id
    member = Member(f"person-{uuid.uuid4().hex[:10]}@example.com", f"a long password {uuid.uuid4().hex[:6]}")
    with server.client() as client:
        invited = client.post(
            f"/api/v1/projects/{project_id}/users", json={"email": member.email, "role": role}
        )
    assert invited.status_code == 201, invited.text
    with server.client(invited.json()["token"]) as client:
        accepted = client.post(
            "/api/v1/invitations/accept", json={"email": member.email, "password": member.password}
        )
    assert accepted.status_code == 200, accepted.text
    return member


def stored_password_hash(server: Any, email: str) -> str:
    """What the server's database holds for ``email``'s password."""
    from raymon.server.store import accounts

    database = server.database()
    try:
        with database.session() as session:
            user = accounts.user_by_email(session, email)
            assert user is not None, email
            return user.password_hash
    finally:
        database.dispose()


def store_password_hash(server: Any, email: str, password_hash: str) -> None:
    """Put ``password_hash`` in place of ``email``'s (an account from an older version)."""
    from raymon.server.store import accounts

    database = server.database()
    try:
        with database.write_session() as session:
            user = accounts.user_by_email(session, email)
            assert user is not None, email
            accounts.set_password_hash(session, user.id, password_hash)
    finally:
        database.dispose()
