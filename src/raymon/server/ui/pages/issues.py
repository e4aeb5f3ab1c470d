"""The issues pages: ``/projects/{p}/issues`` (the list) and ``/projects/{p}/issues/{issue_id}`` (one, with its evidence).

The list is ordered by priority (active issues first), narrowed by ``status`` (a state or
the ``acknowledged``/``muted`` flags) and ``slice`` in the query string. An issue's page
shows its metric over the windows around its opening (chart and table), its component's
reference distribution against the slice's production one, its history and its traces.
Acknowledge, mute and tune are POST forms needing the ``admin`` scope (as the API's
routes), answered 303 back to the issue. Routes parse and authorise; services decide.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from raymon.server.api.deps import get_backend
from raymon.server.services import issue_evidence, issues
from raymon.server.services.errors import InvalidInputError
from raymon.server.services.time_text import as_time, parse_time
from raymon.server.ui.auth import ProjectPage, project_page, require
from raymon.server.ui.templating import iso, render

router = APIRouter(include_in_schema=False)

IssueId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MUTE_PRESETS = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "1w": timedelta(weeks=1)}
ACTION_SCOPE = "admin"  # the API's ack, mute and tune routes need it
# ?slice= of the global slice: its slicestr is "", which a form sends for "every slice"
GLOBAL_PARAM = "(global)"


def traces_link(
    project_id: str, slicestr: str, begin: datetime | str | None, end: datetime | str | None
) -> str:
    """The traces page of one slice and time range (the traces page's query string, times in UTC)."""
    begin, end = (as_time(t) for t in (begin, end))
    params = {"filter": slicestr, "begin": iso(begin), "end": iso(end)}
    return f"/projects/{project_id}/traces?" + urlencode({k: v for k, v in params.items() if v})


@router.get("/projects/{project_id}/issues")
def issue_list(
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
    status: str | None = Query(None),
    slice: str | None = Query(None),  # noqa: A002 - the query-string name users see
) -> Response:
    shown = status or None
    slicestr = "" if slice == GLOBAL_PARAM else slice or None
    listed = issue_evidence.issue_list(get_backend(request), page.project_id, shown, slicestr)
    return render(
        request,
        "issues/list.html",
        {
            "project": page.project,
            "nav": "issues",
            "listed": listed,
            "statuses": issue_evidence.SHOWN,
            "global_param": GLOBAL_PARAM,
            "can_act": page.allows(ACTION_SCOPE),
        },
        block="issues",
    )


@router.get("/projects/{project_id}/issues/{issue_id}")
def issue_page(issue_id: IssueId, request: Request, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    found = issue_evidence.evidence(get_backend(request), page.project_id, issue_id)
    issue = found.issue
    chart = {
        "metric": issue["metric"],
        "opened": found.opened_start.timestamp() if found.opened_start else None,
        "series": [
            {
                "metric": s["metric"],
                "t": [p["t"] for p in s["points"]],
                "value": [_finite(p["value"]) for p in s["points"]],
                "threshold": [_finite(p["threshold"]) for p in s["points"]],
            }
            for s in found.series[:1]
        ],
    }
    distribution = found.distribution
    histogram = (
        {
            "kind": distribution.kind,
            "labels": distribution.labels,
            "x": distribution.positions,
            "reference": distribution.reference,
            "production": distribution.production,
        }
        if distribution
        else None
    )
    pid = page.project_id
    return render(
        request,
        "issues/issue.html",
        {
            "project": page.project,
            "nav": "issues",
            "found": found,
            "issue": issue,
            "chart": chart,
            "histogram": histogram,
            "can_act": page.allows(ACTION_SCOPE),
            "window_traces": traces_link(pid, issue["slice"], found.opened_start, found.opened_end),
            "range_traces": traces_link(pid, issue["slice"], found.begin, found.end),
            "traces_for": lambda begin, end: traces_link(pid, issue["slice"], begin, end),
            "presets": list(MUTE_PRESETS),
        },
    )


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _back(page: ProjectPage, issue_id: int) -> Response:
    return RedirectResponse(f"/projects/{page.project_id}/issues/{issue_id}", status_code=303)


@router.post("/projects/{project_id}/issues/{issue_id}/ack")
def issue_ack(issue_id: IssueId, request: Request, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    require(page, ACTION_SCOPE)
    issues.ack(get_backend(request), page.project_id, issue_id, page.viewer.email)
    return _back(page, issue_id)


def mute_until(now: datetime, preset: str, until: str, offset_minutes: str = "") -> datetime:
    """When a mute ends: a preset (``1h``, ``1d``, ``1w``; ``off`` unmutes) or a date-time.

    A date-time without an offset is in ``offset_minutes`` east of UTC (the browser's zone at
    that time, which app.js fills in), or UTC when that is empty.
    """
    if preset == "off":
        return now
    if preset in MUTE_PRESETS:
        return now + MUTE_PRESETS[preset]
    if preset:
        raise InvalidInputError(f"preset: {preset!r} is not one of {', '.join([*MUTE_PRESETS, 'off'])}")
    if not until.strip():
        raise InvalidInputError("until: choose a preset or give a date and time to mute until")
    offset = _optional("offset_minutes", offset_minutes, int) or 0
    if not -16 * 60 <= offset <= 16 * 60:
        raise InvalidInputError(f"offset_minutes: {offset} is not a time zone's offset (-960 to 960)")
    moment = parse_time("until", until, timedelta(minutes=offset))
    assert moment is not None  # until is not blank
    return moment


@router.post("/projects/{project_id}/issues/{issue_id}/mute")
def issue_mute(
    issue_id: IssueId,
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
    preset: str = Form(""),
    until: str = Form(""),
    offset_minutes: str = Form(""),
) -> Response:
    require(page, ACTION_SCOPE)
    backend = get_backend(request)
    moment = mute_until(backend.clock(), preset, until, offset_minutes)
    issues.mute(backend, page.project_id, issue_id, moment)
    return _back(page, issue_id)


def _optional(name: str, text: str, kind: type[int] | type[float]) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise InvalidInputError(f"{name}: {text!r} is not {noun}") from None


@router.post("/projects/{project_id}/issues/{issue_id}/tune")
def issue_tune(
    issue_id: IssueId,
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
    threshold: str = Form(""),
    open_after: str = Form(""),
    window_count: str = Form(""),
) -> Response:
    require(page, ACTION_SCOPE)
    issues.tune(
        get_backend(request),
        page.project_id,
        issue_id,
        _optional("threshold", threshold, float),
        _optional("open_after", open_after, int),
        _optional("window_count", window_count, int),
    )
    return _back(page, issue_id)
