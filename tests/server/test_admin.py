"""Projects, keys, users and roles through ``RaymonAPI`` against a real server."""

from __future__ import annotations

from server_helpers import text


def test_a_created_project_comes_with_an_admin_key_that_only_reaches_it(server) -> None:  # type: ignore[no-untyped-def]
    with server.api() as api:
        response = api.project_create("House prices")
    assert response.status_code == 201
    body = response.json()
    assert body["project_id"] == "house-prices" and body["key"].startswith("rmn_")
    with server.api(body["key"]) as api:
        assert [p["project_id"] for p in api.projects_ls().json()["projects"]] == [body["project_id"]]
        assert api.project_get(server.project_id).status_code == 403


def test_a_project_id_can_be_chosen_but_not_taken_twice(server) -> None:  # type: ignore[no-untyped-def]
    with server.api() as api:
        assert api.project_create("Chosen", project_id="chosen-id").json()["project_id"] == "chosen-id"
        response = api.project_create("Again", project_id="chosen-id")
        assert response.status_code == 409 and "chosen-id" in response.json()["detail"]
        response = api.project_create("chosen ID")  # the slug chosen-id is taken: refused, not suffixed
        assert response.status_code == 409 and "'chosen-id' exists already" in response.json()["detail"]
        response = api.project_create("CHOSEN")  # the name is taken (by chosen-id)
        assert response.status_code == 409 and "'chosen-id'" in response.json()["detail"]
        response = api.project_create("Bad", project_id="no spaces please")
        assert response.status_code == 422 and "project_id" in response.json()["detail"]


def test_only_an_admin_key_creates_projects(server) -> None:  # type: ignore[no-untyped-def]
    key = server.key(server.project_id, "ingest,read")
    with server.api(key) as api:
        assert api.project_create("Nope").status_code == 403


def test_keys_are_created_listed_without_secret_and_revoked(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    with server.api(project.admin_key) as api:
        created = api.key_create(project.project_id, ["ingest"], name="shipper").json()
        assert created["scopes"] == ["ingest"] and created["key"].startswith(created["key_prefix"])
        assert len(created["key_prefix"]) == 8  # rmn_ + 4: the rest of the key is never stored
        listed = api.key_ls(project.project_id).json()["keys"]
        assert created["key_id"] in [k["key_id"] for k in listed]
        assert all("key" not in k and "key_hash" not in k for k in listed)
    with server.api(created["key"]) as api:
        assert api.ingest(project.project_id, text(project.project_id, "t")).status_code == 200
    with server.api(project.admin_key) as api:
        revoked = api.key_revoke(project.project_id, created["key_id"]).json()
        assert revoked["revoked_at"] is not None
    with server.api(created["key"]) as api:
        response = api.ingest(project.project_id, text(project.project_id, "t"))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_a_key_with_an_unknown_scope_is_refused_naming_it(server) -> None:  # type: ignore[no-untyped-def]
    with server.api() as api:
        response = api.key_create(server.project_id, "read,write")
    assert response.status_code == 422 and "write" in response.json()["detail"]


def test_a_key_of_another_project_cannot_be_revoked_through_this_one(server) -> None:  # type: ignore[no-untyped-def]
    a, b = server.new_project(), server.new_project()
    with server.api(b.admin_key) as api:
        b_key = api.key_create(b.project_id, "read").json()
    with server.api(a.admin_key) as api:
        assert api.key_revoke(a.project_id, b_key["key_id"]).status_code == 404


def test_users_join_by_invitation_and_members_get_roles(server) -> None:  # type: ignore[no-untyped-def]
    """The whole flow through ``RaymonAPI``; the hostile cases are in test_accounts.py."""
    a = server.new_project()
    with server.api(a.admin_key) as api:
        response = api.user_invite(a.project_id, "Ana@Example.com", role="viewer")
        assert response.status_code == 201 and response.json()["email"] == "ana@example.com"
        token = response.json()["token"]
        assert [i["email"] for i in api.invitations_ls(a.project_id).json()["invitations"]] == [
            "ana@example.com"
        ]
    with server.api("") as anonymous:
        accepted = anonymous.invitation_accept(token, "ana@example.com", "a long password")
        assert accepted.status_code == 200, accepted.text
    with server.api(a.admin_key) as api:
        assert api.invitations_ls(a.project_id).json()["invitations"] == []
        assert api.role_set(a.project_id, "ana@example.com", "admin").json()["role"] == "admin"
        assert api.users_ls(a.project_id).json()["users"][0]["role"] == "admin"
        assert api.role_set(a.project_id, "ana@example.com", "owner").status_code == 422
        assert api.user_remove(a.project_id, "ana@example.com").json()["removed"] is True
        assert api.users_ls(a.project_id).json()["users"] == []
        second = api.user_invite(a.project_id, "bob@example.com").json()
        assert api.invitation_revoke(a.project_id, second["invitation_id"]).json()["revoked"] is True
