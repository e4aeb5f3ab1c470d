"""Signing in and out: ``GET/POST /login`` and ``POST /logout``.

The cookie holds only the session's opaque token (``services.ui_sessions``):
HttpOnly, SameSite=Lax, Secure when the request came over TLS (directly, or
through a proxy the server trusts: ``RAYMON_FORWARDED_ALLOW_IPS``). A failed
login says the same whatever was wrong (no hint which addresses exist); past
the failure limits (``services.login_attempts``) the page answers 429 with
``Retry-After`` and says when to retry. ``next`` must be a path of this
server, so a login link cannot send anyone elsewhere.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from raymon.server.api.deps import get_backend
from raymon.server.services import ui_sessions
from raymon.server.services.errors import TooManyAttemptsError
from raymon.server.ui.auth import optional_viewer, session_token
from raymon.server.ui.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this server, else ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002
    if optional_viewer(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "pages/login.html", {"next": safe_next(next), "error": None, "email": ""})


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),  # noqa: A002
) -> Response:
    backend = get_backend(request)
    try:
        token = ui_sessions.login(backend, email, password, client_address(request))
    except TooManyAttemptsError as exc:
        return too_many_attempts(request, exc, {"next": safe_next(next), "email": email})
    if token is None:
        context = {"next": safe_next(next), "error": "Wrong e-mail address or password.", "email": email}
        return render(request, "pages/login.html", context, status_code=400)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, token)
    return response


def client_address(request: Request) -> str:
    """The client's address as uvicorn gives it (a trusted proxy's X-Forwarded-For, else the peer)."""
    return request.client.host if request.client else "unknown"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure when the page came over TLS."""
    response.set_cookie(
        ui_sessions.COOKIE,
        token,
        max_age=int(ui_sessions.LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def too_many_attempts_message(request: Request, exc: TooManyAttemptsError) -> str:
    """Why the sign-in is refused and when to retry, in the viewer's words."""
    retry_at = get_backend(request).clock() + timedelta(seconds=exc.retry_after)
    return f"Too many failed sign-ins: {exc}. Try again in {exc.retry_after} s (at {retry_at:%H:%M:%S} UTC)."


def too_many_attempts(request: Request, exc: TooManyAttemptsError, context: dict[str, Any]) -> Response:
    """The login page, 429, saying why and when to retry (``Retry-After`` too)."""
    values = {"next": "/", "email": "", **context, "error": too_many_attempts_message(request, exc)}
    headers = {"Retry-After": str(exc.retry_after)}
    return render(request, "pages/login.html", values, status_code=429, headers=headers)


@router.post("/logout")
def logout(request: Request) -> Response:
    token = session_token(request)
    if token:
        ui_sessions.logout(get_backend(request), token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(ui_sessions.COOKIE, path="/")
    return response
