"""Alerts end to end in process: notify writes deliveries and jobs, the deliver handler sends them to
real HTTP receivers on 127.0.0.1 and logs every attempt; retries, 410, ordering, restarts, secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from alerts_context import Clock, Receiver, event, issue, jobs, run_due, store_manifest
from standardwebhooks import Webhook

from raymon.server.backend import Backend, build_backend
from raymon.server.engine.alerts.deliver import deliver_handler
from raymon.server.engine.alerts.reminders import alert_notify_handler, notify_spec
from raymon.server.engine.manifest import AlertAction
from raymon.server.services import alerts
from raymon.server.services.auth import ensure_project
from raymon.server.settings import Settings
from raymon.server.store import jobs as store_jobs

T0_AWARE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PROJECT = "alerting"
HANDLERS = {"deliver": deliver_handler, "alert_notify": alert_notify_handler}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def database_url(backend: str, postgres_databases: Any, tmp_path: Path) -> Iterator[str]:
    if backend == "postgresql":
        url = postgres_databases.create()
        yield url
        postgres_databases.drop(url)
    else:
        yield f"sqlite:///{tmp_path / 'alerts.sqlite3'}"


def _backend(tmp_path: Path, database_url: str, clock: Clock) -> Backend:
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, public_url="https://raymon.example.com/"
    )
    built = build_backend(settings, clock=clock)
    built.database.migrate()
    return built


@pytest.fixture
def be(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[Backend]:
    built = _backend(tmp_path, database_url, clock)
    with built.writing() as session:
        ensure_project(session, PROJECT, "Alerting")
    yield built
    built.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _channels(be: Backend, *entries: dict[str, Any], version: int = 1) -> list[AlertAction]:
    store_manifest(be, PROJECT, version, entries)
    return [AlertAction.model_validate(e) for e in entries]


def _notify(be: Backend, events: list[Any], channels: list[AlertAction], version: int | None = 1) -> int:
    with be.writing() as session:
        return alerts.notify(session, be, PROJECT, events, channels, manifest_version=version)


def _log(be: Backend, channel: str | None = None) -> list[dict[str, Any]]:
    return list(alerts.deliveries(be, PROJECT, channel)["deliveries"])


def test_an_opened_issue_reaches_a_slack_receiver_and_a_signed_webhook_receiver(
    be: Backend, receiver: Receiver
) -> None:
    channels = _channels(
        be,
        {"name": "team_slack", "type": "slack", "webhook": receiver.url("/services/T000/B000/XXXX")},
        {"name": "pager", "type": "webhook", "url": receiver.url("/raymon"), "secret": SECRET},
    )
    assert _notify(be, [event(PROJECT, issue(7, slice_="LotArea > 10000"))], channels) == 2
    outcomes = run_due(be, HANDLERS)
    assert [o.result for o in outcomes] == ["done", "done"]
    by_path = {r.path: r for r in receiver.received}

    slack = orjson.loads(by_path["/services/T000/B000/XXXX"].body)
    assert "drift" in slack["text"] and "LotArea > 10000" in slack["text"]
    section = slack["blocks"][1]["text"]["text"]
    assert "psi: 0.31 (threshold 0.2)" in section and "Since 2026-12-01T11:55:00Z" in section
    assert "<https://raymon.example.com/projects/alerting/issues/7|" in section

    hook = by_path["/raymon"]
    verified = Webhook(SECRET).verify(hook.body, hook.headers)
    assert verified["type"] == "opened" and verified["project"]["id"] == PROJECT
    (sent,) = verified["events"]
    assert sent["issue"]["issue_id"] == 7 and sent["event_id"] == "7:opened:2026-12-01T12:00:00+00:00"
    assert sent["links"]["issue"] == "https://raymon.example.com/projects/alerting/issues/7"
    assert hook.headers["webhook-id"] == verified["delivery_id"]
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(hook.body.replace(b"opened", b"closed"), hook.headers)
    assert {d["status"] for d in _log(be)} == {"delivered"}


def test_a_receiver_answering_503_once_gets_the_same_webhook_id_again_and_the_log_shows_both(
    be: Backend, receiver: Receiver, clock: Clock
) -> None:
    receiver.script = [503]
    channels = _channels(be, {"name": "pager", "type": "webhook", "url": receiver.url(), "secret": SECRET})
    _notify(be, [event(PROJECT, issue(1))], channels)
    (first,) = run_due(be, HANDLERS)
    assert first.result == "retry" and first.after_s is not None and 5 <= first.after_s <= 10
    assert run_due(be, HANDLERS) == []  # not due yet
    clock.advance(first.after_s)
    assert [o.result for o in run_due(be, HANDLERS)] == ["done"]
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert receiver.received[0].body == receiver.received[1].body
    log = _log(be, "pager")
    assert [(d["attempt"], d["status_code"], d["status"]) for d in log] == [
        (2, 200, "delivered"),
        (1, 503, "retried"),
    ]
    assert log[1]["error"] == "HTTP 503" and log[1]["next_attempt_at"] is not None
    assert log[0]["delivered_at"] is not None and log[0]["duration_ms"] >= 0


def test_429_retry_after_is_honoured(be: Backend, receiver: Receiver) -> None:
    receiver.script = [(429, {"Retry-After": "120"})]
    channels = _channels(be, {"name": "pager", "type": "webhook", "url": receiver.url(), "secret": SECRET})
    _notify(be, [event(PROJECT, issue(1))], channels)
    (outcome,) = run_due(be, HANDLERS)
    assert outcome.result == "retry" and outcome.after_s == 120


def test_a_network_error_is_retried_and_the_log_never_shows_the_url(be: Backend, clock: Clock) -> None:
    dead = Receiver()
    url = dead.url("/services/T1/B1/very-secret-path")
    dead.close()  # nothing listens there any more
    channels = _channels(be, {"name": "team_slack", "type": "slack", "webhook": url})
    _notify(be, [event(PROJECT, issue(1))], channels)
    (outcome,) = run_due(be, HANDLERS)
    assert outcome.result == "retry"
    (line,) = _log(be)
    assert line["status_code"] is None and line["error"].startswith("ConnectError")
    assert "very-secret-path" not in orjson.dumps(_log(be)).decode()


def test_retries_stop_after_the_retry_window_and_the_delivery_fails(
    be: Backend, receiver: Receiver, clock: Clock
) -> None:
    receiver.default = 500
    channels = _channels(be, {"name": "pager", "type": "webhook", "url": receiver.url(), "secret": SECRET})
    _notify(be, [event(PROJECT, issue(1))], channels)
    results = []
    for _ in range(60):
        outcomes = run_due(be, HANDLERS)
        results += [o.result for o in outcomes]
        if "parked" in results:
            break
        clock.advance(3600)
    assert results[-1] == "parked" and set(results[:-1]) == {"retry"}
    assert 20 <= len(results) <= 30  # backoff to an hour: about 24 attempts in 24 hours
    newest = _log(be)[0]
    assert newest["status"] == "failed" and "gave up after 24 hours" in newest["error"]


def test_a_410_disables_the_channel_until_a_new_manifest_is_applied(be: Backend, receiver: Receiver) -> None:
    receiver.script = [410]
    entry = {"name": "pager", "type": "webhook", "url": receiver.url(), "secret": SECRET}
    channels = _channels(be, entry)
    _notify(be, [event(PROJECT, issue(1))], channels)
    assert [o.result for o in run_due(be, HANDLERS)] == ["done"]
    _notify(be, [event(PROJECT, issue(2))], channels)
    run_due(be, HANDLERS)
    assert len(receiver.received) == 1  # the second event was not sent
    statuses = [(d["issue_id"], d["status"], d["attempt"]) for d in _log(be)]
    assert statuses == [("2", "disabled", 0), ("1", "disabled", 1)]
    store_manifest(be, PROJECT, 2, [entry])  # re-applied: a new version sends again
    _notify(be, [event(PROJECT, issue(3))], channels, version=2)
    run_due(be, HANDLERS)
    assert len(receiver.received) == 2


def test_other_4xx_fail_at_once(be: Backend, receiver: Receiver) -> None:
    receiver.script = [400]
    channels = _channels(be, {"name": "pager", "type": "webhook", "url": receiver.url(), "secret": SECRET})
    _notify(be, [event(PROJECT, issue(1))], channels)
    (outcome,) = run_due(be, HANDLERS)
    assert outcome.result == "parked" and "HTTP 400" in (outcome.error or "")
    assert _log(be)[0]["status"] == "failed"


def test_a_resolve_waits_for_the_issues_earlier_delivery(
    be: Backend, receiver: Receiver, clock: Clock
) -> None:
    receiver.script = [503]
    channels = _channels(be, {"name": "pager", "type": "webhook", "url": receiver.url(), "secret": SECRET})
    _notify(be, [event(PROJECT, issue(1))], channels)
    later = T0_AWARE.replace(minute=5)
    _notify(be, [event(PROJECT, issue(1, status="resolved"), "resolved", at=later)], channels)
    first = run_due(be, HANDLERS)
    assert [o.result for o in first] == ["retry", "retry"]  # opened got 503; resolved waits for it
    assert len(receiver.received) == 1
    clock.advance(60)
    run_due(be, HANDLERS)  # opened delivered; resolved looks again next
    run_due(be, HANDLERS)
    types = [orjson.loads(r.body)["type"] for r in receiver.received]
    assert types == ["opened", "opened", "resolved"]


def test_pending_deliveries_survive_a_restart(tmp_path: Path, database_url: str, clock: Clock) -> None:
    receiver = Receiver()
    try:
        first = _backend(tmp_path, database_url, clock)
        with first.writing() as session:
            ensure_project(session, PROJECT, "Alerting")
        channels = _channels(
            first, {"name": "pager", "type": "webhook", "url": receiver.url(), "secret": SECRET}
        )
        _notify(first, [event(PROJECT, issue(1))], channels)
        first.close()  # the process ends before any delivery ran
        second = _backend(tmp_path, database_url, clock)
        assert [o.result for o in run_due(second, HANDLERS)] == ["done"]
        second.close()
        assert len(receiver.received) == 1
    finally:
        receiver.close()


def test_one_message_per_check_and_evaluation_with_more_not_one_per_slice(
    be: Backend, receiver: Receiver
) -> None:
    channels = _channels(be, {"name": "team_slack", "type": "slack", "webhook": receiver.url()})
    events = [event(PROJECT, issue(i, slice_=f"region = r{i}")) for i in range(12)]
    events.append(event(PROJECT, issue(99, check="integrity")))
    assert _notify(be, events, channels) == 2  # drift (12 slices) and integrity
    run_due(be, HANDLERS)
    bodies = sorted((orjson.loads(r.body) for r in receiver.received), key=lambda b: len(b["blocks"]))
    integrity, drift = bodies
    assert "(+11 more)" in drift["text"]
    assert drift["blocks"][-1]["elements"][0]["text"].startswith("+2 more.")
    assert len(drift["blocks"]) == 1 + 10 + 1
    assert "+" not in integrity["text"]


def test_slack_limits_hold_for_huge_issues() -> None:
    from raymon.server.engine.alerts.channels import AlertMessage, slack_message

    events = [
        {
            "event_id": str(i),
            "type": "opened",
            "at": "2026-12-01T12:00:00Z",
            "issue": issue(i, slice_="x" * 5000),
        }
        for i in range(80)
    ]
    message = AlertMessage("msg_1", PROJECT, "s", "opened", "drift", events, T0_AWARE)
    body = slack_message(message, Settings())
    assert len(body["blocks"]) <= 50
    for block in body["blocks"]:
        text = block.get("text", {}).get("text") or block.get("elements", [{}])[0].get("text", "")
        assert len(text) <= (150 if block["type"] == "header" else 3000)
    assert len(body["text"]) <= 3000


def test_channels_filter_by_check_slice_and_priority(be: Backend, receiver: Receiver) -> None:
    channels = _channels(
        be,
        {"name": "drift_only", "type": "webhook", "url": receiver.url("/a"), "checks": ["drift"]},
        {"name": "global_only", "type": "webhook", "url": receiver.url("/b"), "slices": [""]},
        {"name": "urgent", "type": "webhook", "url": receiver.url("/c"), "min_priority": 3},
    )
    events = [
        event(PROJECT, issue(1, check="integrity", slice_="")),
        event(PROJECT, issue(2, check="drift", slice_="a = 1", priority=5)),
    ]
    _notify(be, events, channels)
    run_due(be, HANDLERS)
    got = {
        r.path: [e["issue"]["issue_id"] for e in orjson.loads(r.body)["events"]] for r in receiver.received
    }
    assert got == {"/a": [2], "/b": [1], "/c": [2]}


def test_muted_issues_are_not_told_and_acked_ones_get_no_reminder(be: Backend, receiver: Receiver) -> None:
    channels = _channels(be, {"name": "pager", "type": "webhook", "url": receiver.url()})
    muted = issue(1, muted_until="2099-01-01T00:00:00Z")
    acked = issue(2, acked_at="2026-12-01T11:58:00Z")
    assert _notify(be, [event(PROJECT, muted), event(PROJECT, acked, "reminder")], channels) == 0
    assert _notify(be, [event(PROJECT, acked, "resolved")], channels) == 1


def test_the_same_events_twice_make_one_delivery(be: Backend, receiver: Receiver) -> None:
    channels = _channels(be, {"name": "pager", "type": "webhook", "url": receiver.url()})
    events = [event(PROJECT, issue(1))]
    assert _notify(be, events, channels) == 1
    assert _notify(be, events, channels) == 0
    assert len(jobs(be, "deliver")) == 1


def test_alertmanager_format_sends_the_v4_payload(be: Backend, receiver: Receiver) -> None:
    channels = _channels(
        be,
        {"name": "am", "type": "webhook", "url": receiver.url(), "format": "alertmanager", "secret": SECRET},
    )
    _notify(be, [event(PROJECT, issue(4, slice_="a = 1"))], channels)
    _notify(
        be,
        [
            event(
                PROJECT, issue(4, slice_="a = 1", status="resolved"), "resolved", at=T0_AWARE.replace(hour=13)
            )
        ],
        channels,
    )
    run_due(be, HANDLERS)
    run_due(be, HANDLERS)
    firing, resolved = (orjson.loads(r.body) for r in receiver.received)
    assert firing["version"] == "4" and firing["status"] == "firing" and firing["receiver"] == "am"
    (alert,) = firing["alerts"]
    assert alert["labels"]["alertname"] == "raymon_drift" and alert["labels"]["slice"] == "a = 1"
    assert alert["startsAt"] == "2026-12-01T11:55:00Z" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["generatorURL"].endswith("/projects/alerting/issues/4")
    assert resolved["status"] == "resolved" and resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert resolved["alerts"][0]["endsAt"] == "2026-12-01T13:00:00Z"


def test_redelivery_sends_a_delivered_message_again_with_its_id(be: Backend, receiver: Receiver) -> None:
    channels = _channels(be, {"name": "pager", "type": "webhook", "url": receiver.url(), "secret": SECRET})
    _notify(be, [event(PROJECT, issue(1))], channels)
    run_due(be, HANDLERS)
    delivery_id = _log(be)[0]["delivery_id"]
    assert alerts.redeliver(be, PROJECT, delivery_id)["status"] == "pending"
    run_due(be, HANDLERS)
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery_id, delivery_id]
    assert [d["attempt"] for d in _log(be)] == [2, 1]
    with pytest.raises(LookupError):
        alerts.redeliver(be, PROJECT, "msg_unknown")


def test_alert_notify_jobs_tell_the_current_manifests_channels_once(
    be: Backend, receiver: Receiver, clock: Clock
) -> None:
    _channels(be, {"name": "pager", "type": "webhook", "url": receiver.url(), "secret": SECRET})
    reminder = event(PROJECT, issue(5), "reminder")
    with be.writing() as session:
        assert store_jobs.enqueue(session, [notify_spec(reminder), notify_spec(reminder)]) == 1
    clock.advance(5)  # enqueued at the wall clock's now
    run_due(be, HANDLERS)  # alert_notify makes the delivery
    run_due(be, HANDLERS)  # deliver sends it
    (got,) = receiver.received
    assert orjson.loads(got.body)["type"] == "reminder"


def test_no_log_line_or_answer_holds_a_secret(
    be: Backend, receiver: Receiver, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    slack_url = receiver.url("/services/T9/B9/slack-secret-token")
    receiver.script = [503, 410]
    channels = _channels(
        be,
        {"name": "team_slack", "type": "slack", "webhook": slack_url},
        {"name": "pager", "type": "webhook", "url": receiver.url("/p"), "secret": SECRET},
    )
    with caplog.at_level(logging.DEBUG):
        _notify(be, [event(PROJECT, issue(1))], channels)
        outcomes = run_due(be, HANDLERS)
        clock.advance(3600)
        outcomes += run_due(be, HANDLERS)
    everything = caplog.text + orjson.dumps(_log(be)).decode() + repr(outcomes)
    everything += "".join(repr(j.payload) + (j.last_error or "") for j in jobs(be))
    assert "team_slack" in caplog.text and "pager" in caplog.text
    for secret in ("slack-secret-token", SECRET, SECRET.removeprefix("whsec_")):
        assert secret not in everything


def test_public_url_is_checked_and_gives_the_links_their_base() -> None:
    from raymon.server.settings import SettingsError

    with pytest.raises(SettingsError, match="RAYMON_PUBLIC_URL must be an http"):
        Settings.from_env({"RAYMON_PUBLIC_URL": "raymon.example.com"})
    assert Settings(public_url="https://r.example.com/").ui_url == "https://r.example.com"
    assert Settings(port=8123).ui_url == "http://127.0.0.1:8123"
