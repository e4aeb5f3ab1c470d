"""Alert routes: the delivery log and redelivery of one delivery.

Thin: authorise (``read`` for the log, ``admin`` to redeliver), call ``services.alerts``,
answer JSON. The log names channels, never their URLs or secrets. Routes never talk SQL.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from raymon.server.api.deps import AdminAccess, get_backend
from raymon.server.api.reading import ReadAccess, checked_text, required_text
from raymon.server.services import alerts

router = APIRouter(prefix="/api/v1/projects/{project_id}/alerts", tags=["alerts"])


@router.get("/deliveries")
def alert_deliveries(
    request: Request,
    access: ReadAccess,
    channel: str | None = Query(None, description="Only the deliveries of this channel (its manifest name)"),
) -> dict[str, Any]:
    """The delivery log, newest first: one entry per attempt (`attempt` 0: not tried yet), channel names only."""
    return alerts.deliveries(get_backend(request), access.project_id, checked_text("channel", channel))


@router.post("/deliveries/{delivery_id}/redeliver", status_code=202)
async def alert_redeliver(delivery_id: str, request: Request, access: AdminAccess) -> dict[str, Any]:
    """Send one delivery again, with the same `webhook-id`, through the project's latest manifest."""
    required_text("delivery_id", delivery_id)
    return await run_in_threadpool(alerts.redeliver, get_backend(request), access.project_id, delivery_id)
