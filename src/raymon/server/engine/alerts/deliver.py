"""The ``deliver`` job: send one alert delivery over HTTP, log the attempt, retry, disable or give up.

One code path for every channel: the channel's plugin function builds the request from the
delivery's events, its manifest entry (read at send time: the row never holds a URL or a
secret) and the settings; this module POSTs it with a timeout and decides what the answer means:

- 2xx: delivered (recorded in the transaction that completes the job);
- a network error, 5xx or 429: retried (``RetryLater``) after ``Retry-After`` when the receiver
  gives one, else an exponential backoff with jitter, for ``alert_retry_hours`` (24 by
  default) from the delivery's creation; then failed. Every retry has the same ``webhook-id``;
- 410 Gone: the channel is disabled for the manifest version it was sent with (a newly applied
  manifest re-enables it); its later deliveries are recorded ``disabled``, not sent;
- any other 4xx: failed at once (``PermanentFailure``).

A delivery waits while an earlier one of its stream (project, channel, check) is pending, so
an issue's opened and resolved arrive in order. What is logged or recorded names the channel,
never its URL or secret.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import httpx

from raymon.server.engine.alerts.channels import AlertMessage, OutgoingRequest
from raymon.server.engine.jobs import JobKind, PermanentFailure, RetryLater
from raymon.server.engine.manifest import AlertAction
from raymon.server.store import alerts as store_alerts

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.engine.jobs import JobContext
    from raymon.server.store.alerts import DeliveryRow

logger = logging.getLogger("raymon.alerts")

KIND = "deliver"
BACKOFF_FIRST_S = 10.0
BACKOFF_MAX_S = 3600.0
ORDER_WAIT_S = 2.0  # how soon a delivery waiting for an earlier one of its stream looks again
MAX_ERROR_CHARS = 300


class _QuietWhileSending(logging.Filter):
    """Drops httpx's and httpcore's own records while this thread sends a delivery (they log the URL)."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.local, "sending", False)


_QUIET = _QuietWhileSending()
for _name in (
    "httpx",
    *(f"httpcore.{n}" for n in ("connection", "connection_pool", "http11", "http2", "proxy", "socks")),
):
    logging.getLogger(_name).addFilter(_QUIET)


@contextmanager
def _sending() -> Iterator[None]:
    _QUIET.local.sending = True
    try:
        yield
    finally:
        _QUIET.local.sending = False


def backoff_s(attempt: int) -> float:
    """The delay after failed attempt ``attempt`` (1-based): doubling from 10 s, capped at an hour, jittered."""
    delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, attempt - 1))
    return random.uniform(delay / 2, delay)


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header's delay in seconds (delta-seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def _safe_error(exc: Exception, request: OutgoingRequest) -> str:
    """A network error in words without the URL (a Slack webhook's path is its secret)."""
    text = str(exc).replace(request.url, "<channel url>")
    return f"{type(exc).__name__}: {text}"[:MAX_ERROR_CHARS] if text else type(exc).__name__


def deliver_handler(ctx: JobContext) -> None:
    """The ``deliver`` job's handler (``payload``: ``{"delivery_id"}``)."""
    backend = ctx.backend
    project_id = ctx.job.project_id or ""
    delivery_id = str(ctx.job.payload.get("delivery_id", ""))
    with backend.reading() as session:
        delivery = store_alerts.get_delivery(session, project_id, delivery_id)
        if delivery is None or delivery.status != store_alerts.PENDING:
            return  # done already (a redelivery's job, a duplicate run): nothing to send
        waiting_for = store_alerts.earlier_pending(session, delivery)
        entry = store_alerts.alert_action(session, project_id, delivery.channel, delivery.manifest_version)
        disabled = entry is not None and store_alerts.channel_disabled(
            session, project_id, delivery.channel, entry.manifest_version
        )
    if waiting_for is not None:  # look again just after the earlier one's next attempt
        after = ORDER_WAIT_S
        if waiting_for.next_attempt_at is not None:
            after = max(after, (waiting_for.next_attempt_at - backend.clock()).total_seconds() + ORDER_WAIT_S)
        raise RetryLater(f"alert delivery {delivery_id} waits for {waiting_for.delivery_id}", after_s=after)
    if entry is None:
        _end(
            backend,
            delivery,
            store_alerts.FAILED,
            f"alert channel {delivery.channel!r} is not in the manifest",
        )
        return
    if disabled:
        _end(
            backend,
            delivery,
            store_alerts.DISABLED,
            f"alert channel {delivery.channel!r} is disabled (410 Gone)",
        )
        return
    now = backend.clock()
    try:
        action = AlertAction.model_validate(entry.action)
        channel = backend.plugins.alert_channel(action.type)
        message = AlertMessage(
            delivery_id=delivery.delivery_id,
            project_id=project_id,
            channel=delivery.channel,
            type=delivery.event_type,
            check=delivery.check_name,
            events=delivery.events,
            sent_at=now,
        )
        request: OutgoingRequest = channel.function(message, action, backend.settings)
    except (ValueError, LookupError) as exc:  # a channel entry the plugin cannot use: no retry helps
        error = f"alert channel {delivery.channel!r}: {type(exc).__name__}"
        _end(backend, delivery, store_alerts.FAILED, error)
        raise PermanentFailure(error) from None
    _send(ctx, delivery, request, entry.manifest_version, now)


def _send(
    ctx: JobContext, delivery: DeliveryRow, request: OutgoingRequest, version: int, now: datetime
) -> None:
    backend = ctx.backend
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    retry_header: str | None = None
    try:
        with _sending():
            response = httpx.post(
                request.url,
                content=request.body,
                headers=dict(request.headers),
                timeout=backend.settings.alert_timeout_seconds,
                follow_redirects=False,
            )
        status_code = response.status_code
        retry_header = response.headers.get("retry-after")
    except httpx.HTTPError as exc:
        error = _safe_error(exc, request)
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    attempt = delivery.attempts + 1
    where = f"alert delivery {delivery.delivery_id} to channel {delivery.channel!r} (attempt {attempt})"
    if status_code is not None and 200 <= status_code < 300:
        with ctx.finishing() as session:
            store_alerts.record_attempt(
                session, delivery, status=store_alerts.DELIVERED, status_code=status_code, error=None,
                duration_ms=duration_ms, attempted_at=now, next_attempt_at=None,
            )  # fmt: skip
        logger.info("%s: delivered (HTTP %s)", where, status_code)
        return
    if status_code == 410:
        error = "410 Gone: the channel is disabled until a new manifest is applied"
        with backend.writing() as session:
            store_alerts.record_attempt(
                session, delivery, status=store_alerts.DISABLED, status_code=status_code, error=error,
                duration_ms=duration_ms, attempted_at=now, next_attempt_at=None,
            )  # fmt: skip
            store_alerts.disable_channel(session, delivery.project_id, delivery.channel, version, now, error)
        logger.warning("%s: %s", where, error)
        return
    retryable = status_code is None or status_code >= 500 or status_code == 429
    if status_code is not None:
        error = f"HTTP {status_code}"
    if retryable:
        delay = retry_after_s(retry_header, now) if status_code == 429 or status_code == 503 else None
        delay = backoff_s(attempt) if delay is None else delay
        deadline = delivery.retry_since + timedelta(hours=backend.settings.alert_retry_hours)
        next_at = now + timedelta(seconds=delay)
        if next_at <= deadline:
            with backend.writing() as session:
                store_alerts.record_attempt(
                    session, delivery, status=store_alerts.PENDING, status_code=status_code, error=error,
                    duration_ms=duration_ms, attempted_at=now, next_attempt_at=next_at,
                )  # fmt: skip
            logger.warning("%s: %s, retried in %.0f s", where, error, delay)
            raise RetryLater(f"{where}: {error}", after_s=delay)
        error = f"{error}; gave up after {backend.settings.alert_retry_hours:g} hours"
    with backend.writing() as session:
        store_alerts.record_attempt(
            session, delivery, status=store_alerts.FAILED, status_code=status_code, error=error,
            duration_ms=duration_ms, attempted_at=now, next_attempt_at=None,
        )  # fmt: skip
    logger.warning("%s: failed: %s", where, error)
    raise PermanentFailure(f"{where}: {error}")


def _end(backend: Backend, delivery: DeliveryRow, status: str, error: str) -> None:
    with backend.writing() as session:
        store_alerts.mark(session, delivery, status, error)
    logger.warning("alert delivery %s: %s", delivery.delivery_id, error)


def deliver_kind(backend: Backend) -> JobKind:
    """The ``deliver`` job kind for the worker (attempts bounded by the retry window, not a count)."""
    timeout = backend.settings.alert_timeout_seconds
    return JobKind(
        name=KIND,
        handler=deliver_handler,
        max_attempts=100_000,  # the handler gives up after alert_retry_hours
        lease_s=timeout + 30.0,
        backoff_s=BACKOFF_FIRST_S,
        backoff_max_s=BACKOFF_MAX_S,
    )
