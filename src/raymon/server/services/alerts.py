"""Alerts: which issue events reach which channel, grouped into deliveries; the delivery log; redelivery.

``notify`` runs in the caller's transaction (the one that records the issues' transitions), so
an event's deliveries exist exactly when its transition does: it writes one delivery row per
(channel, check, event type) of the events it is given (one evaluation), and enqueues a
``deliver`` job for each (``engine.alerts.deliver`` sends it). A delivery names its channel by
(manifest version, action name); it never holds the channel's URL or secret, and nothing this
module answers does.

Routing: every channel gets every issue unless its manifest entry narrows it by ``checks``,
``slices`` or ``min_priority`` (an issue at least that priority, higher meaning more urgent).
Muted issues (``muted_until`` in the future) are not told of; an acknowledged issue gets no
reminders (its resolve is still told).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raymon.server.engine.events import IssueEvent, time_of
from raymon.server.engine.jobs import JobSpec
from raymon.server.services.errors import NotFoundError
from raymon.server.store import alerts as store_alerts
from raymon.server.store import jobs as store_jobs

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.engine.manifest import AlertAction
    from raymon.server.store.db import Session

DELIVER_KIND = "deliver"
LOG_LIMIT = 1000


def suppressed(event: IssueEvent, now: datetime) -> bool:
    """Whether ack or mute keeps this event from the channels."""
    issue = event.issue
    muted_until = time_of(issue.get("muted_until"))
    if muted_until is not None and muted_until > now:
        return True
    acked = bool(issue.get("acked_at") or issue.get("acked")) or issue.get("status") == "acknowledged"
    return acked and event.type in ("reminder", "opened")


def routes_to(action: AlertAction, issue: dict[str, Any]) -> bool:
    """Whether the channel ``action`` hears of ``issue`` (its ``checks``, ``slices``, ``min_priority``)."""
    if action.checks is not None and str(issue.get("check") or "") not in action.checks:
        return False
    if action.slices is not None and str(issue.get("slice") or "") not in action.slices:
        return False
    if action.min_priority is not None:
        priority = issue.get("priority")
        if not isinstance(priority, int | float) or priority < action.min_priority:
            return False
    return True


def delivery_id_of(project_id: str, channel: str, event_ids: Iterable[str]) -> str:
    """The delivery's stable id (``webhook-id``): the same events to the same channel make the same id."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (project_id, channel, *sorted(event_ids)):
        digest.update(part.encode())
        digest.update(b"\x00")
    return f"msg_{digest.hexdigest()}"


def notify(
    session: Session,
    backend: Backend,
    project_id: str,
    events: Sequence[IssueEvent],
    channels: Sequence[AlertAction],
    *,
    manifest_version: int | None = None,
) -> int:
    """Write the deliveries of ``events`` (one evaluation) to ``channels`` and enqueue their jobs; answer how many.

    One delivery per (channel, check, event type): the message lists the issues ("+N more" past
    the first few). ``manifest_version`` is the stored manifest the channels come from (None:
    the project's latest at send time). Events of another project are ignored; the same events
    again make no second delivery.
    """
    now = backend.clock()
    told = [e for e in events if e.project_id == project_id and not suppressed(e, now)]
    new: list[store_alerts.NewDelivery] = []
    for action in channels:
        groups: dict[tuple[str, str], list[IssueEvent]] = {}
        for event in told:
            if routes_to(action, event.issue):
                check = str(event.issue.get("check") or "")
                groups.setdefault((check, event.type), []).append(event)
        for (check, event_type), group in groups.items():
            new.append(
                store_alerts.NewDelivery(
                    delivery_id=delivery_id_of(project_id, action.name, [e.event_id for e in group]),
                    project_id=project_id,
                    channel=action.name,
                    manifest_version=manifest_version,
                    event_type=event_type,
                    check_name=check,
                    issue_id=str(group[0].issue.get("issue_id", "")),
                    events=[e.to_json() for e in group],
                )
            )
    inserted = store_alerts.insert_deliveries(session, new, now)
    store_jobs.enqueue(
        session,
        [
            JobSpec(
                kind=DELIVER_KIND,
                key=f"deliver:{d}",
                project_id=project_id,
                payload={"delivery_id": d},
                run_at=now,
            )
            for d in inserted
        ],
    )
    return len(inserted)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def deliveries(backend: Backend, project_id: str, channel: str | None = None) -> dict[str, Any]:
    """The delivery log: every attempt of the project's deliveries (newest first), channel names only."""
    with backend.reading() as session:
        rows = store_alerts.log(session, project_id, channel, LOG_LIMIT)
    return {
        "deliveries": [
            {
                "delivery_id": r.delivery_id,
                "channel": r.channel,
                "event": r.event,
                "issue_id": r.issue_id,
                "status": r.status,
                "attempt": r.attempt,
                "status_code": r.status_code,
                "error": r.error,
                "duration_ms": r.duration_ms,
                "attempted_at": _iso(r.attempted_at),
                "delivered_at": _iso(r.delivered_at),
                "next_attempt_at": _iso(r.next_attempt_at),
            }
            for r in rows
        ]
    }


def redeliver(backend: Backend, project_id: str, delivery_id: str) -> dict[str, Any]:
    """Send a delivery again (same ``webhook-id``), through the project's latest manifest, with a fresh retry window."""
    now = backend.clock()
    with backend.writing() as session:
        delivery = store_alerts.get_delivery(session, project_id, delivery_id)
        if delivery is None:
            raise NotFoundError(f"no alert delivery {delivery_id!r} in project {project_id!r}")
        if delivery.status != store_alerts.PENDING:
            store_alerts.reopen(session, delivery, now)
            store_jobs.enqueue(
                session,
                [
                    JobSpec(
                        kind=DELIVER_KIND,
                        key=f"deliver:{delivery_id}:again:{delivery.attempts}",
                        project_id=project_id,
                        payload={"delivery_id": delivery_id},
                        run_at=now,
                    )
                ],
            )
    return {"delivery_id": delivery_id, "channel": delivery.channel, "status": store_alerts.PENDING}
