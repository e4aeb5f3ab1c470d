"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), served without the internet.

FastAPI's own pages load their scripts from a CDN and ReDoc's fonts from
Google, so they are blank offline. These load only the copies vendored in the
package (``raymon.server.ui.vendor``, pinned by SHA-256) from ``/static``:
the pages name no other host. No authentication: the pages and the document
describe the API; every call made from them needs a key ("Authorize").
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from raymon.server.ui.vendor import REDOC, SWAGGER_UI, VENDOR_DIR

STATIC_URL = "/static"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
FAVICON = SWAGGER_UI.url("favicon-32x32.png")


def install_docs_pages(app: FastAPI) -> None:
    """Mount the vendored assets at ``/static`` and add /docs and /redoc (app made with docs_url=None)."""
    if not any(getattr(route, "path", None) == STATIC_URL for route in app.router.routes):
        app.mount(STATIC_URL, StaticFiles(directory=VENDOR_DIR.parent), name="static")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=SWAGGER_UI.url("swagger-ui-bundle.js"),
            swagger_css_url=SWAGGER_UI.url("swagger-ui.css"),
            swagger_favicon_url=FAVICON,
            # No badge that sends the document to an online validator.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=REDOC.url("redoc.standalone.js"),
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )
