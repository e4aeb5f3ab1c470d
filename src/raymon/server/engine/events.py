"""Issue events: what the issue state machine tells the alert channels, and nothing else.

An ``IssueEvent`` is made in the same transaction that records the issue's transition
(so a crash cannot lose or duplicate it) and handed to the alert service, which turns it
into delivery jobs. It carries the issue as ``issues_ls`` shows it, so a channel never
reads the database. It never holds a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

IssueEventType = Literal["opened", "reopened", "resolved", "reminder"]
ISSUE_EVENT_TYPES: tuple[str, ...] = ("opened", "reopened", "resolved", "reminder")


@dataclass(frozen=True)
class IssueEvent:
    """One transition of one issue that people may want to hear of.

    ``event_id`` is unique and stable (the same on every retry of its deliveries);
    ``issue`` is the issue's JSON as ``issues_ls`` answers it (``issue_id``, ``slice``,
    ``reducer``, ``component``, ``check``, ``metric``, ``value``, ``threshold``, ``status``,
    ``priority``, ``opened_at``...); ``at`` is when the transition happened.
    """

    event_id: str
    type: IssueEventType
    project_id: str
    issue: dict[str, Any]
    at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data (times as RFC 3339 UTC)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "project_id": self.project_id,
            "issue": self.issue,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            **self.extra,
        }


def time_of(value: Any) -> datetime | None:
    """A time as ``to_json`` (or ``issues_ls``) writes it, read back; ``None`` when absent or not a time."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
