"""The settings page: ``/projects/{p}/settings``, the manifest, its versions, alert channels and their delivery log.

The manifest is shown as applied with every secret replaced by ``"<redacted>"``
(``services.manifests``); ``?version=N`` shows an earlier version. Alert channels are listed
by name, type and routing, never their URLs or secrets; the delivery log
(``services.alerts``) has one row per attempt, ``?channel=`` narrows it. Redelivering is a
POST form needing ``admin`` (as the API's route), answered 303 back. API keys have their own
page (``/projects/{p}/settings/keys``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from raymon.server.api.deps import get_backend
from raymon.server.services import alerts, manifests
from raymon.server.services.errors import NotFoundError
from raymon.server.ui.auth import ProjectPage, project_page, require
from raymon.server.ui.templating import render

router = APIRouter(include_in_schema=False)

DELIVERY_ROWS = 200  # the log's newest attempts shown
REDELIVER_SCOPE = "admin"


def channels(manifest: Any) -> list[dict[str, Any]]:
    """The manifest's alert channels as shown: name, type, format and routing; never a URL or a secret."""
    if manifest is None:
        return []
    return [
        {
            "name": a.name,
            "type": a.type,
            "format": a.format,
            "signed": bool(a.secret),
            "checks": a.checks,
            "slices": a.slices,
            "min_priority": a.min_priority,
        }
        for a in manifest.actions.alert
    ]


@router.get("/projects/{project_id}/settings")
def settings_page(
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
    version: int | None = Query(None, ge=1, le=2**31 - 1),
    channel: str | None = Query(None),
) -> Response:
    backend = get_backend(request)
    pid = page.project_id
    versions = manifests.history(backend, pid)["versions"]
    shown: dict[str, Any] | None = None
    if versions or version is not None:
        try:
            shown = manifests.shown(backend, pid, version)
        except NotFoundError:
            if version is None:
                raise
            raise NotFoundError(f"project {pid!r} has no manifest version {version}") from None
    log = alerts.deliveries(backend, pid, channel or None)["deliveries"]
    latest_attempt: set[str] = set()
    for row in log:  # newest first: the first row of a delivery is its latest attempt
        row["redeliverable"] = row["delivery_id"] not in latest_attempt and row["status"] != "pending"
        latest_attempt.add(row["delivery_id"])
    return render(
        request,
        "settings/settings.html",
        {
            "project": page.project,
            "nav": "settings",
            "shown": shown,
            "versions": versions,
            "current_version": versions[0]["version"] if versions else None,
            "channels": channels(manifests.current(backend, pid)),
            "deliveries": log[:DELIVERY_ROWS],
            "more_deliveries": max(len(log) - DELIVERY_ROWS, 0),
            "channel": channel or None,
            "can_admin": page.allows(REDELIVER_SCOPE),
        },
    )


@router.post("/projects/{project_id}/settings/deliveries/{delivery_id}/redeliver")
def redeliver(
    delivery_id: Annotated[str, Path(min_length=1, max_length=200)],
    request: Request,
    page: ProjectPage = Depends(project_page),  # noqa: B008
) -> Response:
    require(page, REDELIVER_SCOPE)
    alerts.redeliver(get_backend(request), page.project_id, delivery_id)
    return RedirectResponse(f"/projects/{page.project_id}/settings#deliveries", status_code=303)
