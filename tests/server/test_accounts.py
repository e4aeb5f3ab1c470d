"""Accounts hardening (issue 10), against a real server on SQLite and PostgreSQL.

- Users are global, so a project admin invites and never enrols: the same answer for every
  address, enrolment only when the person accepts (with their password, or creating the account).
- API keys keep only a short hint in plain text; a chosen init key must be as strong as a random one.
- Project ids that are or start with a dot are refused everywhere they enter.
- NUL characters in any text an admin route takes are a 422 on both databases, never a 500.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from server_helpers import obj
from test_cli import raymon

from raymon.server.services import auth

PASSWORD = "a long password"


def _address() -> str:
    return f"person-{uuid.uuid4().hex[:10]}@example.com"


def _accept(server, token: str, email: str, password: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    with server.client(token) as client:
        return client.post("/api/v1/invitations/accept", json={"email": email, "password": password})


def _invite(server, project, email: str, role: str = "viewer") -> httpx.Response:  # type: ignore[no-untyped-def]
    with server.client(project.admin_key) as client:
        return client.post(
            f"/api/v1/projects/{project.project_id}/users", json={"email": email, "role": role}
        )


def _members(server, project) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with server.client(project.admin_key) as client:
        users = client.get(f"/api/v1/projects/{project.project_id}/users").json()["users"]
    return {u["email"]: u["role"] for u in users}


def _password_works(server, email: str, password: str) -> bool:  # type: ignore[no-untyped-def]
    database = server.database()
    try:
        with database.session() as session:
            return auth.authenticate_user(session, email, password) is not None
    finally:
        database.dispose()


# --- users: invitations ------------------------------------------------------------------------


def test_inviting_answers_alike_for_a_registered_and_an_unknown_address_and_enrols_nobody(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    registered = _invite(server, project, server.user_email)  # the admin user of another project
    unknown = _invite(server, project, _address())
    assert registered.status_code == unknown.status_code == 201
    assert set(registered.json()) == set(unknown.json())
    assert registered.json()["token"].startswith("rmi_") and "created" not in registered.json()
    assert _members(server, project) == {}


def test_an_existing_user_is_enrolled_only_by_accepting_with_their_own_password(server) -> None:  # type: ignore[no-untyped-def]
    owner, other = server.new_project(), server.new_project()
    email = _address()
    first = _invite(server, owner, email).json()
    assert _accept(server, first["token"], email, PASSWORD).json()["created"] is True

    guess = _invite(server, other, email, role="admin").json()
    response = _accept(server, guess["token"], email, "the admin's guess")
    assert response.status_code == 401 and "void" in response.json()["detail"]
    assert _accept(server, guess["token"], email, PASSWORD).status_code == 401  # one guess per invitation
    assert _members(server, other) == {}

    again = _invite(server, other, email, role="admin").json()
    response = _accept(server, again["token"], email, PASSWORD)
    assert response.status_code == 200
    assert response.json() == {
        "project_id": other.project_id,
        "email": email,
        "role": "admin",
        "created": False,
    }
    assert _members(server, other) == {email: "admin"}
    assert _password_works(server, email, PASSWORD) and not _password_works(
        server, email, "the admin's guess"
    )


def test_an_unknown_address_sets_up_its_account_by_accepting_once(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    email = _address()
    token = _invite(server, project, email.upper()).json()["token"]
    assert _accept(server, token, email, "short").status_code == 422  # nothing spent
    response = _accept(server, token, email.upper(), PASSWORD)
    assert response.status_code == 200 and response.json()["created"] is True
    assert _members(server, project) == {email: "viewer"} and _password_works(server, email, PASSWORD)
    assert _accept(server, token, email, PASSWORD).status_code == 401  # used
    assert _invite(server, project, email).status_code == 409  # a member already: change the role


def test_invitations_are_listed_without_tokens_replaced_and_revoked(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    email = _address()
    old = _invite(server, project, email).json()
    new = _invite(server, project, email, role="admin").json()
    assert _accept(server, old["token"], email, PASSWORD).status_code == 401  # replaced
    with server.client(project.admin_key) as client:
        base = f"/api/v1/projects/{project.project_id}/invitations"
        listed = client.get(base).json()["invitations"]
        assert [(i["invitation_id"], i["role"]) for i in listed] == [(new["invitation_id"], "admin")]
        assert all("token" not in i and "token_hash" not in i for i in listed)
        assert client.delete(f"{base}/{new['invitation_id']}").json()["revoked"] is True
        assert client.delete(f"{base}/{new['invitation_id']}").status_code == 404
        assert client.get(base).json()["invitations"] == []
    assert _accept(server, new["token"], email, PASSWORD).status_code == 401


def test_an_invitation_of_one_project_cannot_be_revoked_through_another(server) -> None:  # type: ignore[no-untyped-def]
    a, b = server.new_project(), server.new_project()
    invitation = _invite(server, b, _address()).json()
    with server.client(a.admin_key) as client:
        response = client.delete(f"/api/v1/projects/{a.project_id}/invitations/{invitation['invitation_id']}")
    assert response.status_code == 404


def test_accepting_takes_the_invitation_token_for_the_invited_address_only(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    email = _address()
    token = _invite(server, project, email).json()["token"]
    with server.client(project.admin_key) as client:  # an API key is not the credential here
        response = client.post("/api/v1/invitations/accept", json={"email": email, "password": PASSWORD})
    assert response.status_code == 403 and "invitation token" in response.json()["detail"]
    assert _accept(server, token, _address(), PASSWORD).status_code == 403
    assert _accept(server, "rmi_" + "x" * 43, email, PASSWORD).status_code == 401
    assert _accept(server, token, email, PASSWORD).status_code == 200


def test_an_admin_cannot_set_a_password_role_or_removal_for_someone_not_in_their_project(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    base = f"/api/v1/projects/{project.project_id}/users"
    with server.client(project.admin_key) as client:
        response = client.post(base, json={"email": _address(), "password": PASSWORD})
        assert response.status_code == 422 and "password" in response.text
        answers = []
        for email in (server.user_email, _address()):  # registered elsewhere, and unknown
            role = client.put(f"{base}/{email}/role", json={"role": "admin"})
            removed = client.delete(f"{base}/{email}")
            answers.append((role.status_code, removed.status_code))
            assert "is not a member of project" in role.json()["detail"] == removed.json()["detail"]
    assert answers == [(404, 404), (404, 404)]
    assert _members(server, project) == {}


# --- API keys ----------------------------------------------------------------------------------


def test_a_key_keeps_only_a_hint_of_four_characters_and_is_revoked_by_id(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    with server.client(project.admin_key) as client:
        base = f"/api/v1/projects/{project.project_id}/keys"
        created = client.post(base, json={"scopes": "read"}).json()
        assert created["key_prefix"] == created["key"][:8] and created["key_prefix"].startswith("rmn_")
        assert client.delete(f"{base}/{created['key_prefix']}").status_code == 404  # not by the hint
        assert client.delete(f"{base}/{created['key_id']}").json()["revoked_at"] is not None
    database = server.database()
    from sqlalchemy import select

    from raymon.server.store.models import ApiKey

    with database.session() as session:
        prefixes = session.scalars(select(ApiKey.key_prefix)).all()
    database.dispose()
    assert prefixes and all(len(p) <= 8 for p in prefixes)


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("rmn_test_admin_key_0123456789", "too weak (25 characters)"),
        ("Tr0ub4dor&3-Tr0ub4dor&3-Tr0ub4dor&3", "too weak"),  # '&' is not urlsafe
        ("rmn_" + "ab" * 20, "too weak (2 different characters)"),
    ],
)
def test_a_weak_init_key_stops_start_up_naming_the_variable_and_the_rule(
    make_server, key: str, why: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError) as failed:
        make_server(RAYMON_INIT_API_KEY=key)
    message = str(failed.value)
    assert "RAYMON_INIT_API_KEY" in message and why in message and "at least 32 characters" in message
    assert key not in message


# --- project ids -------------------------------------------------------------------------------


@pytest.mark.parametrize("project_id", [".", "..", ".hidden"])
def test_a_project_id_that_starts_with_a_dot_is_refused_by_the_api(server, project_id: str) -> None:  # type: ignore[no-untyped-def]
    with server.client() as client:
        response = client.post("/api/v1/projects", json={"name": "dotted", "project_id": project_id})
    assert response.status_code == 422 and "must not start with a dot" in response.json()["detail"]


def test_a_dotted_project_id_is_refused_by_the_cli_and_by_headless_init(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    raymon("migrate", "--create", data_dir=tmp_path)  # management commands need an existing database
    result = raymon("project", "create", "Dots", "--id", "..", data_dir=tmp_path, check=False)
    assert result.returncode == 1 and "must not start with a dot" in result.stderr
    with pytest.raises(RuntimeError, match="must not start with a dot"):
        make_server(RAYMON_INIT_PROJECT_ID="..")


def test_a_dotted_project_made_before_the_rule_refuses_records_one_by_one(server) -> None:  # type: ignore[no-untyped-def]
    """A project ``..`` stored by an older version: its large objects are refused per record, never a 500."""
    database = server.database()
    with database.session() as session:
        from raymon.server.store import accounts

        if accounts.get_project(session, "..") is None:
            accounts.insert_project(session, "..", "old dotted", auth._now())
        row, key = auth.create_key(session, "..", "admin")
        session.commit()
    database.dispose()
    with server.client(key) as client:
        response = client.post("/api/v1/projects/%2E%2E/ingest", json=[obj("..", "t", "big", "x" * 70_000)])
    assert response.status_code == 422, response.text
    assert response.json()["rejected"][0]["index"] == 0
    assert "must not start with a dot" in response.json()["rejected"][0]["error"]


# --- NUL characters: the whole class on every admin path ---------------------------------------

NUL = "\x00"


def _nul_cases(project_id: str, invitation_id: str) -> list[tuple[str, str, object]]:
    p = f"/api/v1/projects/{project_id}"
    return [
        ("POST", "/api/v1/projects", {"name": f"a{NUL}b"}),
        ("POST", "/api/v1/projects", {"name": "ok", "project_id": f"a{NUL}b"}),
        ("POST", f"{p}/keys", {"scopes": "read", "name": f"svc{NUL}"}),
        ("POST", f"{p}/keys", {"scopes": f"read{NUL}"}),
        ("DELETE", f"{p}/keys/%00", None),
        ("DELETE", f"{p}/keys/ab%00cd", None),
        ("POST", f"{p}/users", {"email": f"a{NUL}@example.com"}),
        ("POST", f"{p}/users", {"email": "a@example.com", "role": f"viewer{NUL}"}),
        ("PUT", f"{p}/users/a%00@example.com/role", {"role": "viewer"}),
        ("PUT", f"{p}/users/a@example.com/role", {"role": NUL}),
        ("DELETE", f"{p}/users/a%00@example.com", None),
        ("DELETE", f"{p}/invitations/%00", None),
        ("DELETE", f"{p}/invitations/{invitation_id}%00", None),
    ]


def test_nul_characters_in_any_admin_text_or_path_are_a_422(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    email = _address()
    invitation = _invite(server, project, email).json()
    failures = []
    with server.client(project.admin_key) as client:
        for method, path, body in _nul_cases(project.project_id, invitation["invitation_id"]):
            response = client.request(method, path, **({"json": body} if body is not None else {}))
            if response.status_code != 422:
                failures.append((method, path, body, response.status_code, response.text))
        assert client.get("/api/v1/projects/%00").status_code == 403  # no such grant: no query at all
    response = _accept(server, invitation["token"], f"{email}{NUL}", PASSWORD)
    if response.status_code != 422:
        failures.append(("POST", "/api/v1/invitations/accept", "email", response.status_code, response.text))
    assert failures == []
    assert (
        _accept(server, invitation["token"], email, f"pass{NUL}word").status_code == 200
    )  # hashed, never stored
