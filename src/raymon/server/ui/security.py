"""Browser-facing protections of every page: security headers and CSRF by Fetch Metadata.

``SecurityHeaders`` sets the Content-Security-Policy (no inline script or
style, nothing from another host), ``nosniff``, ``Referrer-Policy`` and
``frame-ancestors 'none'`` on every answer but the API documentation pages
(Swagger UI and ReDoc run inline scripts; they show no user data).

``CrossSiteRequests`` refuses a state-changing request (any method but GET,
HEAD, OPTIONS) that a browser marks as coming from another site: the
``Sec-Fetch-Site`` header when the browser sends it (every current one does),
else an ``Origin`` that is not this host. A request with neither comes from no
browser (curl, the client library) and carries no ambient cookie to abuse, so
it passes; API calls authenticate by key, not cookie, and pass too. This is
the approach Datasette and Go's ``http.CrossOriginProtection`` take: no token
in forms, nothing to leak. Pages must never change state on GET.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNGUARDED_PREFIXES = ("/docs", "/redoc")


class SecurityHeaders:
    """ASGI middleware: the page-security headers on every answer (but the API documentation pages)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGUARDED_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cross_site(method: str, headers: Headers) -> str | None:
    """Why a request must be refused as cross-site, or None when it may pass."""
    if method in SAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site is {site!r}"
    origin = headers.get("origin")
    if origin is None:
        return None
    host = headers.get("host", "")
    if origin == "null" or urlsplit(origin).netloc != host:
        return f"Origin {origin!r} is not this server ({host!r})"
    return None


class CrossSiteRequests:
    """ASGI middleware: a state-changing request from another site is a 403 naming why."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            if "authorization" not in headers:  # a key-authenticated call carries no ambient credential
                reason = cross_site(scope["method"], headers)
                if reason is not None:
                    response = PlainTextResponse(f"cross-site request refused: {reason}", status_code=403)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
