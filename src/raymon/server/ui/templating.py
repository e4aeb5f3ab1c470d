"""Rendering pages: one Jinja2 environment, autoescape on for every template.

Starlette's default escapes only templates named ``.html/.htm/.xml``; this
environment escapes everything (``autoescape=True``), so no template name can
turn it off. ``render`` answers a whole page, or, for an htmx request
(``HX-Request``), only the named block of the same template
(jinja2-fragments), so one template serves a page and its partials.

Chart and table data reach scripts as ``<script type="application/json">``
through ``tojson`` (which escapes ``<``, ``>``, ``&`` and ``'``), never as
inline code: the Content-Security-Policy allows no inline script. Nothing here
may mark user data safe (``|safe``, ``Markup``) except the visualisations that
escape it themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import Response
from jinja2_fragments.fastapi import Jinja2Blocks

from raymon.server.ui.vendor import HTMX, UPLOT

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"


def static_url(name: str) -> str:
    """The URL of a hand-written asset (``app.js``, ``app.css``)."""
    return f"{STATIC_URL}/{name}"


def query(request: Request, **changes: Any) -> str:
    """This page's query string with ``changes`` (a value of None removes the name): links keep the state."""
    params = {k: v for k, v in request.query_params.items()}
    for name, value in changes.items():
        if value is None or value == "":
            params.pop(name, None)
        else:
            params[name] = str(value)
    return "?" + urlencode(params) if params else "?"


def iso(moment: datetime | str | None) -> str:
    """An aware time as ISO 8601 in UTC (for ``<time datetime=...>``; app.js shows it in the viewer's zone)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def is_htmx(request: Request) -> bool:
    """An htmx request for a part of the page; a history restore (back after a reload) needs the whole page."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name is an error in tests, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        static_url=static_url,
        htmx_js=HTMX.url("htmx.min.js"),
        uplot_js=UPLOT.url("uPlot.iife.min.js"),
        uplot_css=UPLOT.url("uPlot.min.css"),
        query=query,
    )
    env.filters["iso"] = iso
    return env


templates = Jinja2Blocks(env=_environment())


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``template`` as a page, or only its ``block`` when htmx asks (``is_htmx``).

    The context always has ``request`` and ``viewer`` (the signed-in person or None) and
    ``project`` (None outside a project's pages) unless given.
    """
    values: dict[str, Any] = {
        "viewer": getattr(request.state, "viewer", None),
        "project": None,
        "nav": None,
    }
    values.update(context or {})
    partial = block if block and is_htmx(request) else None
    response: Response = templates.TemplateResponse(
        request,
        template,
        values,
        status_code=status_code,
        headers=dict(headers or {}),
        block_name=partial,
    )
    if block:
        response.headers["Vary"] = "HX-Request"
    return response
