"""The one reading of a time a user typed (query strings, forms) or a service answered as text.

The trace list, the dashboards and the issue mute form all take times as text; three parsers
with three messages had grown, each accepting a slightly different set. This module is the
rule for all of them: ISO 8601 / RFC 3339 (``2026-12-01T10:00Z``, ``2026-12-01 10:00``, an
offset such as ``+01:00``, whose ``+`` an unencoded URL turns into a space), a time without an
offset read in a given zone (UTC unless the caller knows the viewer's), and an error naming the
parameter. It answers aware UTC datetimes, never talks SQL or HTTP, and never guesses a format
beyond ISO 8601 ("yesterday" is an error, not a time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from raymon.server.services.errors import InvalidInputError

EXAMPLE = "2026-12-01T10:00Z"


def parse_time(name: str, text: str | None, naive_offset: timedelta | None = None) -> datetime | None:
    """``text`` as an aware UTC time, ``None`` when empty, else ``InvalidInputError`` naming ``name``.

    A time without an offset is ``naive_offset`` east of UTC (the browser's zone a form sent),
    or UTC when that is ``None``.
    """
    if text is None or not text.strip():
        return None
    value = text.strip()
    if "T" not in value and " " in value:
        value = value.replace(" ", "T", 1)
    value = value.replace(" ", "+")  # "+01:00" in a URL whose "+" was not encoded
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"{name}: {text[:60]!r} is not a time; write it as {EXAMPLE} (ISO 8601, UTC unless an offset is given)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone(naive_offset) if naive_offset else UTC)
    return moment.astimezone(UTC)


def as_time(value: datetime | str | None) -> datetime | None:
    """A time a service answered (an aware datetime or its ISO text) as an aware UTC datetime.

    For trusted text (what ``iso`` wrote); a naive value is UTC, as the store keeps every time.
    """
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
