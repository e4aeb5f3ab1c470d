"""The UI's pages, one module per page family, each with a ``router``; ``install_ui`` mounts them.

Every page route is left out of the OpenAPI document (``include_in_schema=False``):
the document describes the API, not HTML.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from raymon.server.services.errors import ServiceError
from raymon.server.ui.auth import LoginRequired, login_redirect
from raymon.server.ui.pages import (
    account,
    dashboards,
    issues,
    keys,
    login,
    profiles,
    projects,
    settings,
    trace,
    traces,
)
from raymon.server.ui.templating import render

ROUTERS: list[APIRouter] = [
    login.router,
    projects.router,
    account.router,
    issues.router,
    keys.router,  # /projects/{p}/settings/keys before the settings pages
    settings.router,
    traces.router,  # the trace list and its fixed paths (export, count) before the trace page
    trace.router,  # /projects/{p}/traces/{trace_id}
    profiles.router,
    dashboards.router,
]

API_PREFIXES = ("/api/", "/oauth/", "/healthz", "/openapi.json")


def is_page(path: str) -> bool:
    """Whether ``path`` is a UI page (errors answer HTML) rather than the API (errors answer JSON)."""
    return not path.startswith(API_PREFIXES) and path != "/api"


def install_ui(app: FastAPI) -> None:
    """Mount the pages and answer their errors as pages (the API's stay JSON)."""
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login_required(_request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        if not is_page(request.url.path):
            return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)
        return render(
            request,
            "pages/error.html",
            {"status": exc.status_code, "message": str(exc)},
            status_code=exc.status_code,
        )
