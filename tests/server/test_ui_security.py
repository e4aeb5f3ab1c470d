"""The protections every UI page has, proved over the app's whole UI route table and every template:

- no template, app.js or app.css references another host (a page works offline and loads nothing
  unreviewed);
- every page (GET) answers with the Content-Security-Policy and the other security headers;
- every state-changing UI route (POST, PUT, PATCH, DELETE) refuses a cross-site request
  (Sec-Fetch-Site, or Origin without it), signed in or not.

The routes come from ``create_app().routes``, so a page added later (by anyone) is covered without
editing this file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from ui_browser import ui_client

from raymon.server.app import create_app
from raymon.server.settings import Settings
from raymon.server.ui.pages import is_page
from raymon.server.ui.security import CONTENT_SECURITY_POLICY
from raymon.server.ui.templating import STATIC_DIR, TEMPLATES_DIR

_PARAM = re.compile(r"\{(\w+)(:[^}]*)?\}")
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
NOT_PAGES = ("/docs", "/redoc", "/static")
# Namespaces are names, not addresses a browser fetches (inline SVG).
NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink")
_ABSOLUTE = re.compile(r"""https?://[^\s"'<>)]*""", re.I)
# Protocol-relative references: in an attribute, a CSS url()/@import, or a JS string literal.
_RELATIVE_TO_PROTOCOL = re.compile(
    r"""(?:\b[\w:-]+\s*=\s*["']?\s*|url\(\s*["']?\s*|@import\s+["']?\s*|["'`]\s*)//[^/\s"'`]""", re.I
)


def outside_references(text: str) -> list[str]:
    """The references to another host in a template or asset's ``text``."""
    found = [url for url in _ABSOLUTE.findall(text) if not url.startswith(NAMESPACES)]
    found += [m.group(0) for m in _RELATIVE_TO_PROTOCOL.finditer(text)]
    return found


def _ui_files() -> list[Path]:
    return sorted(TEMPLATES_DIR.rglob("*.html")) + [STATIC_DIR / "app.js", STATIC_DIR / "app.css"]


def test_the_outside_reference_finder_catches_every_form() -> None:
    for text in (
        '<script src="https://cdn.example/x.js">',
        "<link href=//cdn.example/x.css>",
        "a { background: url(//evil.example/p.png) }",
        "@import 'http://fonts.example/f.css';",
        'fetch("//api.example/track")',
        '<img srcset="//img.example/a.png 2x">',
    ):
        assert outside_references(text), text
    for text in (
        "// Traces: a comment",
        '<a href="/projects/p/traces">',
        "const re = /a\\/\\/b/; // x",
        '<svg xmlns="http://www.w3.org/2000/svg">',
        "a { background: url(/static/x.png) }",
    ):
        assert outside_references(text) == [], text


def test_no_template_or_ui_asset_references_another_host() -> None:
    files = _ui_files()
    assert len(files) >= 5 and all(f.is_file() for f in files)
    found = {str(f.relative_to(STATIC_DIR.parent)): outside_references(f.read_text()) for f in files}
    assert {name: refs for name, refs in found.items() if refs} == {}


def _ui_routes() -> list[tuple[str, str]]:
    """(method, path) of every UI route of the app (not the API, the docs pages or static files)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp)))
        routes = []
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute):
                continue
            if not is_page(route.path) or route.path.startswith(NOT_PAGES):
                continue
            routes.extend((method, route.path) for method in sorted(route.methods - {"HEAD", "OPTIONS"}))
        app.state.backend.close()
    return routes


UI_ROUTES = _ui_routes()


def _url(path: str, project_id: str) -> str:
    return _PARAM.sub(lambda m: project_id if m.group(1) == "project_id" else "x", path)


def test_the_ui_route_table_has_the_pages_and_actions() -> None:
    assert {("GET", "/login"), ("GET", "/"), ("GET", "/account"), ("POST", "/logout")} <= set(UI_ROUTES)
    assert ("POST", "/projects/{project_id}/settings/keys/{key_id}/revoke") in UI_ROUTES


def test_every_ui_page_answers_with_the_security_headers(server: Any) -> None:
    """Signed in and signed out (the login page, the redirects to it): every answer has them."""
    pages = [path for method, path in UI_ROUTES if method == "GET"]
    html = set()
    with ui_client(server) as signed_in, httpx.Client(base_url=server.url) as signed_out:
        for client in (signed_in, signed_out):
            for path in pages:
                response = client.get(_url(path, server.project_id))
                headers = response.headers
                assert headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, path
                assert headers.get("x-content-type-options") == "nosniff", path
                assert headers.get("referrer-policy") == "same-origin", path
                assert headers.get("x-frame-options") == "DENY", path
                if "text/html" in headers.get("content-type", ""):
                    html.add(path)
                    assert "<script>" not in response.text and " style=" not in response.text, path
    assert {"/", "/login", "/account", "/projects/{project_id}/settings/keys"} <= html


CROSS_SITE = [
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sec-fetch-site-cross-site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="sec-fetch-site-same-site"),
    pytest.param({"Origin": "https://evil.example"}, id="origin-only"),
    pytest.param({"Origin": "null"}, id="origin-null"),
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_every_state_changing_ui_route_refuses_a_cross_site_request(
    server: Any, headers: dict[str, str]
) -> None:
    actions = [(m, p) for m, p in UI_ROUTES if m in STATE_CHANGING]
    assert ("POST", "/login") in actions and ("POST", "/account/password") in actions
    with ui_client(server) as client:
        del client.headers["Sec-Fetch-Site"]
        for method, path in actions:
            url = _url(path, server.project_id)
            response = client.request(method, url, headers=headers, data={"name": "x", "scopes": "read"})
            assert response.status_code == 403, (method, path, response.status_code)
            assert "cross-site request refused" in response.text, (method, path)
        assert client.get("/account", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to parse app.js (node --check)")
def test_the_ui_script_parses() -> None:
    """A broken app.js (a bad merge, a stray brace) silently disables every page's behaviour."""
    script = STATIC_DIR / "app.js"
    checked = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
