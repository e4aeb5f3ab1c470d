"""Reminders: events for issues open too long, and for muted issues still open when their mute ends.

``reminder_events`` is pure: given the open issues (as ``issues_ls`` shows them) and the time,
it answers the reminder events due, each with a stable id (``<issue>:reminder:<n>`` for the
n-th reminder, ``<issue>:unmuted:<time>`` for a mute that ended), so asking again every tick
makes no second reminder. ``reminder_scheduler`` wraps it as an engine ``Scheduler``: it answers
one ``alert_notify`` job per event (keyed by the event id), whose handler
(``alert_notify_handler``) hands the event to ``services.alerts.notify`` with the project's
current channels. Where the open issues come from is the caller's (the issues lane's table):
pass ``open_issues``. Reminders are off unless ``alert_remind_after_seconds`` is set; a mute's
end is told either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raymon.server.engine.events import IssueEvent, time_of
from raymon.server.engine.jobs import JobKind, JobSpec, Scheduler
from raymon.server.engine.manifest import AlertAction

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.engine.jobs import JobContext

NOTIFY_KIND = "alert_notify"
OPEN_STATUSES = ("open", "opened", "reopened", "acknowledged")
# (backend) -> (project_id, issue JSON as issues_ls answers it) for every open issue
OpenIssues = Callable[["Backend"], Iterable[tuple[str, Mapping[str, Any]]]]


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def reminder_events(
    project_id: str, open_issues: Iterable[Mapping[str, Any]], now: datetime, remind_after_s: int
) -> list[IssueEvent]:
    """The reminder events due at ``now`` for these open issues of ``project_id`` (``remind_after_s`` 0: none)."""
    events: list[IssueEvent] = []
    for issue in open_issues:
        if str(issue.get("status", "open")) not in OPEN_STATUSES:
            continue
        issue_id = issue.get("issue_id")
        opened_at = time_of(issue.get("opened_at"))
        muted_until = time_of(issue.get("muted_until"))
        if muted_until is not None and muted_until > now:
            continue  # still muted: nothing
        acked = bool(issue.get("acked_at") or issue.get("acked")) or issue.get("status") == "acknowledged"
        if muted_until is not None and (opened_at is None or muted_until > opened_at):
            events.append(
                IssueEvent(
                    event_id=f"{issue_id}:unmuted:{_iso(muted_until)}",
                    type="reminder",
                    project_id=project_id,
                    issue={k: v for k, v in issue.items() if k != "muted_until"},
                    at=muted_until,
                    extra={"reason": "mute_ended"},
                )
            )
            continue
        if remind_after_s <= 0 or opened_at is None or acked:
            continue
        n = int((now - opened_at).total_seconds() // remind_after_s)
        if n >= 1:
            events.append(
                IssueEvent(
                    event_id=f"{issue_id}:reminder:{n}",
                    type="reminder",
                    project_id=project_id,
                    issue=dict(issue),
                    at=now,
                    extra={"reason": "still_open", "reminder": n},
                )
            )
    return events


def _event_from_json(data: Mapping[str, Any]) -> IssueEvent:
    known = ("event_id", "type", "project_id", "issue", "at")
    at = time_of(data.get("at"))
    if at is None:
        raise ValueError("an issue event needs its time (at)")
    return IssueEvent(
        event_id=str(data["event_id"]),
        type=data["type"],
        project_id=str(data["project_id"]),
        issue=dict(data["issue"]),
        at=at,
        extra={k: v for k, v in data.items() if k not in known},
    )


def notify_spec(event: IssueEvent) -> JobSpec:
    """An ``alert_notify`` job for ``event`` (keyed by its id: the same event twice is one job)."""
    return JobSpec(
        kind=NOTIFY_KIND,
        key=f"alert_notify:{event.project_id}:{event.event_id}",
        project_id=event.project_id,
        payload={"events": [event.to_json()]},
    )


def reminder_scheduler(open_issues: OpenIssues) -> Scheduler:
    """The reminders' ``Scheduler``: an ``alert_notify`` job for each reminder due."""

    def schedule(backend: Backend, now: datetime) -> Iterator[JobSpec]:
        by_project: dict[str, list[Mapping[str, Any]]] = {}
        for project_id, issue in open_issues(backend):
            by_project.setdefault(project_id, []).append(issue)
        for project_id, issues in by_project.items():
            for event in reminder_events(
                project_id, issues, now, backend.settings.alert_remind_after_seconds
            ):
                yield notify_spec(event)

    return schedule


def alert_notify_handler(ctx: JobContext) -> None:
    """``alert_notify`` (``payload``: ``{"events": [IssueEvent JSON]}``): notify the project's current channels."""
    from raymon.server.services import alerts
    from raymon.server.store import alerts as store_alerts

    project_id = ctx.job.project_id or ""
    events = [_event_from_json(e) for e in ctx.job.payload.get("events", [])]
    with ctx.finishing() as session:
        found = store_alerts.alert_actions(session, project_id)
        if found is None:
            return
        version, entries = found
        channels = [AlertAction.model_validate(entry) for entry in entries]
        alerts.notify(session, ctx.backend, project_id, events, channels, manifest_version=version)


def alert_notify_kind() -> JobKind:
    return JobKind(name=NOTIFY_KIND, handler=alert_notify_handler, max_attempts=10)
