"""The delivery log and redelivery through a real server: every attempt listed, channel names only,
no secret in an answer or in the server's output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alerts_context import Clock, Receiver, event, issue, run_due, store_manifest

from raymon.server.backend import Backend, build_backend
from raymon.server.engine.alerts.deliver import deliver_handler
from raymon.server.engine.manifest import AlertAction
from raymon.server.services import alerts
from raymon.server.settings import Settings

SECRET = "whsec_C2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr"
SLACK_TOKEN = "slack-path-token-0123456789"
HANDLERS = {"deliver": deliver_handler}


@pytest.fixture
def engine(server: Any) -> Iterator[tuple[Backend, Clock]]:
    clock = Clock()
    backend = build_backend(Settings(data_dir=server.data_dir, database_url=server.database_url), clock=clock)
    yield backend, clock
    backend.close()


def test_the_log_lists_every_attempt_by_channel_and_redelivery_resends_with_the_same_id(
    server: Any, engine: tuple[Backend, Clock]
) -> None:
    backend, clock = engine
    project = server.new_project()
    receiver = Receiver(script=[503])  # the pager's: its first answer is a 503
    slack_receiver = Receiver()
    try:
        entries = [
            {"name": "pager", "type": "webhook", "url": receiver.url("/p"), "secret": SECRET},
            {
                "name": "team_slack",
                "type": "slack",
                "webhook": slack_receiver.url(f"/services/{SLACK_TOKEN}"),
            },
        ]
        store_manifest(backend, project.project_id, 1, entries)
        with backend.writing() as session:
            channels = [AlertAction.model_validate(e) for e in entries]
            alerts.notify(
                session, backend, project.project_id, [event(project.project_id, issue(3))], channels
            )
        run_due(backend, HANDLERS)
        clock.advance(30)
        run_due(backend, HANDLERS)
        api = server.api(project.admin_key)
        answer = api.alert_deliveries(project.project_id)
        assert answer.status_code == 200, answer.text
        lines = answer.json()["deliveries"]
        pager = [(d["attempt"], d["status_code"]) for d in lines if d["channel"] == "pager"]
        slack = [(d["attempt"], d["status_code"]) for d in lines if d["channel"] == "team_slack"]
        assert sorted(pager) == [(1, 503), (2, 200)] and slack == [(1, 200)]
        keys = {
            "delivery_id",
            "channel",
            "event",
            "issue_id",
            "attempt",
            "status_code",
            "error",
            "duration_ms",
        }
        assert keys | {"delivered_at", "next_attempt_at"} <= set(lines[0])
        only = api.alert_deliveries(project.project_id, channel="team_slack").json()["deliveries"]
        assert {d["channel"] for d in only} == {"team_slack"}

        delivery_id = next(d["delivery_id"] for d in lines if d["channel"] == "pager")
        reader = server.api(server.key(project, "read"))
        assert reader.alert_redeliver(project.project_id, delivery_id).status_code == 403
        assert reader.alert_deliveries(project.project_id).status_code == 200
        again = api.alert_redeliver(project.project_id, delivery_id)
        assert again.status_code == 202 and again.json()["status"] == "pending"
        assert api.alert_redeliver(project.project_id, "msg_nope").status_code == 404
        run_due(backend, HANDLERS)
        ids = [r.headers["webhook-id"] for r in receiver.received if r.path == "/p"]
        assert ids == [delivery_id] * 3

        everything = answer.text + again.text + api.alert_deliveries(project.project_id).text + server.log()
        for secret in (SECRET, SECRET.removeprefix("whsec_"), SLACK_TOKEN):
            assert secret not in everything
    finally:
        receiver.close()
        slack_receiver.close()
