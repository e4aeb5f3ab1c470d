"""What the UI's login will call: a user's open invitations, and accepting one as that user.

On a real database (SQLite and PostgreSQL), through the services and a ``Backend`` (no HTTP: the
UI has no login route yet; the HTTP flow is in tests/server/test_accounts.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from raymon.server.backend import Backend, build_backend
from raymon.server.services import auth, invitations
from raymon.server.services.errors import NotFoundError
from raymon.server.settings import Settings


@pytest.fixture
def accounts_backend(backend: str, postgres_databases, tmp_path: Path) -> Iterator[Backend]:  # type: ignore[no-untyped-def]
    url = postgres_databases.create() if backend == "postgresql" else ""
    built = build_backend(Settings(data_dir=tmp_path, database_url=url))
    built.database.migrate()
    yield built
    built.close()
    if url:
        postgres_databases.drop(url)


def test_a_user_sees_and_accepts_only_the_invitations_of_their_own_address(accounts_backend: Backend) -> None:
    b = accounts_backend
    a, _, _ = auth.new_project(b, "A", "a")
    auth.new_project(b, "B", "b")
    ana = auth.new_user(b, "ana@example.com", "a long password", "b", "admin")
    bob = auth.new_user(b, "bob@example.com", "a long password")
    invitation, _ = invitations.invite(b, "a", "Ana@example.com", "viewer")

    assert [i.id for i in invitations.open_invitations_of_user(b, ana.id)] == [invitation.id]
    assert invitations.open_invitations_of_user(b, bob.id) == []
    with pytest.raises(NotFoundError):
        invitations.accept_invitation_as_user(b, bob.id, invitation.id)
    assert [m["email"] for m in auth.members(b, "a")] == []

    accepted = invitations.accept_invitation_as_user(b, ana.id, invitation.id)
    assert (accepted.project_id, accepted.role) == ("a", "viewer")
    assert auth.members(b, "a") == [
        {"email": "ana@example.com", "role": "viewer", "created_at": ana.created_at.isoformat()}
    ]
    assert invitations.open_invitations_of_user(b, ana.id) == []
    with pytest.raises(NotFoundError):
        invitations.accept_invitation_as_user(b, ana.id, invitation.id)
    assert a.id == "a"
