"""Reminders: issues open too long get one reminder per interval; a mute's end is told once; ack stops reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts_context import issue

from raymon.server.engine.alerts.reminders import reminder_events, reminder_scheduler

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # the issue opened at 11:55


def test_no_reminder_before_the_interval_nor_when_reminders_are_off() -> None:
    assert reminder_events("p", [issue(1)], NOW, remind_after_s=3600) == []
    assert reminder_events("p", [issue(1)], NOW + timedelta(days=3), remind_after_s=0) == []


def test_one_reminder_per_interval_with_a_stable_id() -> None:
    later = NOW + timedelta(hours=2)  # 2 h 5 min open
    (first,) = reminder_events("p", [issue(1)], later, remind_after_s=3600)
    (again,) = reminder_events("p", [issue(1)], later + timedelta(minutes=10), remind_after_s=3600)
    assert first.type == "reminder" and first.event_id == again.event_id == "1:reminder:2"
    (third,) = reminder_events("p", [issue(1)], later + timedelta(hours=1), remind_after_s=3600)
    assert third.event_id == "1:reminder:3"


def test_acknowledged_and_resolved_issues_get_no_reminder() -> None:
    later = NOW + timedelta(hours=5)
    issues = [issue(1, acked_at="2026-12-01T11:56:00Z"), issue(2, status="resolved")]
    assert reminder_events("p", issues, later, remind_after_s=3600) == []


def test_a_mute_that_ended_on_an_open_issue_is_told_once_and_a_running_mute_silences() -> None:
    muted = issue(1, muted_until="2026-12-01T13:00:00Z")
    assert reminder_events("p", [muted], NOW, remind_after_s=60) == []
    after = NOW + timedelta(hours=2)
    (told,) = reminder_events("p", [muted], after, remind_after_s=0)
    assert told.event_id == "1:unmuted:2026-12-01T13:00:00Z" and told.extra == {"reason": "mute_ended"}
    assert [e.event_id for e in reminder_events("p", [muted], after + timedelta(hours=1), 0)] == [
        told.event_id
    ]


def test_the_scheduler_answers_one_notify_job_per_reminder_keyed_by_its_event() -> None:
    class FakeSettings:
        alert_remind_after_seconds = 3600

    class FakeBackend:
        settings = FakeSettings()

    schedule = reminder_scheduler(
        lambda backend: [("p", issue(1)), ("q", issue(2)), ("p", issue(3, status="resolved"))]
    )
    specs = list(schedule(FakeBackend(), NOW + timedelta(hours=1)))  # type: ignore[arg-type]
    assert [(s.kind, s.key, s.project_id) for s in specs] == [
        ("alert_notify", "alert_notify:p:1:reminder:1", "p"),
        ("alert_notify", "alert_notify:q:2:reminder:1", "q"),
    ]
