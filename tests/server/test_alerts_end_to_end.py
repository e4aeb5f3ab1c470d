"""Alerts end to end: the house-prices walkthrough against a real server tells real receivers (SQLite and PostgreSQL).

The engine runs inside ``raymon server`` (``RAYMON_ENGINE=on``); the walkthrough's manifest
(``raymon.server.demo.story``) gets four ``actions.alert`` channels, each pointing at its own receiver,
a real process on 127.0.0.1 (alert_receiver.py) that records every request it gets:

- ``team_slack`` (``type: slack``): always 200;
- ``pager`` (``type: webhook``, signed): answers 503 (``Retry-After: 1``) to its first request;
- ``gone`` (``type: webhook``): answers 410;
- ``later`` (``type: webhook``, signed): answers 503 until the server is stopped; a receiver
  answering 200 takes its port and the server is started again.

What must come out: the broken client's issues reach Slack (``text`` and ``blocks`` naming the
slice, a link to the issue) and the signed webhooks (verifying with ``standardwebhooks``, the
issue as ``issues_ls`` shows it), one message per (check, event type) of an evaluation; the 503
is retried with the same ``webhook-id``; the 410 disables its channel; the deliveries pending at
the restart arrive after it, none lost; the delivery log shows every attempt; and neither the
server's output nor any answer of the API holds the Slack URL's token or the webhook secret.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from test_walkthrough import send, wait_for

from raymon import RaymonAPI
from raymon.server.demo import story

pytestmark = pytest.mark.timeout(300)

WINDOWS, PER_CLIENT_WINDOW, BROKEN_FROM = 6, 45, 3
SECRET = "whsec_ZTJlLWFsZXJ0cy1zZWNyZXQtbmV2ZXItc2hvd24="
SLACK_TOKEN = "e2eSlackToken0123456789abcdef"
PUBLIC_URL = "https://raymon.example.test"
RECEIVER = Path(__file__).with_name("alert_receiver.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReceiverProcess:
    """An alert_receiver.py process on ``port``, answering ``script``; ``requests()`` reads what it recorded."""

    def __init__(self, directory: Path, name: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.record = directory / f"{name}.jsonl"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, *script: str) -> ReceiverProcess:
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(self.port), str(self.record), *script],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()
        assert ready.strip() == b"ready", ready + self.process.stdout.read()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def requests(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[dict[str, ReceiverProcess]]:
    made = {
        "team_slack": ReceiverProcess(tmp_path, "slack").start(),
        "pager": ReceiverProcess(tmp_path, "pager").start("503"),
        "gone": ReceiverProcess(tmp_path, "gone").start("410*1000"),
        "later": ReceiverProcess(tmp_path, "later").start("503*100000"),
    }
    yield made
    for receiver in made.values():
        receiver.stop()


def alert_manifest(project_id: str, receivers: dict[str, ReceiverProcess]) -> str:
    """The walkthrough's manifest with the four channels in its ``actions:`` mapping."""
    alerts = (
        "  alert:\n"
        "    - name: team_slack\n"
        "      type: slack\n"
        f"      webhook: {receivers['team_slack'].url(f'/services/T000/B000/{SLACK_TOKEN}')}\n"
        "    - name: pager\n"
        "      type: webhook\n"
        f"      url: {receivers['pager'].url('/raymon')}\n"
        f"      secret: {SECRET}\n"
        "    - name: gone\n"
        "      type: webhook\n"
        f"      url: {receivers['gone'].url('/raymon')}\n"
        "    - name: later\n"
        "      type: webhook\n"
        f"      url: {receivers['later'].url('/raymon')}\n"
        f"      secret: {SECRET}\n"
    )
    head, tail = story.MANIFEST.format(project_id=project_id).split("slices:\n", 1)
    return head + alerts + "slices:\n" + tail


def log_of(api: RaymonAPI, project_id: str, channel: str | None = None) -> list[dict[str, Any]]:
    answer = api.alert_deliveries(project_id, channel)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["deliveries"])


def test_the_walkthrough_tells_slack_and_signed_webhooks_retries_disables_and_survives_a_restart(
    make_server: Any, receivers: dict[str, ReceiverProcess]
) -> None:
    server = make_server(
        RAYMON_ENGINE="on",
        RAYMON_REDUCE_PASS_SECONDS="1",
        RAYMON_WORKER_POLL_SECONDS="0.2",
        RAYMON_PUBLIC_URL=PUBLIC_URL,
        RAYMON_ALERT_TIMEOUT_SECONDS="3",
        RAYMON_LOG_LEVEL="info",  # every delivery attempt is logged: the secrets check reads them all
    )
    project = server.new_project("houseprices")
    pid = project.project_id
    api = server.api(server.key(project, "admin,ingest,read"))
    data = story.houses()
    model = story.Model.fit(data)
    profile = story.build_profile(data, model)
    assert api.profile_create(pid, profile).status_code in (200, 201)
    applied = api.orchestration_apply(pid, alert_manifest(pid, receivers))
    assert applied.status_code in (200, 201), applied.text

    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).replace(minute=(now.minute // 10) * 10, second=0, microsecond=0)
    traffic = list(story.service_traffic(pid, profile, model, start, WINDOWS, PER_CLIENT_WINDOW, BROKEN_FROM))
    send(api, pid, [e for _, _, events in traffic for e in events])
    labels = [
        e
        for trace_id, price, events in traffic
        for e in story.labelling_events(
            pid, profile, trace_id, price, datetime.fromisoformat(events[0]["ts"]) + timedelta(minutes=5)
        )
    ]
    send(RaymonAPI(server.url, server.key(project, "ingest")), pid, labels)

    broken = story.slice_of(story.BROKEN_CLIENT)

    def broken_issues() -> list[dict[str, Any]] | None:
        issues = [i for i in api.issues_ls(pid).json()["issues"] if i["slice"] == broken]
        return issues if {i["component"] for i in issues} >= set(story.BROKEN_FEATURES) else None

    wait_for("issues on the broken client's two features", broken_issues, timeout=120)

    def settled() -> list[dict[str, Any]] | None:
        """The delivery log once every delivery but ``later``'s is done, and ``later`` was tried."""
        lines = log_of(api, pid)
        if any(d["status"] == "pending" for d in lines if d["channel"] != "later"):
            return None
        if not any(d["channel"] == "later" and d["status_code"] == 503 for d in lines):
            return None
        if not any(d["channel"] == "pager" and d["status"] == "delivered" for d in lines):
            return None
        return lines

    wait_for("the deliveries to settle", settled, timeout=60)
    time.sleep(2.5)  # a reduce pass or two more: what the last evaluations caused is in the log too
    wait_for("the deliveries to settle", settled, timeout=60)
    issues = {i["issue_id"]: i for i in api.issues_ls(pid).json()["issues"]}
    opened = {i for i, issue in issues.items() if issue["slice"] == broken}
    assert opened, issues

    # Slack: text and blocks naming the broken slice, with a link to the issue.
    slack = receivers["team_slack"].requests()
    assert slack and {r["path"] for r in slack} == {f"/services/T000/B000/{SLACK_TOKEN}"}
    messages = [json.loads(r["body"]) for r in slack]
    about_broken = [m for m in messages if broken in json.dumps(m["blocks"])]
    assert about_broken, messages
    first = about_broken[0]
    assert first["text"] and isinstance(first["blocks"], list) and len(first["blocks"]) <= 50
    sections = "\n".join(b["text"]["text"] for b in first["blocks"] if b["type"] == "section")
    assert f"Slice: `{broken}`" in sections
    assert f"<{PUBLIC_URL}/projects/{pid}/issues/" in sections
    assert "opened" in first["text"] or "reopened" in first["text"]

    # Signed webhooks: each request verifies; its issues are those issues_ls shows.
    pager = receivers["pager"].requests()
    assert pager
    for request in pager:
        payload = Webhook(SECRET).verify(request["body"], request["headers"])
        assert payload["delivery_id"] == request["headers"]["webhook-id"]
    told: dict[Any, list[str]] = {}
    delivered = {r["headers"]["webhook-id"]: json.loads(r["body"]) for r in pager if r["status"] == 200}
    for payload in delivered.values():
        assert {e["type"] for e in payload["events"]} == {payload["type"]}
        assert {e["issue"]["check"] for e in payload["events"]} == {payload["check"]}
        assert payload["project"]["id"] == pid
        for item in payload["events"]:
            told.setdefault(item["issue"]["issue_id"], []).append(payload["type"])
            assert item["links"]["issue"] == f"{PUBLIC_URL}/projects/{pid}/issues/{item['issue']['issue_id']}"
    for issue_id in opened:
        shown = issues[issue_id]
        if not told.get(issue_id):  # inhibited: the global slice's issue of its component and check was told
            history = api.issue_get(pid, issue_id).json()["history"]
            assert [h for h in history if h["suppressed"] == "inhibited by the global slice"], history
            assert any(
                i["slice"] == "" and (i["component"], i["check"]) == (shown["component"], shown["check"])
                for i_id, i in issues.items()
                if i_id in told
            ), (shown, sorted(told))
            continue
        sent = next(
            e["issue"]
            for p in delivered.values()
            for e in p["events"]
            if e["issue"]["issue_id"] == issue_id and p["type"] in ("opened", "reopened")
        )
        for key in ("issue_id", "slice", "reducer", "component", "check", "metric", "opened_at"):
            assert sent.get(key) == shown.get(key), (key, sent, shown)
    assert any(broken in json.dumps(p["events"]) for p in delivered.values())
    assert len(slack) == len(delivered)  # both channels hear of every issue, grouped alike
    # Grouping: one message per (check, event type) of an evaluation, whatever the slices: a
    # check opening on the global slice and on the broken client's in one pass is one message;
    # no issue is told twice of one transition.
    assert any(len({e["issue"]["slice"] for e in p["events"]}) > 1 for p in delivered.values()), [
        (p["check"], p["type"], [e["issue"]["slice"] for e in p["events"]]) for p in delivered.values()
    ]
    for issue_id, types in told.items():
        assert len(types) == len(set(types)), (issue_id, types)

    # Retry: the first request got 503, the same webhook-id came again and was accepted.
    assert pager[0]["status"] == 503
    retried = pager[0]["headers"]["webhook-id"]
    assert [r["status"] for r in pager if r["headers"]["webhook-id"] == retried] == [503, 200]
    pager_log = [d for d in log_of(api, pid, "pager") if d["delivery_id"] == retried]
    assert sorted((d["attempt"], d["status_code"], d["status"]) for d in pager_log) == [
        (1, 503, "retried"),
        (2, 200, "delivered"),
    ]
    assert all(d["channel"] == "pager" for d in pager_log)

    # 410: the channel is disabled; what comes after is recorded, not sent.
    gone_requests = receivers["gone"].requests()
    gone_log = log_of(api, pid, "gone")
    assert gone_requests and all(r["status"] == 410 for r in gone_requests)
    assert len(gone_requests) == sum(1 for d in gone_log if d["status_code"] == 410)
    later_ones = [d for d in gone_log if d["attempt"] == 0]
    assert later_ones and all(d["status"] == "disabled" for d in later_ones), gone_log
    assert all("disabled" in (d["error"] or "") for d in later_ones), later_ones
    assert len(receivers["gone"].requests()) == len(gone_requests)  # nothing more was sent to it
    assert all(d["status"] in ("disabled", "retried") for d in log_of(api, pid, "gone"))

    # Restart with deliveries pending: the server stops while `later` answers 503; a receiver
    # answering 200 takes its port; the server starts again and the pending deliveries arrive.
    pending = {d["delivery_id"] for d in log_of(api, pid, "later")}
    assert pending and all(d["status"] in ("pending", "retried") for d in log_of(api, pid, "later"))
    server.stop()
    receivers["later"].stop()
    tried_before = receivers["later"].requests()
    assert tried_before and all(r["status"] == 503 for r in tried_before)
    receivers["later"].start()
    server.start()

    def all_arrived() -> set[str] | None:
        got = {r["headers"]["webhook-id"] for r in receivers["later"].requests() if r["status"] == 200}
        return got if got >= pending else None

    arrived = wait_for("the pending deliveries after the restart", all_arrived, timeout=60)
    assert arrived == pending  # none lost, none made up
    accepted = [r["headers"]["webhook-id"] for r in receivers["later"].requests() if r["status"] == 200]
    assert sorted(accepted) == sorted(pending)  # each once: the restart sent none twice
    for request in receivers["later"].requests():
        Webhook(SECRET).verify(request["body"], request["headers"])
    later_log = log_of(api, pid, "later")
    assert {d["delivery_id"] for d in later_log if d["status"] == "delivered"} >= pending
    # The log shows every attempt: as many lines per delivery as its receiver got requests.
    for channel in ("pager", "later", "gone"):
        lines = log_of(api, pid, channel)
        for delivery_id in {d["delivery_id"] for d in lines}:
            attempts = sorted(d["attempt"] for d in lines if d["delivery_id"] == delivery_id and d["attempt"])
            got = [r for r in receivers[channel].requests() if r["headers"]["webhook-id"] == delivery_id]
            assert attempts == list(range(1, len(got) + 1)), (channel, delivery_id, attempts, len(got))
            assert [
                d["status_code"]
                for d in sorted(lines, key=lambda d: d["attempt"])
                if d["delivery_id"] == delivery_id and d["attempt"]
            ] == [r["status"] for r in got]
    slack_lines = [d for d in log_of(api, pid, "team_slack") if d["attempt"]]
    assert len(slack_lines) == len(receivers["team_slack"].requests())

    # Secrets: in no answer of the API and nowhere in the server's output.
    answers = [
        api.orchestration_get(pid),
        api.manifest_history(pid).text,
        api.alert_deliveries(pid).text,
        api.issues_ls(pid).text,
        *(api.issue_get(pid, i).text for i in opened),
    ]
    output = server.log()
    assert "alert delivery" in output  # the attempts were logged: the check below reads them
    for secret in (SLACK_TOKEN, SECRET, SECRET.removeprefix("whsec_")):
        assert not [a for a in answers if secret in a], secret
        assert secret not in output, secret
