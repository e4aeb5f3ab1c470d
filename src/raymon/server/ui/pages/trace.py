"""The trace page (``/projects/{project_id}/traces/{trace_id}``, the original's eye icon) and its downloads.

It shows the trace's tags by group, its text log and every object with its visualisation
(``services.trace_views`` chooses and renders them); a large object shows its first rows
and a "show all" link that htmx swaps for the object's partial. Downloads: one per object
(the stored jcr as it is) and one for the whole trace (the API's JSON document), each an
attachment with ``nosniff`` and a sandboxing Content-Security-Policy, so nothing a user
logged is ever run or rendered by the browser as a page of this site. Only image objects
whose bytes are PNG, JPEG, WebP or GIF are served inline (``.../image``). Nothing here
changes state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from markupsafe import Markup

from raymon.server.api.deps import get_backend
from raymon.server.api.reading import attachment
from raymon.server.services import trace_views
from raymon.server.services.errors import NotFoundError
from raymon.server.services.trace_views import View
from raymon.server.ui.auth import ProjectPage, project_page
from raymon.server.ui.templating import render

router = APIRouter(include_in_schema=False)

# What a download or a served image may do once in the browser: nothing (no script, no
# plug-in, no same-origin access), whatever its bytes are.
DOWNLOAD_CSP = "default-src 'none'; sandbox"
PAGE = "/projects/{project_id}/traces/{trace_id}"


def trace_url(project_id: str, trace_id: str) -> str:
    return f"/projects/{project_id}/traces/{trace_id}"


def object_url(project_id: str, trace_id: str, obj_id: str) -> str:
    return f"{trace_url(project_id, trace_id)}/objects/{obj_id}"


def _image_urls(project_id: str, trace_id: str) -> Any:
    return lambda obj_id: object_url(project_id, trace_id, obj_id) + "/image"


def visualisation_html(view: View) -> Markup:
    """A visualisation's answer, inserted as it is: the visualisation escaped what it took from the data."""
    return Markup(view.html)  # noqa: S704 - the Visualisation contract: its HTML escapes the data


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def _context(page: ProjectPage, trace_id: str, **values: Any) -> dict[str, Any]:
    return {
        "project": page.project,
        "trace_id": trace_id,
        "nav": "traces",
        "trace_base": trace_url(page.project_id, trace_id),
        "visualisation_html": visualisation_html,
        "human_size": human_size,
        "tag_kind": trace_views.tag_kind,
        "all_rows": trace_views.ALL_ROWS,
        **values,
    }


def _missing(request: Request, page: ProjectPage, trace_id: str, exc: NotFoundError) -> Response:
    return render(
        request,
        "traces/trace_missing.html",
        _context(page, trace_id, message=str(exc)),
        status_code=404,
    )


@router.get(PAGE)
def trace_detail(trace_id: str, request: Request, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    try:
        trace = trace_views.trace_page(
            get_backend(request), page.project_id, trace_id, _image_urls(page.project_id, trace_id)
        )
    except NotFoundError as exc:
        return _missing(request, page, trace_id, exc)
    return render(request, "traces/trace.html", _context(page, trace_id, trace=trace))


@router.get(PAGE + "/objects/{obj_id}")
def trace_object(
    trace_id: str,
    obj_id: str,
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
    show_all: bool = Query(False, alias="all"),
) -> Response:
    """One object of the trace: its card as a page, or (htmx) only its view, all rows when ``all=1``."""
    backend, urls = get_backend(request), _image_urls(page.project_id, trace_id)
    return _view_part(
        request,
        page,
        trace_id,
        lambda: trace_views.object_page(backend, page.project_id, trace_id, obj_id, urls, show_all=show_all),
        object_url(page.project_id, trace_id, obj_id),
        show_all,
    )


@router.get(PAGE + "/views/{name}")
def trace_action_view(
    trace_id: str,
    name: str,
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
    show_all: bool = Query(False, alias="all"),
) -> Response:
    """The view of a ``visualize`` action of several inputs: a page, or (htmx) only the view."""
    backend, urls = get_backend(request), _image_urls(page.project_id, trace_id)
    return _view_part(
        request,
        page,
        trace_id,
        lambda: trace_views.action_page(backend, page.project_id, trace_id, name, urls, show_all=show_all),
        f"{trace_url(page.project_id, trace_id)}/views/{name}",
        show_all,
    )


def _view_part(
    request: Request,
    page: ProjectPage,
    trace_id: str,
    load: Callable[[], trace_views.ObjectView | View],
    expand_url: str,
    show_all: bool,
) -> Response:
    """An object's card or an action's view (``load`` answers either): a page, or (htmx) only the view."""
    try:
        shown = load()
    except NotFoundError as exc:
        return _missing(request, page, trace_id, exc)
    obj, view = (None, shown) if isinstance(shown, View) else (shown, shown.view)
    context = _context(page, trace_id, obj=obj, view=view, expand_url=expand_url, expanded=show_all)
    return render(request, "traces/trace_object.html", context, block="view")


def _safe(name: str) -> str:
    return "".join(c for c in name if c.isalnum() or c in "-_")[:100] or "image"


def _download_headers(filename: str) -> dict[str, str]:
    return {
        "Content-Disposition": attachment(filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_CSP,
        "Cache-Control": "private, no-store",
    }


@router.get(PAGE + "/objects/{obj_id}/download")
def object_download(
    trace_id: str,
    obj_id: str,
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
) -> Response:
    """The object as stored (its jcr: ``rt.load_jcr`` gives it back), saved as a file."""
    meta, body = trace_views.object_download(get_backend(request), page.project_id, trace_id, obj_id)
    return Response(
        body, media_type="application/json", headers=_download_headers(f"{meta['ref']}-{meta['obj_id']}.json")
    )


@router.get(PAGE + "/objects/{obj_id}/image")
def object_image(
    trace_id: str,
    obj_id: str,
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
) -> Response:
    """An image object's picture for the page's ``<img>``: only PNG, JPEG, WebP or GIF bytes (sniffed)."""
    picture, media_type = trace_views.image_bytes(get_backend(request), page.project_id, trace_id, obj_id)
    return Response(
        picture,
        media_type=media_type,
        headers={
            "Content-Disposition": f'inline; filename="{_safe(obj_id)}.{media_type.split("/")[1]}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": DOWNLOAD_CSP,
            "Cache-Control": "private, max-age=3600",
        },
    )


@router.get(PAGE + "/download")
def trace_download(
    trace_id: str,
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
) -> StreamingResponse:
    """The whole trace as one JSON document: tags, texts and every object with its data (``obj_data``)."""
    chunks = trace_views.trace_download(get_backend(request), page.project_id, trace_id)
    return StreamingResponse(
        chunks, media_type="application/json", headers=_download_headers(f"trace-{trace_id}.json")
    )
