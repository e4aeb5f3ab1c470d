"""The API keys page (/projects/{p}/settings/keys): a key is shown once, revoked after a confirmation,
and only an admin may do either. Real server processes; the fast tier over HTTP, one test in Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ui_browser import sign_in, ui_client
from ui_members import new_member


def _keys_url(server: Any) -> str:
    return f"/projects/{server.project_id}/settings/keys"


def _api_status(server: Any, key: str) -> int:
    with server.client(key) as client:
        return client.get(f"/api/v1/projects/{server.project_id}/traces").status_code


def test_a_new_key_is_shown_once_works_and_is_listed_by_its_hint_only(server: Any) -> None:
    with ui_client(server) as client:
        page = client.get(_keys_url(server))
        assert page.status_code == 200 and "Create key" in page.text
        created = client.post(_keys_url(server), data={"name": "nightly <b>job</b>", "scopes": ["read"]})
        assert created.status_code == 201, created.text
        assert created.headers["cache-control"] == "no-store"
        (key,) = re.findall(r'value="(rmn_[A-Za-z0-9_-]{43})"', created.text)
        assert "nightly &lt;b&gt;job&lt;/b&gt;" in created.text  # a name is text, escaped
        assert _api_status(server, key) == 200  # a read key reads
        listing = client.get(_keys_url(server)).text
        assert key not in listing and key[:8] in listing  # the hint, never the key
        assert "nightly &lt;b&gt;job&lt;/b&gt;" in listing
    assert key not in server.log()


def test_a_key_is_revoked_after_a_confirmation_and_stops_working(server: Any) -> None:
    with ui_client(server) as client:
        created = client.post(_keys_url(server), data={"name": "to revoke", "scopes": ["ingest", "read"]})
        (key,) = re.findall(r'value="(rmn_[A-Za-z0-9_-]{43})"', created.text)
        (key_id,) = re.findall(r"id <code>([0-9a-f]{32})</code>", created.text)
        confirm = client.get(f"{_keys_url(server)}/{key_id}/revoke")  # asks, changes nothing
        assert confirm.status_code == 200 and "Revoke this key?" in confirm.text
        assert _api_status(server, key) == 200
        revoked = client.post(f"{_keys_url(server)}/{key_id}/revoke")
        assert revoked.status_code == 303
        assert revoked.headers["location"] == f"{_keys_url(server)}?revoked={key_id}"
        notice = client.get(revoked.headers["location"]).text
        assert "is revoked" in notice and "to revoke" in notice
    assert _api_status(server, key) == 401


def test_a_key_without_scopes_is_refused_naming_them(server: Any) -> None:
    with ui_client(server) as client:
        refused = client.post(_keys_url(server), data={"name": "nothing"})
    assert refused.status_code == 422
    assert "scopes must name at least one of ingest, read, admin" in refused.text
    assert 'value="nothing"' in refused.text  # the form keeps what was typed


def test_a_viewer_sees_the_keys_but_no_buttons_and_is_refused_every_action(server: Any) -> None:
    viewer = new_member(server, "viewer")
    with ui_client(server) as admin:
        created = admin.post(_keys_url(server), data={"name": "kept", "scopes": ["read"]})
        (key,) = re.findall(r'value="(rmn_[A-Za-z0-9_-]{43})"', created.text)
        (key_id,) = re.findall(r"id <code>([0-9a-f]{32})</code>", created.text)
    with ui_client(server, viewer.email, viewer.password) as client:
        page = client.get(_keys_url(server))
        assert page.status_code == 200 and "kept" in page.text
        assert "Create key" not in page.text and "/revoke" not in page.text
        assert f'action="{_keys_url(server)}' not in page.text  # no form to post
        actions = [
            client.post(_keys_url(server), data={"name": "mine", "scopes": ["admin"]}),
            client.get(f"{_keys_url(server)}/{key_id}/revoke"),
            client.post(f"{_keys_url(server)}/{key_id}/revoke"),
        ]
        for response in actions:
            assert response.status_code == 403, response.request.url
            assert "admin" in response.text and "text/html" in response.headers["content-type"]
    assert _api_status(server, key) == 200  # nothing was revoked


def test_a_key_of_another_project_cannot_be_revoked_from_this_ones_page(server: Any) -> None:
    other = server.new_project()
    with server.client(other.admin_key) as client:
        key_id = client.get(f"/api/v1/projects/{other.project_id}/keys").json()["keys"][0]["key_id"]
    with ui_client(server) as client:
        assert client.post(f"{_keys_url(server)}/{key_id}/revoke").status_code == 404
    assert _api_status_of(server, other.project_id, other.admin_key) == 200


def _api_status_of(server: Any, project_id: str, key: str) -> int:
    with server.client(key) as client:
        return client.get(f"/api/v1/projects/{project_id}").status_code


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_creating_and_revoking_a_key_in_a_browser(server: Any, ui_page: Any) -> None:
    sign_in(ui_page, server)
    ui_page.goto(f"{server.url}{_keys_url(server)}")
    ui_page.fill("input[name=name]", "browser key")
    ui_page.click("text=Create key")
    field = ui_page.locator("input.secret")
    key = field.input_value()
    assert key.startswith("rmn_")
    field.focus()  # app.js selects it, ready to copy
    assert (
        ui_page.evaluate(
            "() => window.getSelection().toString() || document.activeElement.value.substring(document.activeElement.selectionStart, document.activeElement.selectionEnd)"
        )
        == key
    )
    ui_page.click("text=Back to the keys")
    row = ui_page.locator("tr", has_text="browser key")
    row.locator("text=Revoke…").click()
    ui_page.click("button:has-text('Revoke the key')")
    ui_page.wait_for_url(re.compile(r".*\?revoked=[0-9a-f]{32}$"))
    assert ui_page.locator(".notice").inner_text().startswith("Key browser key")
    assert _api_status(server, key) == 401


def _last_used_cell(html: str, key_id: str) -> str:
    """The "Last used" cell of key ``key_id``'s row (the row holds its revoke link for an admin)."""
    row = next(r for r in html.split("<tr") if f"/{key_id}/revoke" in r)
    return row.split('class="last-used">', 1)[1].split("</td>", 1)[0]


def test_the_list_and_the_keys_api_show_when_a_key_was_last_used(server: Any) -> None:
    import time

    with ui_client(server) as client:
        created = client.post(_keys_url(server), data={"name": "last used", "scopes": ["admin"]})
        (key,) = re.findall(r'value="(rmn_[A-Za-z0-9_-]{43})"', created.text)
        (key_id,) = re.findall(r"id <code>([0-9a-f]{32})</code>", created.text)
        assert "never" in _last_used_cell(client.get(_keys_url(server)).text, key_id)
        assert _api_status(server, key) == 200  # a use; its time is written in the background
        deadline = time.monotonic() + 30
        while "<time" not in (cell := _last_used_cell(client.get(_keys_url(server)).text, key_id)):
            assert time.monotonic() < deadline, "the key's use was never recorded"
            time.sleep(0.2)
        (shown,) = re.findall(r'<time datetime="([^"]+)">', cell)
        with server.client(key) as api:  # another use, within the minute: not written again
            listed = api.get(f"/api/v1/projects/{server.project_id}/keys").json()["keys"]
        (mine,) = [k for k in listed if k["key_id"] == key_id]
        assert mine["last_used_at"] is not None
        time.sleep(1.0)
        again = _last_used_cell(client.get(_keys_url(server)).text, key_id)
    assert re.findall(r'<time datetime="([^"]+)">', again) == [shown]
