"""Profiles: the project's uploaded profiles, one profile's report, and contrasts.

- ``/projects/{p}/profiles``: every ``name@version``, with forms to compare two and to
  contrast one with production;
- ``/projects/{p}/profiles/{ref}``: per component its stats and histogram, the scores;
- ``/projects/{p}/profiles/compare?reference=&other=``: two stored profiles contrasted;
- ``/projects/{p}/profiles/{ref}/production?slice=&begin=&end=``: the reference against the
  production profile the reducer merged from a slice's windows in that range.

A contrast's drift table is sorted by ``sort``/``order`` in the query string (server side). The
same content as ``ModelProfile.view``/``view_contrast``, rendered escaped by the templates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from raymon.server.api.deps import get_backend
from raymon.server.services import dashboards, profile_views, profiles
from raymon.server.services.errors import InvalidInputError
from raymon.server.ui.auth import ProjectPage, project_page
from raymon.server.ui.templating import iso, render

router = APIRouter(include_in_schema=False)


def _histograms(components: list[profile_views.ComponentView]) -> list[dict[str, Any] | None]:
    return [c.histogram for c in components]


@router.get("/projects/{project_id}/profiles")
def profile_list(request: Request, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    rows = profiles.list_profiles(get_backend(request), page.project_id)
    return render(
        request, "profiles/list.html", {"project": page.project, "nav": "profiles", "profiles": rows}
    )


@router.get("/projects/{project_id}/profiles/compare")
def profile_compare(
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
    reference: str = "",
    other: str = "",
    sort: str = "score",
    order: str = "desc",
) -> Response:
    if not reference or not other:
        raise InvalidInputError("choose two profiles to compare: ?reference=name@version&other=name@version")
    backend = get_backend(request)
    ref = profile_views.load(backend, page.project_id, reference)
    oth = profile_views.load(backend, page.project_id, other)
    view = profile_views.contrast_view(ref, oth, None, sort, order)
    base = f"/projects/{page.project_id}/profiles/compare"
    return _contrast_page(request, page, view, base, {"reference": reference, "other": other}, None)


@router.get("/projects/{project_id}/profiles/{ref}")
def profile_page(ref: str, request: Request, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    backend = get_backend(request)
    view = profile_views.profile_view(profile_views.load(backend, page.project_id, ref))
    reducers = dashboards.profile_reducers(backend, page.project_id) or []
    return render(
        request,
        "profiles/profile.html",
        {
            "project": page.project,
            "nav": "profiles",
            "view": view,
            "histograms": _histograms(view.components),
            "reduced": any(r.name == view.ref for r in reducers),
            "others": [
                p["ref"] for p in profiles.list_profiles(backend, page.project_id) if p["ref"] != view.ref
            ],
        },
    )


@router.get("/projects/{project_id}/profiles/{ref}/production")
def profile_production(
    ref: str,
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
    slice: str = "",  # noqa: A002
    begin: str | None = None,
    end: str | None = None,
    range: str | None = None,  # noqa: A002
    sort: str = "score",
    order: str = "desc",
) -> Response:
    backend = get_backend(request)
    reference = profile_views.load(backend, page.project_id, ref)
    since, until = dashboards.time_range(begin, end, range, datetime.now(UTC))
    production = profile_views.production(backend, page.project_id, ref, slice, since, until)
    thresholds = profile_views.reducer_thresholds(backend, page.project_id, ref)
    view = profile_views.contrast_view(reference, production, thresholds, sort, order)
    view.other = f"production{' · ' + slice if slice else ' · global'}"
    base = f"/projects/{page.project_id}/profiles/{ref}/production"
    params = {"slice": slice, "begin": iso(since), "end": iso(until)}
    form = {
        "slices": dashboards.slices(backend, page.project_id, ref),
        "slice": slice,
        "begin": since,
        "end": until,
        "n_samples": getattr(production, "n_samples", None),
        "presets": {
            name: base
            + "?"
            + urlencode({k: v for k, v in (params | {"begin": iso(until - span)}).items() if v})
            for name, span in dashboards.PRESETS.items()
        },
    }
    return _contrast_page(request, page, view, base, params, form)


def _contrast_page(
    request: Request,
    page: ProjectPage,
    view: profile_views.ContrastView,
    base: str,
    params: dict[str, str],
    production: dict[str, Any] | None,
) -> Response:
    def sort_link(column: str) -> str:
        order = "asc" if view.sort == column and view.order == "desc" else "desc"
        kept = {k: v for k, v in params.items() if v} | {"sort": column, "order": order}
        return base + "?" + urlencode(kept)

    return render(
        request,
        "profiles/contrast.html",
        {
            "project": page.project,
            "nav": "profiles",
            "view": view,
            "histograms": _histograms(view.components),
            "sort_link": sort_link,
            "production": production,
        },
    )
