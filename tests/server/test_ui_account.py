"""Signing in, hardened: old password hashes replaced at sign-in, failed sign-ins rate-limited, the
password change ending the other sessions, and the session cookie Secure under TLS (or behind a
TLS-terminating proxy the server trusts). Real server processes, over HTTP."""

from __future__ import annotations

import random
import re
from typing import Any

import httpx
import pytest
from legacy_hashes import scrypt_hash, weak_argon2_hash
from ui_browser import ui_client
from ui_members import new_member, store_password_hash, stored_password_hash

from raymon.server.settings import Settings, SettingsError

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def _elsewhere() -> dict[str, str]:
    """A client address of its own (198.18.0.0/15), believed from 127.0.0.1 (uvicorn's default trusted
    proxy): failures made here never count against 127.0.0.1, the address of every other test's sign-in
    on the shared server."""
    return {"X-Forwarded-For": f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"}


def _login(client: httpx.Client, email: str, password: str, address: str | None = None) -> httpx.Response:
    headers = {**SAME_ORIGIN, **({"X-Forwarded-For": address} if address else _elsewhere())}
    return client.post("/login", data={"email": email, "password": password, "next": "/"}, headers=headers)


# --- old hashes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("old_hash", [scrypt_hash, weak_argon2_hash], ids=["scrypt", "weaker-argon2"])
def test_a_stored_old_hash_signs_in_and_is_replaced_by_an_argon2id_one(server: Any, old_hash: Any) -> None:
    member = new_member(server)
    old = old_hash(member.password)
    store_password_hash(server, member.email, old)
    with httpx.Client(base_url=server.url) as client:
        assert _login(client, member.email, "not the password").status_code == 400
        assert stored_password_hash(server, member.email) == old  # a failed sign-in replaces nothing
        assert _login(client, member.email, member.password).status_code == 303
    new = stored_password_hash(server, member.email)
    assert new != old and new.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    with ui_client(server, member.email, member.password) as client:  # the new hash signs in too
        assert client.get("/account").status_code == 200


# --- rate limits ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(make_module_server: Any) -> Any:
    """A server with low limits (the counts live in its process: one database is enough)."""
    return make_module_server(
        RAYMON_LOGIN_FAILURES_PER_MINUTE="3", RAYMON_LOGIN_ACCOUNT_FAILURES_PER_HOUR="5", RAYMON_ENGINE="off"
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_address_failing_too_often_is_refused_with_a_429_saying_when_to_retry(limited: Any) -> None:
    member = new_member(limited)
    with httpx.Client(base_url=limited.url) as client:
        for _ in range(3):
            assert _login(client, member.email, "wrong password", "198.51.100.7").status_code == 400
        refused = _login(client, member.email, member.password, "198.51.100.7")  # the right one, too
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 61
        assert "text/html" in refused.headers["content-type"]
        assert (
            "Too many failed sign-ins" in refused.text and "RAYMON_LOGIN_FAILURES_PER_MINUTE" in refused.text
        )
        assert re.search(rf"Try again in {wait} s \(at \d\d:\d\d:\d\d UTC\)", refused.text), refused.text
        assert "raymon_session" not in refused.headers.get("set-cookie", "")
        # another address is not held back, and a success clears the account's count: 4 more failures
        # (7 in all, over the account limit of 5 had the first 3 stayed) leave the account open
        assert _login(client, member.email, member.password, "198.51.100.8").status_code == 303
        for i in range(4):
            assert _login(client, member.email, "wrong password", f"198.51.100.{20 + i}").status_code == 400
        assert _login(client, member.email, member.password, "198.51.100.30").status_code == 303


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_account_failing_from_many_addresses_is_refused_everywhere(limited: Any) -> None:
    member = new_member(limited)
    with httpx.Client(base_url=limited.url) as client:
        for i in range(5):  # one failure per address: no address limit is reached
            assert _login(client, member.email, "wrong password", f"203.0.113.{i + 1}").status_code == 400
        refused = _login(client, member.email, member.password, "203.0.113.99")
        assert refused.status_code == 429
        assert "for this account" in refused.text and "RAYMON_LOGIN_ACCOUNT_FAILURES_PER_HOUR" in refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 3601
        # the same answer for an address of no account (nothing tells which addresses exist)
        for i in range(5):
            _login(client, "nobody-here@example.com", "wrong password", f"192.0.2.{i + 1}")
        assert _login(client, "nobody-here@example.com", "x", "192.0.2.99").status_code == 429


# --- password change -----------------------------------------------------------------------------


def test_changing_the_password_signs_out_the_other_browsers_and_keeps_this_one(server: Any) -> None:
    member = new_member(server)
    new_password = "a brand new password"
    with (
        ui_client(server, member.email, member.password) as here,
        ui_client(server, member.email, member.password) as elsewhere,
    ):
        assert elsewhere.get("/account").status_code == 200
        page = here.get("/account")
        assert page.status_code == 200 and member.email in page.text and 'name="new_again"' in page.text
        changed = here.post(
            "/account/password",
            data={"current": member.password, "new": new_password, "new_again": new_password},
        )
        assert changed.status_code == 303 and changed.headers["location"] == "/account?changed=1"
        assert "1 other session was signed out" in here.get("/account?changed=1").text
        stale = elsewhere.get("/account")  # the other browser's cookie no longer signs anyone in
        assert stale.status_code == 303 and stale.headers["location"].startswith("/login")
        assert here.get("/").status_code == 200
    with httpx.Client(base_url=server.url) as client:
        assert _login(client, member.email, member.password).status_code == 400
        assert _login(client, member.email, new_password).status_code == 303


def test_a_password_change_that_is_refused_changes_nothing(server: Any) -> None:
    member = new_member(server)
    with (
        ui_client(server, member.email, member.password) as here,
        ui_client(server, member.email, member.password) as elsewhere,
    ):
        cases = [
            (
                {"current": member.password, "new": "a new password", "new_again": "another one"},
                422,
                "differ",
            ),
            (
                {"current": "not my password", "new": "a new password", "new_again": "a new password"},
                401,
                "current password is not right",
            ),
            (
                {"current": member.password, "new": "short", "new_again": "short"},
                422,
                "at least 8 characters",
            ),
        ]
        for form, status, words in cases:
            refused = here.post("/account/password", data=form, headers=_elsewhere())
            assert refused.status_code == status, (form, refused.text)
            assert words in refused.text and "text/html" in refused.headers["content-type"]
        assert elsewhere.get("/account").status_code == 200  # no session ended
    with httpx.Client(base_url=server.url) as client:
        assert _login(client, member.email, member.password).status_code == 303


# --- the Secure cookie ---------------------------------------------------------------------------


def test_the_cookie_is_secure_when_a_trusted_proxy_says_the_page_came_over_tls(server: Any) -> None:
    with httpx.Client(base_url=server.url) as client:
        plain = _login(client, server.user_email, server.user_password)
        tls = client.post(
            "/login",
            data={"email": server.user_email, "password": server.user_password, "next": "/"},
            headers={**SAME_ORIGIN, "X-Forwarded-Proto": "https"},
        )
    assert "Secure" not in plain.headers["set-cookie"]
    cookie = tls.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_untrusted_proxys_forwarded_headers_are_ignored(make_server: Any) -> None:
    other_proxy = make_server(RAYMON_FORWARDED_ALLOW_IPS="192.0.2.10", RAYMON_ENGINE="off")
    with httpx.Client(base_url=other_proxy.url) as client:
        response = client.post(
            "/login",
            data={"email": other_proxy.user_email, "password": other_proxy.user_password, "next": "/"},
            headers={**SAME_ORIGIN, "X-Forwarded-Proto": "https"},
        )
    assert response.status_code == 303 and "Secure" not in response.headers["set-cookie"]


def test_a_malformed_trusted_proxy_list_is_refused_naming_the_setting() -> None:
    assert Settings.from_env({"RAYMON_FORWARDED_ALLOW_IPS": "127.0.0.1, 10.0.0.0/8, ::1"})
    assert Settings.from_env({"RAYMON_FORWARDED_ALLOW_IPS": "*"})
    with pytest.raises(SettingsError, match=r"RAYMON_FORWARDED_ALLOW_IPS .* got 'proxy\.local'"):
        Settings.from_env({"RAYMON_FORWARDED_ALLOW_IPS": "127.0.0.1,proxy.local"})
