"""The web UI under test: a signed-in HTTP client, and Debian's Chromium driven by Playwright.

``ui_client(server)`` signs in through ``POST /login`` like a browser form
(same-origin Fetch Metadata) and answers an httpx client holding the session
cookie: the fast tier asserts page HTML through it, as Datasette's tests do.

``Browser`` pages (fixture ``ui_page`` in conftest.py) come from Playwright's
Python package driving the ``chromium`` on PATH (no browser download), every
host but 127.0.0.1 unresolvable, so a page that needs the internet fails. A
Content-Security-Policy violation the page reports (Chromium logs each to the
console) fails the test that caused it, and each test leaves a screenshot of
its last page in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
REQUIRE_ENV = "RAYMON_TEST_REQUIRE_BROWSER"  # set (CI): fail instead of skipping when Chromium is missing
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
CSP_MESSAGE = re.compile(r"Content Security Policy|Refused to (execute|load|apply|frame|connect)", re.I)


def chromium_path() -> str:
    """Debian's Chromium, or a skip (a failure under ``RAYMON_TEST_REQUIRE_BROWSER``) naming the fix."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "needs Debian's chromium for the browser tests (apt-get install -y chromium)"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{message}; {REQUIRE_ENV} is set")
        pytest.skip(message)
    return found


@contextmanager
def ui_client(server: Any, email: str | None = None, password: str | None = None) -> Iterator[httpx.Client]:
    """``with ui_client(server) as client:`` an httpx client signed in to the UI (default: the start-up admin)."""
    with httpx.Client(base_url=server.url, timeout=60.0, headers={"Sec-Fetch-Site": "same-origin"}) as client:
        _sign_in(client, email or server.user_email, password or server.user_password)
        yield client


def _sign_in(client: httpx.Client, email: str, password: str) -> None:
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text[:500]
    assert "raymon_session" in client.cookies


def screenshot_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:150] + ".png"


class CspWatch:
    """Collects the Content-Security-Policy violations a page reports on its console."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def __call__(self, message: Any) -> None:
        text = message.text
        if CSP_MESSAGE.search(text):
            self.violations.append(text)


def sign_in(page: Any, server: Any, email: str | None = None, password: str | None = None) -> None:
    """Sign in through the login form, as a person does."""
    page.goto(f"{server.url}/login")
    page.fill("input[name=email]", email or server.user_email)
    page.fill("input[name=password]", password or server.user_password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(projects.*)?$"))
