"""``POST /oauth/token``: an API key exchanged for a short-lived token, against a real server.

The client-credentials grant the original Raymon client logs in with (docs/migration.md): the
token is the key (its project, its scopes), expires, dies with its key, and failed attempts are
limited per client address. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
from server_helpers import text

TOKEN_FORM = {"grant_type": "client_credentials", "client_id": "my-service", "audience": "raymon-backend-api"}


def _token(server: Any, secret: str, **fields: str) -> httpx.Response:
    return httpx.post(f"{server.url}/oauth/token", data={**TOKEN_FORM, "client_secret": secret, **fields})


def _bearer(server: Any, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_token_is_the_key_with_its_project_and_scopes(server: Any) -> None:
    project = server.new_project()
    key = server.key(project, "ingest,read")
    response = _token(server, key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"].startswith("rmt_") and body["access_token"] != key
    assert response.headers["cache-control"] == "no-store"
    pid = project.project_id
    with _bearer(server, body["access_token"]) as client:
        assert client.post(f"/api/v1/projects/{pid}/ingest", json=text(pid, "t1")).status_code == 200
        assert client.get(f"/api/v1/projects/{pid}/traces/t1").status_code == 200
        denied = client.post(f"/api/v1/projects/{pid}/keys", json={"scopes": "read"})
        assert denied.status_code == 403 and "scope 'admin'" in denied.json()["detail"]
        assert client.get(f"/api/v1/projects/{server.project_id}/traces").status_code == 403


def test_a_read_key_gives_a_token_that_cannot_ingest(server: Any) -> None:
    project = server.new_project()
    token = _token(server, server.key(project, "read")).json()["access_token"]
    pid = project.project_id
    with _bearer(server, token) as client:
        assert client.get(f"/api/v1/projects/{pid}/traces").status_code == 200
        assert client.post(f"/api/v1/projects/{pid}/ingest", json=text(pid, "t")).status_code == 403


def test_the_grant_is_taken_as_json_and_with_basic_credentials(server: Any) -> None:
    project = server.new_project()
    key = server.key(project, "read")
    as_json = httpx.post(f"{server.url}/oauth/token", json={**TOKEN_FORM, "client_secret": key})
    assert as_json.status_code == 200, as_json.text
    basic = base64.b64encode(f"my-service:{key}".encode()).decode()
    as_basic = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert as_basic.status_code == 200, as_basic.text
    with _bearer(server, as_basic.json()["access_token"]) as client:
        assert client.get(f"/api/v1/projects/{project.project_id}/traces").status_code == 200


def test_revoking_the_key_ends_its_tokens_at_once(server: Any) -> None:
    project = server.new_project()
    with server.client(project.admin_key) as admin:
        created = admin.post(f"/api/v1/projects/{project.project_id}/keys", json={"scopes": "read"}).json()
    token = _token(server, created["key"]).json()["access_token"]
    url = f"/api/v1/projects/{project.project_id}/traces"
    with _bearer(server, token) as client:
        assert client.get(url).status_code == 200
        with server.client(project.admin_key) as admin:
            admin.delete(f"/api/v1/projects/{project.project_id}/keys/{created['key_id']}")
        refused = client.get(url)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    again = _token(server, created["key"])
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def test_a_token_expires_after_the_setting(make_server: Any) -> None:
    server = make_server(RAYMON_ACCESS_TOKEN_SECONDS="2")
    response = _token(server, server.admin_key)
    assert response.json()["expires_in"] == 2
    url = f"/api/v1/projects/{server.project_id}/traces"
    with _bearer(server, response.json()["access_token"]) as client:
        assert client.get(url).status_code == 200
        time.sleep(2.5)
        expired = client.get(url)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    with server.client() as client:  # the key itself still works
        assert client.get(url).status_code == 200


def test_a_wrong_secret_is_invalid_client_in_the_oauth_error_format(server: Any) -> None:
    response = _token(server, "rmn_not-a-key-of-this-server")
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client" and "client_secret" in body["error_description"]
    missing = httpx.post(f"{server.url}/oauth/token", data=TOKEN_FORM)
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_client"
    unknown_token = _bearer(server, "rmt_" + "x" * 43).get(f"/api/v1/projects/{server.project_id}/traces")
    assert unknown_token.status_code == 401


def test_unsupported_grants_and_interactive_login_are_refused_saying_what_to_use(server: Any) -> None:
    password = _token(server, server.admin_key, grant_type="password")
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    assert "client_credentials" in password.json()["error_description"]
    no_grant = httpx.post(f"{server.url}/oauth/token", data={"client_secret": server.admin_key})
    assert no_grant.status_code == 400 and no_grant.json()["error"] == "invalid_request"
    device = httpx.post(f"{server.url}/oauth/device/code", data={"client_id": "x", "audience": "a"})
    assert device.status_code == 400 and device.json()["error"] == "unauthorized_client"
    assert "machine credentials" in device.json()["error_description"]
    polling = _token(server, server.admin_key, grant_type="urn:ietf:params:oauth:grant-type:device_code")
    assert polling.json()["error"] == "unsupported_grant_type"
    assert "machine credentials" in polling.json()["error_description"]
    text_body = httpx.post(f"{server.url}/oauth/token", content=b"x", headers={"Content-Type": "text/plain"})
    assert text_body.status_code == 400 and "x-www-form-urlencoded" in text_body.json()["error_description"]


def test_failed_attempts_are_limited_per_client_address(make_server: Any) -> None:
    server = make_server(RAYMON_TOKEN_FAILURES_PER_MINUTE="3")
    assert _token(server, server.admin_key).status_code == 200  # successes are not counted
    for _ in range(3):
        assert _token(server, "rmn_wrong").status_code == 401
    limited = _token(server, server.admin_key)  # even the right secret, until the minute frees
    assert limited.status_code == 429 and limited.json()["error"] == "slow_down"
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    assert "RAYMON_TOKEN_FAILURES_PER_MINUTE" in limited.json()["error_description"]
    with server.client() as client:  # the API itself is not limited
        assert client.get(f"/api/v1/projects/{server.project_id}/traces").status_code == 200
