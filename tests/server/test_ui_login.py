"""Signing in to the web UI, the project picker, and the headers and CSRF checks every page has.

Real server processes; the fast tier through HTTP, one test in Debian's Chromium.
"""

from __future__ import annotations

from typing import Any

import httpx
from ui_browser import sign_in, ui_client

from raymon.server.ui.security import CONTENT_SECURITY_POLICY


def test_a_page_without_a_session_sends_the_browser_to_the_login_page(server: Any) -> None:
    with httpx.Client(base_url=server.url) as client:
        response = client.get("/projects/x?filter=a%3D%3Db")
    assert response.status_code == 303
    assert (
        response.headers["location"] == "/login?next=/projects/x%3Ffilter%3Da%253D%253Db"
    )  # quoted once more


def test_signing_in_sets_an_httponly_lax_cookie_and_lists_the_users_projects(server: Any) -> None:
    with httpx.Client(base_url=server.url) as client:
        response = client.post(
            "/login", data={"email": server.user_email, "password": server.user_password, "next": "/"}
        )
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("raymon_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain HTTP here; under TLS it is Secure
        page = client.get("/")
    assert page.status_code == 200
    assert server.project_id in page.text and "Sign out" in page.text


def test_a_wrong_password_is_refused_with_one_message_for_every_failure(server: Any) -> None:
    with httpx.Client(base_url=server.url) as client:
        wrong = client.post("/login", data={"email": server.user_email, "password": "nope"})
        unknown = client.post("/login", data={"email": "nobody@example.com", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 400
    assert (
        "Wrong e-mail address or password." in wrong.text
        and "Wrong e-mail address or password." in unknown.text
    )
    assert "raymon_session" not in wrong.headers.get("set-cookie", "")


def test_login_sends_nobody_to_another_site(server: Any) -> None:
    with httpx.Client(base_url=server.url) as client:
        for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
            response = client.post(
                "/login", data={"email": server.user_email, "password": server.user_password, "next": target}
            )
            assert response.headers["location"] == "/", target


def test_logging_out_revokes_the_session_on_the_server(server: Any) -> None:
    with ui_client(server) as client:
        token = client.cookies["raymon_session"]
        assert client.post("/logout").status_code == 303
    with httpx.Client(base_url=server.url, cookies={"raymon_session": token}) as replay:
        assert replay.get("/").status_code == 303  # the old cookie no longer signs anyone in


def test_a_project_the_viewer_is_no_member_of_is_not_found(server: Any) -> None:
    with ui_client(server) as client:
        response = client.get("/projects/no-such-project")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"] and "no project" in response.text


def test_every_page_carries_the_security_headers(server: Any) -> None:
    with httpx.Client(base_url=server.url) as client:
        response = client.get("/login")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_a_cross_site_form_post_is_refused(server: Any) -> None:
    with ui_client(server) as client:
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
            response = client.post("/logout", headers=headers)
            assert response.status_code == 403 and "cross-site request refused" in response.text
        del client.headers["Sec-Fetch-Site"]
        response = client.post("/logout", headers={"Origin": "https://evil.example"})
        assert response.status_code == 403
        assert client.get("/").status_code == 200  # still signed in: nothing was done


def test_signing_in_in_a_browser_shows_the_projects(server: Any, ui_page: Any) -> None:
    sign_in(ui_page, server)
    assert ui_page.locator("h1").inner_text() == "Projects"
    assert ui_page.locator(f"text={server.project_id}").count() >= 1
    ui_page.click("text=Sign out")
    ui_page.wait_for_url("**/login")
