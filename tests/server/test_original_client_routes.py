"""The routes in the shapes the original Raymon client (0.0.39) calls, against a real server.

Requests are built as the original's ``RaymonAPI`` builds them (its routes, bodies and query
names); the original itself runs in ``test_original_client.py``.
"""

from __future__ import annotations

from typing import Any

import httpx
from server_helpers import tags, text

PROFILE = {"name": "houses", "version": "1.0.0", "raymon_version": "0.0.39", "components": {}, "scores": {}}


def test_m2m_makes_an_ingest_and_read_key_in_the_original_shape(server: Any) -> None:
    project = server.new_project()
    pid = project.project_id
    with server.client(project.admin_key) as admin:
        response = admin.post(f"/api/v1/projects/{pid}/m2m")
        assert response.status_code == 201
        credentials = response.json()[pid]
        assert set(credentials) == {"client_id", "client_secret"}
        listed = {k["key_id"]: k for k in admin.get(f"/api/v1/projects/{pid}/keys").json()["keys"]}
        assert listed[credentials["client_id"]]["scopes"] == ["ingest", "read"]
        shown = admin.get(f"/api/v1/projects/{pid}/m2m")
        assert shown.status_code == 404 and "POST" in shown.json()["detail"]
    token = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": credentials["client_secret"]},
    ).json()["access_token"]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as machine:
        assert machine.post(f"/api/v1/projects/{pid}/ingest_batch", json=[text(pid, "t")]).status_code == 200
        assert machine.post(f"/api/v1/projects/{pid}/m2m").status_code == 403  # not an admin key


def test_a_project_is_created_from_the_original_project_name(server: Any) -> None:
    with server.client() as admin:
        response = admin.post("/api/v1/projects", json={"project_name": "Old service"})
        assert response.status_code == 201 and response.json()["project_id"] == "old-service"
        old_id = "d6ac1bf0-4e22-43ae-a85e-3cb2c1e5da80"  # the original's ids were UUIDs
        kept = admin.post("/api/v1/projects", json={"project_name": "Old ids", "project_id": old_id})
        assert kept.status_code == 201 and kept.json()["project_id"] == old_id


def test_profiles_are_stored_and_read_by_name_and_version(server: Any) -> None:
    project = server.new_project()
    base = f"/api/v1/projects/{project.project_id}/profiles"
    with server.client(project.admin_key) as client:
        created = client.post(f"{base}/houses/1.0.0", json=PROFILE)
        assert created.status_code == 201 and created.json()["ref"] == "houses@1.0.0"
        assert client.post(f"{base}/houses/1.0.0", json=PROFILE).status_code == 200  # the same again
        assert client.get(f"{base}/houses/1.0.0").json() == PROFILE
        assert client.get(f"{base}/houses@1.0.0").json() == PROFILE
        elsewhere = client.post(f"{base}/houses/2.0.0", json=PROFILE)
        assert elsewhere.status_code == 422 and "houses@1.0.0" in elsewhere.json()["detail"]
        assert client.get(f"{base}/houses/9.9.9").status_code == 404


def test_the_original_query_names_select_like_ours(server: Any) -> None:
    project = server.new_project()
    pid = project.project_id
    events = [tags(pid, f"t{i}", {"client": "remax" if i % 2 else "other"}, at=i) for i in range(6)]
    with server.client(project.admin_key) as client:
        assert client.post(f"/api/v1/projects/{pid}/ingest", json=events).status_code == 200
        sliced = client.get(
            f"/api/v1/projects/{pid}/traces",
            params={"slicestr": "client==remax", "lim": 2, "begin": "2026-01-01T00:00:00+00:00"},
        ).json()
        assert [t["trace_id"] for t in sliced["traces"]] == ["t5", "t3"] and sliced["next_cursor"]
        everything = client.get(f"/api/v1/projects/{pid}/traces", params={"slicestr": "", "lim": 250})
        assert len(everything.json()["traces"]) == 6
        both = client.get(f"/api/v1/projects/{pid}/traces", params={"lim": 2, "limit": 3})
        assert both.status_code == 422 and "'lim'" in both.json()["detail"]
        objects = client.get(f"/api/v1/projects/{pid}/objects", params={"lim": 1})
        assert objects.status_code == 200
