"""What every list shares: page limits, opaque keyset cursors, ``QueryError``, timestamps as text.

Pagination is by keyset, never by offset: a cursor carries the sort key of
the last row of a page, so the next page starts right after it with an index
range scan, at the same cost on page 1 and page 10,000, and rows that arrive
while someone pages through neither shift rows into a later page nor repeat
them. This module never parses HTTP and runs no SQL.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from raymon.server.services.errors import InvalidInputError

MAX_PAGE = 1000
DEFAULT_PAGE = 250
CURSOR_VERSION = 1

Order = Literal["asc", "desc"]


class QueryError(InvalidInputError):
    """A query parameter the backend cannot use; ``param`` names it (answered as HTTP 422)."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(f"{param}: {message}")


def encode_cursor(kind: str, order: Order, *key: datetime | int | str) -> str:
    """An opaque cursor holding a list's kind, order and the sort key of a page's last row."""
    parts = [k.astimezone(UTC).isoformat() if isinstance(k, datetime) else k for k in key]
    payload = orjson.dumps([CURSOR_VERSION, kind, order, *parts])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _cursor_parts(cursor: str, kind: str, order: Order, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise QueryError("cursor", f"{cursor[:60]!r} is not a cursor from this API") from exc
    if (
        not isinstance(parts, list)
        or len(parts) != 3 + size
        or parts[0] != CURSOR_VERSION
        or parts[1] != kind
    ):
        raise QueryError("cursor", f"{cursor[:60]!r} is not a cursor for this list")
    if parts[2] != order:
        raise QueryError("cursor", f"the cursor was made for order={parts[2]}, not order={order}")
    return parts[3:]


def decode_cursor(cursor: str, kind: str, order: Order) -> tuple[datetime, Any]:
    """The (time, id) sort key a cursor carries; ``QueryError`` for anything this server did not make."""
    ts_text, pk = _cursor_parts(cursor, kind, order, 2)
    try:  # in range once converted to UTC, or the query would overflow (a forged cursor)
        ts = datetime.fromisoformat(ts_text) if isinstance(ts_text, str) else None
        ts = ts.astimezone(UTC) if ts is not None and ts.tzinfo is not None else None
    except (ValueError, OverflowError):
        ts = None
    if kind == "trace":
        good_pk = type(pk) is int and 0 <= pk < 2**63
    else:
        good_pk = type(pk) is str
    if ts is None or ts.tzinfo is None or not good_pk:
        raise QueryError("cursor", f"{cursor[:60]!r} is not a cursor for this list")
    return ts, pk


def decode_id_cursor(cursor: str, kind: str, order: Order) -> int:
    """The integer id a cursor carries (lists in received order)."""
    (pk,) = _cursor_parts(cursor, kind, order, 1)
    if type(pk) is not int or not 0 <= pk < 2**63:
        raise QueryError("cursor", f"{cursor[:60]!r} is not a cursor for this list")
    return pk


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise QueryError("limit", f"must be between 1 and {MAX_PAGE}, got {limit}")
    return limit


def iso(ts: datetime) -> str:
    """A stored time as the API writes it: UTC, ISO 8601, microseconds."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def utc(value: datetime) -> datetime:
    """Naive times are taken as UTC (the store keeps UTC only)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
