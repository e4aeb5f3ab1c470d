"""Start-up: headless initialisation, the first start's default project, restarts keep data, the demo's keys.

The live demo itself (traffic, issues, login, reset) is tested in tests/server/test_demo.py.
"""

from __future__ import annotations

import re

from server_helpers import counts, obj, tags, text
from sqlalchemy import select

from raymon.server.services import auth
from raymon.server.store.models import ApiKey

NO_INIT = {
    "RAYMON_INIT_PROJECT_ID": "",
    "RAYMON_INIT_API_KEY": "",
    "RAYMON_INIT_USER_EMAIL": "",
    "RAYMON_INIT_USER_PASSWORD": "",
}
KEY_RE = re.compile(r"rmn_[A-Za-z0-9_-]{20,}")


def test_headless_init_creates_the_project_key_and_admin_user(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as client:
        projects = client.get("/api/v1/projects").json()["projects"]
        members = client.get(f"/api/v1/projects/{server.project_id}/users").json()["users"]
    assert server.project_id in [p["project_id"] for p in projects]
    assert {"email": server.user_email, "role": "admin"}.items() <= members[0].items()
    database = server.database()
    with database.session() as session:
        assert auth.authenticate_user(session, server.user_email, server.user_password) is not None
        assert auth.authenticate_user(session, server.user_email, "wrong password") is None
        stored = session.scalar(select(ApiKey.key_hash).where(ApiKey.name == "init"))
    database.dispose()
    assert stored == auth.hash_key(server.admin_key) and server.admin_key not in stored


def test_a_restart_keeps_data_and_creates_nothing_twice(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    pid = server.project_id
    events = [text(pid, "t1"), tags(pid, "t1", {"a": 1}), obj(pid, "t1", "big", "x" * 70_000)]
    with server.client() as client:
        assert client.post(f"/api/v1/projects/{pid}/ingest", json=events).json()["accepted"] == 3
    before = counts(server, pid)
    server.restart()
    assert counts(server, pid) == before
    with server.client() as client:
        assert client.post(f"/api/v1/projects/{pid}/ingest", json=events).json()["duplicates"] == 3
        keys = client.get(f"/api/v1/projects/{pid}/keys").json()["keys"]
        users = client.get(f"/api/v1/projects/{pid}/users").json()["users"]
    assert len(keys) == 1 and len(users) == 1


def test_the_first_start_without_init_creates_a_default_project_and_prints_its_key_once(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**NO_INIT)
    keys = KEY_RE.findall(server.log())
    assert len(keys) == 1
    with server.client(keys[0]) as client:
        assert [p["project_id"] for p in client.get("/api/v1/projects").json()["projects"]] == ["default"]
    server.restart()
    assert KEY_RE.findall(server.log()) == keys  # the second start printed no new key
    assert "listening on" in server.log() and "Authorization: Bearer" in server.log()


def test_a_restart_with_the_demo_keeps_its_one_key_and_says_how_to_make_another(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--demo")
    demo_key = KEY_RE.findall(server.log().split("raymon: demo project")[1])[0]
    server.restart("--demo")
    second = server.log().split("raymon: demo project")[2]
    assert not KEY_RE.search(second)
    assert (
        "was printed at the first start" in second and "raymon key create demo --scopes ingest,read" in second
    )
    with server.client() as client:  # a key of the start-up project cannot list the demo's keys
        assert client.get("/api/v1/projects/demo/keys").status_code == 403
    database = server.database()
    with database.session() as session:
        names = session.scalars(
            select(ApiKey.name).where(ApiKey.project_id == "demo", ApiKey.revoked_at.is_(None))
        ).all()
    database.dispose()
    # The printed key, and the replay's two service keys of this start (those of the first are revoked).
    assert sorted(names) == ["demo", "demo labelling service", "demo pricing service"]
    with server.client(demo_key) as client:  # the key printed at the first start still works
        assert client.get("/api/v1/projects/demo").status_code == 200


def test_the_start_up_project_s_admins_administer_the_demo(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--demo")
    database = server.database()
    with database.session() as session:
        user = auth.authenticate_user(session, server.user_email, server.user_password)
        assert user is not None
        principal = auth.principal_for_user(session, user.id)
    database.dispose()
    assert principal is not None and principal.allows("demo", "admin")
    assert "raymon: an admin key of the demo project: raymon key create demo --scopes admin" in server.log()


def test_a_key_of_another_project_is_told_which_key_would_do(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--demo", **NO_INIT)
    admin_key, demo_key = KEY_RE.findall(server.log())
    with server.client(admin_key) as client:
        detail = client.get("/api/v1/projects/demo/traces").json()["detail"]
    assert detail == (
        "this key is for project 'default' (scopes ingest, read, admin); project 'demo' needs a key of "
        "that project with scope 'read' (raymon key create demo --scopes read)"
    )
    with server.client(demo_key) as client:
        detail = client.get("/api/v1/projects/demo/keys").json()["detail"]
        assert "this key is for project 'demo' (scopes ingest, read)" in detail
        assert "scope 'admin' (raymon key create demo --scopes admin)" in detail
        detail = client.post("/api/v1/projects", json={"name": "new"}).json()["detail"]
        assert "needs a key with scope 'admin' in some project" in detail
