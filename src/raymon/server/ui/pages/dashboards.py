"""Dashboards: ``/projects/{p}/dashboards`` (the manifest's profile reducers) and one reducer's charts.

``/projects/{p}/dashboards/{reducer}?slice=&begin=&end=&range=`` shows drift, integrity,
performance and scores over time for one slice (``""``: global), each chart with its table.
The range is in the query string; a preset (``range=24h``) or no range at all means "up to
now", and every link the page shows carries the absolute ``begin``/``end`` it stands for, so
a shared link shows the same windows. Read-only: nothing here changes anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from raymon.server.api.deps import get_backend
from raymon.server.services import dashboards, slices
from raymon.server.services.errors import InvalidInputError
from raymon.server.ui.auth import ProjectPage, project_page
from raymon.server.ui.templating import iso, render

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/dashboards")
def dashboard_list(request: Request, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    reducers = dashboards.profile_reducers(get_backend(request), page.project_id)
    return render(
        request,
        "dashboards/list.html",
        {"project": page.project, "nav": "dashboards", "reducers": reducers},
    )


@router.get("/projects/{project_id}/dashboards/{reducer}")
def dashboard_page(
    reducer: str,
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
    slice: str = "",  # noqa: A002
    begin: str | None = None,
    end: str | None = None,
    range: str | None = None,  # noqa: A002
    rank: str | None = None,
    part: str | None = None,
) -> Response:
    backend = get_backend(request)
    info = dashboards.find_reducer(backend, page.project_id, reducer)
    since, until = dashboards.time_range(begin, end, range, datetime.now(UTC))
    if not (begin or end or range):  # the default range starts no earlier than the first window
        since = dashboards.clip_to_first_window(backend, page.project_id, info.name, since, until)
    if part == "ranking":
        return _ranking(request, page, info.name, rank, since, until)
    board = dashboards.dashboard(backend, page.project_id, info, slice, since, until)
    first = last = None
    if not board.n_windows:
        first, last = dashboards.span(backend, page.project_id, info.name)
    base = f"/projects/{page.project_id}/dashboards/{reducer}"

    def link(**params: str | None) -> str:
        values = {"slice": slice or None, "begin": iso(since), "end": iso(until)} | params
        kept = {k: v for k, v in values.items() if v}
        return base + ("?" + urlencode(kept) if kept else "")

    def traces_link(start: datetime, stop: datetime) -> str:
        params = {"filter": slice, "begin": iso(start), "end": iso(stop)}
        return f"/projects/{page.project_id}/traces?" + urlencode({k: v for k, v in params.items() if v})

    presets = {
        name: link(begin=iso(until - span), end=iso(until)) for name, span in dashboards.PRESETS.items()
    }
    return render(
        request,
        "dashboards/dashboard.html",
        {
            "project": page.project,
            "nav": "dashboards",
            "board": board,
            "link": link,
            "presets": presets,
            "first": first,
            "last": last,
            "points": [(iso(a), traces_link(a, b)) for a, b in zip(board.starts, board.ends, strict=True)],
            "ranking_url": link(part="ranking", rank=rank),
            "chart_data": board.data()
            | {"traces": f"/projects/{page.project_id}/traces", "filter": slice, "dashboard": base},
        },
    )


def _ranking(
    request: Request, page: ProjectPage, reducer: str, metric: str | None, since: datetime, until: datetime
) -> Response:
    """Every slice of the reducer ranked against the rest of the traffic (``services.slices.rank``), worst first.

    Loaded after the charts (htmx, ``hx-trigger="load"``): a ranking reads every slice's windows
    of the range, so the dashboard never waits for it.
    """
    backend = get_backend(request)
    metrics = slices.ranking_metrics(backend, page.project_id, reducer)
    chosen = metric or (metrics[0] if metrics else None)
    ranking, problem = None, None
    if chosen is not None:
        try:
            ranking = slices.rank(backend, page.project_id, reducer, chosen, since, until)
        except InvalidInputError as exc:
            problem = str(exc)
    base = f"/projects/{page.project_id}/dashboards/{reducer}"
    window = {"begin": iso(since), "end": iso(until)}
    return render(
        request,
        "dashboards/ranking.html",
        {
            "project": page.project,
            "nav": "dashboards",
            "reducer": reducer,
            "metrics": metrics,
            "chosen": chosen,
            "ranking": ranking,
            "problem": problem,
            "form_action": base,
            "window": window,
            "slice_link": lambda s: base + "?" + urlencode({"slice": s, **window}),
            "traces_link": lambda s: (
                f"/projects/{page.project_id}/traces?" + urlencode({"filter": s, **window})
            ),
        },
        block="table",
    )
