"""Query parameter types with the rules their OpenAPI declaration promises, shared by the routes.

``DateTimeParam`` is a ``date-time`` parameter that means it: an RFC 3339
timestamp with a UTC offset (pydantic alone also takes bare numbers as Unix
times, and dates or times without an offset), inside the years 1 to 9999
once converted to UTC (``0001-01-01T00:00:00+01:00`` is not). A refusal is a
``ValueError`` that ``errors`` words as a 422 naming the parameter.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
DATE_TIME_RULE = "must be an RFC 3339 date-time with a UTC offset, e.g. 2026-06-01T12:00:00Z"


def _rfc3339_text(value: Any) -> Any:
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError(DATE_TIME_RULE)
    return value


def _within_utc_range(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range once converted to UTC (years 1 to 9999)") from None


DateTimeParam = Annotated[datetime, BeforeValidator(_rfc3339_text), AfterValidator(_within_utc_range)]
