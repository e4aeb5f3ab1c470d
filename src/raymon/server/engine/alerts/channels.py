"""The built-in alert channels: ``slack`` (incoming webhook) and ``webhook`` (Standard Webhooks, or Alertmanager v4).

A channel function turns one message (the events of one (project, check, event type) of one
evaluation, ``AlertMessage``) into the HTTP request to send (``OutgoingRequest``); it never
sends, retries or logs: ``engine.alerts.deliver`` does that for every channel alike. The
request holds the channel's secrets (the Slack URL, the signature): it must never be logged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from raymon.server.engine.signing import signed_headers

if TYPE_CHECKING:
    from raymon.server.engine.manifest import AlertAction
    from raymon.server.settings import Settings

SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION = 3000
SLACK_MAX_HEADER = 150
SLACK_LISTED = 10  # issues shown one by one in a Slack message; the rest are "+N more"
_VERB = {"opened": "opened", "reopened": "reopened", "resolved": "resolved", "reminder": "still open"}
_EMOJI = {
    "opened": ":red_circle:",
    "reopened": ":red_circle:",
    "resolved": ":white_check_mark:",
    "reminder": ":bell:",
}


@dataclass(frozen=True)
class AlertMessage:
    """What one delivery tells: ``events`` (``IssueEvent.to_json()`` each) of one check and event type."""

    delivery_id: str  # the message's id on the wire (``webhook-id``): the same on every attempt
    project_id: str
    channel: str  # the action's name in the manifest
    type: str  # opened, reopened, resolved, reminder
    check: str
    events: list[dict[str, Any]]
    sent_at: datetime  # this attempt's time (the signature's timestamp)


@dataclass(frozen=True)
class OutgoingRequest:
    """An HTTP POST to make: it holds secrets (the URL, the signature): never log it."""

    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def issue_url(settings: Settings, project_id: str, issue_id: Any) -> str:
    """The issue's page in the UI."""
    return f"{settings.ui_url}/projects/{project_id}/issues/{issue_id}"


def project_url(settings: Settings, project_id: str) -> str:
    return f"{settings.ui_url}/projects/{project_id}"


def _slice_name(issue: Mapping[str, Any]) -> str:
    return str(issue.get("slice") or "") or "all traces"


def describe(issue: Mapping[str, Any]) -> str:
    """One line about an issue, plain text: what broke, on which slice, the metric against its threshold."""
    what = " ".join(str(issue[k]) for k in ("check", "component") if issue.get(k))
    metric = issue.get("metric") or "value"
    measured = ""
    if issue.get("value") is not None:
        measured = f": {metric} {_number(issue.get('value'))}"
        if issue.get("threshold") is not None:
            measured += f" against threshold {_number(issue.get('threshold'))}"
    reducer = f" ({issue['reducer']})" if issue.get("reducer") else ""
    return f"{what or 'issue'}{reducer} on {_slice_name(issue)}{measured}"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _headline(message: AlertMessage) -> str:
    count = len(message.events)
    noun = "issue" if count == 1 else "issues"
    return f"{count} {message.check or 'Raymon'} {noun} {_VERB.get(message.type, message.type)} in {message.project_id}"


# -- slack -------------------------------------------------------------------------------------


def slack_message(message: AlertMessage, settings: Settings) -> dict[str, Any]:
    """The Slack payload: ``text`` (the notification's fallback) and ``blocks`` within Slack's limits."""
    headline = _headline(message)
    first = describe(message.events[0]["issue"]) if message.events else ""
    more = len(message.events) - 1
    text = f"{headline}: {first}" + (f" (+{more} more)" if more > 0 else "")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(headline, SLACK_MAX_HEADER), "emoji": True},
        }
    ]
    shown = message.events[:SLACK_LISTED]
    for event in shown:
        issue = event.get("issue", {})
        link = issue_url(settings, message.project_id, issue.get("issue_id"))
        since = issue.get("opened_at") or event.get("at")
        lines = [
            f"{_EMOJI.get(message.type, '')} *{_slack_escape(describe(issue))}*",
            f"Slice: `{_slack_escape(_slice_name(issue))}`",
        ]
        if issue.get("value") is not None:
            metric = _slack_escape(str(issue.get("metric") or "value"))
            lines.append(f"{metric}: {_number(issue['value'])} (threshold {_number(issue.get('threshold'))})")
        if since:
            lines.append(f"Since {_slack_escape(str(since))}")
        lines.append(f"<{link}|Open the issue in Raymon>")
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), SLACK_MAX_SECTION)}}
        )
    hidden = len(message.events) - len(shown)
    footer = f"<{project_url(settings, message.project_id)}|Project {_slack_escape(message.project_id)}>"
    if hidden > 0:
        footer = f"+{hidden} more. " + footer
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(footer, SLACK_MAX_SECTION)}]}
    )
    return {"text": _cut(text, SLACK_MAX_SECTION), "blocks": blocks[:SLACK_MAX_BLOCKS]}


def slack(message: AlertMessage, action: AlertAction, settings: Settings) -> OutgoingRequest:
    """POST the message to the incoming-webhook URL in ``webhook`` (a resolve is a new message)."""
    if not action.webhook:
        raise ValueError(f"alert channel {action.name!r} (slack) has no webhook URL")
    body = orjson.dumps(slack_message(message, settings))
    return OutgoingRequest(action.webhook, body, {"content-type": "application/json"})


# -- webhook -----------------------------------------------------------------------------------


def webhook_payload(message: AlertMessage, settings: Settings) -> dict[str, Any]:
    """The JSON body of a ``webhook`` channel (docs/alerts.md has its schema)."""
    return {
        "delivery_id": message.delivery_id,
        "type": message.type,
        "check": message.check,
        "project": {"id": message.project_id, "url": project_url(settings, message.project_id)},
        "events": [
            {
                "event_id": event.get("event_id"),
                "type": event.get("type", message.type),
                "at": event.get("at"),
                "issue": event.get("issue", {}),
                "links": {
                    "issue": issue_url(settings, message.project_id, event.get("issue", {}).get("issue_id"))
                },
                **{
                    k: v
                    for k, v in event.items()
                    if k not in ("event_id", "type", "at", "issue", "project_id")
                },
            }
            for event in message.events
        ],
    }


def _fingerprint(project_id: str, issue_id: Any) -> str:
    return hashlib.blake2b(f"{project_id}\x00{issue_id}".encode(), digest_size=8).hexdigest()


def _label(value: Any) -> str:
    return "" if value is None else str(value)


def alertmanager_payload(message: AlertMessage, settings: Settings) -> dict[str, Any]:
    """Alertmanager's webhook payload (version 4), one alert per issue."""
    status = "resolved" if message.type == "resolved" else "firing"
    alerts = []
    for event in message.events:
        issue = event.get("issue", {})
        labels = {
            "alertname": f"raymon_{message.check or 'issue'}",
            "project": message.project_id,
            "check": _label(issue.get("check")),
            "reducer": _label(issue.get("reducer")),
            "slice": _label(issue.get("slice")),
            "component": _label(issue.get("component")),
            "metric": _label(issue.get("metric")),
            "issue_id": _label(issue.get("issue_id")),
        }
        link = issue_url(settings, message.project_id, issue.get("issue_id"))
        alerts.append(
            {
                "status": status,
                "labels": {k: v for k, v in labels.items() if v != ""},
                "annotations": {
                    "summary": describe(issue),
                    "value": _label(issue.get("value")),
                    "threshold": _label(issue.get("threshold")),
                    "issue_url": link,
                },
                "startsAt": issue.get("opened_at") or event.get("at"),
                "endsAt": (event.get("at") if status == "resolved" else None) or "0001-01-01T00:00:00Z",
                "generatorURL": link,
                "fingerprint": _fingerprint(message.project_id, issue.get("issue_id")),
            }
        )
    group_labels = {"project": message.project_id, "check": message.check}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{check="{message.check}", project="{message.project_id}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": message.channel,
        "groupLabels": group_labels,
        "commonLabels": {"alertname": f"raymon_{message.check or 'issue'}", **group_labels},
        "commonAnnotations": {},
        "externalURL": settings.ui_url,
        "alerts": alerts,
    }


def webhook(message: AlertMessage, action: AlertAction, settings: Settings) -> OutgoingRequest:
    """POST the event JSON (or ``format: alertmanager``'s payload) to ``url``, signed with ``secret``."""
    if not action.url:
        raise ValueError(f"alert channel {action.name!r} (webhook) has no url")
    if action.format not in (None, "standard", "alertmanager"):
        raise ValueError(
            f"alert channel {action.name!r}: format must be alertmanager or absent, got {action.format!r}"
        )
    payload = (
        alertmanager_payload(message, settings)
        if action.format == "alertmanager"
        else webhook_payload(message, settings)
    )
    body = orjson.dumps(payload)
    return OutgoingRequest(
        action.url, body, signed_headers(action.secret, message.delivery_id, message.sent_at, body)
    )
