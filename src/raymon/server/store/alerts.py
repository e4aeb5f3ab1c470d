"""Alert deliveries, their attempts and disabled channels: every SQL statement about alerts.

A delivery row names its channel by (manifest version, action name) and never holds a URL or
a secret; ``alert_action`` reads the channel's entry (secrets included) from the stored
manifest when the handler sends, and nothing else here answers a secret. Functions take the
caller's session first and answer typed rows; whether to retry, disable or give up is
``engine.alerts.deliver``'s to decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from raymon.server.store.models import AlertAttempt, AlertChannelDisabled, AlertDelivery, Manifest

PENDING, DELIVERED, FAILED, DISABLED = "pending", "delivered", "failed", "disabled"


class NewDelivery(NamedTuple):
    delivery_id: str
    project_id: str
    channel: str
    manifest_version: int | None
    event_type: str
    check_name: str
    issue_id: str
    events: list[dict[str, Any]]


class DeliveryRow(NamedTuple):
    pk: int
    delivery_id: str
    project_id: str
    channel: str
    manifest_version: int | None
    event_type: str
    check_name: str
    issue_id: str
    events: list[dict[str, Any]]
    status: str
    attempts: int
    created_at: datetime
    retry_since: datetime


class AttemptLogRow(NamedTuple):
    """One line of the delivery log: an attempt (``attempt`` 0: the delivery has not been tried yet)."""

    delivery_id: str
    channel: str
    event: str
    issue_id: str
    status: str
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: float | None
    attempted_at: datetime | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None


class ChannelEntry(NamedTuple):
    """A channel's manifest entry (with its secrets: never log or answer it) and the version it is from."""

    manifest_version: int
    action: dict[str, Any]


def _row(d: AlertDelivery) -> DeliveryRow:
    return DeliveryRow(
        d.id,
        d.delivery_id,
        d.project_id,
        d.channel,
        d.manifest_version,
        d.event_type,
        d.check_name,
        d.issue_id,
        list(d.events or []),
        d.status,
        d.attempts,
        d.created_at,
        d.retry_since,
    )


def insert_deliveries(session: Session, deliveries: Sequence[NewDelivery], now: datetime) -> list[str]:
    """Insert the deliveries whose ``delivery_id`` is new; answer those inserted (in order)."""
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted: list[str] = []
    for new in deliveries:
        stmt = insert(AlertDelivery).values(
            **new._asdict(),
            status=PENDING,
            attempts=0,
            created_at=now,
            retry_since=now,
            next_attempt_at=now,
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=["delivery_id"]).returning(AlertDelivery.id)
        if session.execute(stmt).first() is not None:  # rowcount is not reliable here on psycopg
            inserted.append(new.delivery_id)
    return inserted


def get_delivery(session: Session, project_id: str, delivery_id: str) -> DeliveryRow | None:
    found = session.scalars(
        select(AlertDelivery).where(
            AlertDelivery.project_id == project_id, AlertDelivery.delivery_id == delivery_id
        )
    ).first()
    return None if found is None else _row(found)


class Waiting(NamedTuple):
    delivery_id: str
    next_attempt_at: datetime | None


def earlier_pending(session: Session, delivery: DeliveryRow) -> Waiting | None:
    """The first pending delivery made before ``delivery`` on its stream (project, channel, check), if any."""
    found = session.execute(
        select(AlertDelivery.delivery_id, AlertDelivery.next_attempt_at)
        .where(
            AlertDelivery.project_id == delivery.project_id,
            AlertDelivery.channel == delivery.channel,
            AlertDelivery.check_name == delivery.check_name,
            AlertDelivery.status == PENDING,
            AlertDelivery.id < delivery.pk,
        )
        .order_by(AlertDelivery.id)
        .limit(1)
    ).first()
    return None if found is None else Waiting(found[0], found[1])


def record_attempt(
    session: Session,
    delivery: DeliveryRow,
    *,
    status: str,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
    attempted_at: datetime,
    next_attempt_at: datetime | None,
) -> int:
    """Log one attempt and move the delivery to ``status``; answer the attempt's number."""
    attempt = delivery.attempts + 1
    session.add(
        AlertAttempt(
            delivery_pk=delivery.pk,
            attempt=attempt,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            attempted_at=attempted_at,
            next_attempt_at=next_attempt_at,
        )
    )
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery.pk)
        .values(
            status=status,
            attempts=attempt,
            last_error=error,
            next_attempt_at=next_attempt_at,
            delivered_at=attempted_at if status == DELIVERED else None,
        )
    )
    session.flush()
    return attempt


def mark(session: Session, delivery: DeliveryRow, status: str, error: str | None) -> None:
    """End a delivery without an HTTP attempt (its channel is gone or disabled)."""
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery.pk)
        .values(status=status, last_error=error, next_attempt_at=None)
    )


def reopen(session: Session, delivery: DeliveryRow, now: datetime) -> None:
    """Make a delivery pending again (redelivery), through the project's latest manifest, with a fresh window."""
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery.pk)
        .values(status=PENDING, manifest_version=None, retry_since=now, next_attempt_at=now)
    )


def log(
    session: Session, project_id: str, channel: str | None = None, limit: int = 1000
) -> list[AttemptLogRow]:
    """The project's deliveries, newest first, one line per attempt (a delivery not tried yet: one line, attempt 0)."""
    stmt = (
        select(AlertDelivery, AlertAttempt)
        .outerjoin(AlertAttempt, AlertAttempt.delivery_pk == AlertDelivery.id)
        .where(AlertDelivery.project_id == project_id)
    )
    if channel is not None:
        stmt = stmt.where(AlertDelivery.channel == channel)
    stmt = stmt.order_by(AlertDelivery.id.desc(), AlertAttempt.attempt.desc()).limit(limit)
    rows = []
    for d, a in session.execute(stmt):
        last = a is None or a.attempt == d.attempts
        rows.append(
            AttemptLogRow(
                delivery_id=d.delivery_id,
                channel=d.channel,
                event=d.event_type,
                issue_id=d.issue_id,
                status=d.status
                if last
                else ("delivered" if a and a.status_code and a.status_code < 300 else "retried"),
                attempt=0 if a is None else a.attempt,
                status_code=None if a is None else a.status_code,
                error=d.last_error if a is None else a.error,
                duration_ms=None if a is None else a.duration_ms,
                attempted_at=None if a is None else a.attempted_at,
                delivered_at=d.delivered_at if last and d.status == DELIVERED else None,
                next_attempt_at=d.next_attempt_at if a is None else a.next_attempt_at,
            )
        )
    return rows


def disable_channel(
    session: Session, project_id: str, channel: str, manifest_version: int, now: datetime, reason: str
) -> None:
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(AlertChannelDisabled).values(
        project_id=project_id,
        channel=channel,
        manifest_version=manifest_version,
        disabled_at=now,
        reason=reason,
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["project_id", "channel", "manifest_version"]))


def channel_disabled(session: Session, project_id: str, channel: str, manifest_version: int) -> bool:
    found = session.scalars(
        select(AlertChannelDisabled.reason).where(
            AlertChannelDisabled.project_id == project_id,
            AlertChannelDisabled.channel == channel,
            AlertChannelDisabled.manifest_version == manifest_version,
        )
    ).first()
    return found is not None


def alert_actions(
    session: Session, project_id: str, manifest_version: int | None = None
) -> tuple[int, list[dict[str, Any]]] | None:
    """The ``actions.alert`` entries of the project's manifest ``manifest_version`` (None: the latest).

    Reads the ``manifests`` table's ``parsed`` JSON (the manifest lane's rows); ``None`` when the
    project has no such manifest. The entries hold secrets: never log or answer them.
    """
    stmt = select(Manifest.version, Manifest.parsed).where(Manifest.project_id == project_id)
    if manifest_version is not None:
        stmt = stmt.where(Manifest.version == manifest_version)
    found = session.execute(stmt.order_by(Manifest.version.desc()).limit(1)).first()
    if found is None:
        return None
    version, parsed = found
    alerts = ((parsed or {}).get("actions") or {}).get("alert") or []
    return int(version), [dict(a) for a in alerts if isinstance(a, dict)]


def alert_action(
    session: Session, project_id: str, name: str, manifest_version: int | None = None
) -> ChannelEntry | None:
    """The channel ``name`` of the manifest ``manifest_version`` (None: the latest), or ``None``."""
    found = alert_actions(session, project_id, manifest_version)
    if found is None:
        return None
    version, actions = found
    for action in actions:
        if action.get("name") == name:
            return ChannelEntry(version, action)
    return None
