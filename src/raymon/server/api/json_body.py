"""Strict JSON request bodies: what a route stores must be JSON that every store and orjson can hold.

FastAPI parses bodies with ``json.loads``, which takes ``NaN``, ``Infinity``
and integers of any size; PostgreSQL's jsonb and orjson then refuse what
SQLite kept. Routes that store a document as given (profiles) read their body
with ``json_document`` instead: orjson's reader (RFC 8259: no ``NaN`` or
``Infinity``, nesting up to 1024 levels), and integers over 64 bits refused
rather than read as the nearest float, as orjson would. A refusal is an
``InvalidInputError`` (422) naming the position or the value. The body's size
is bounded before it gets here (``RequestBodyLimits``). This module never
stores anything and never knows a route.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from fastapi import HTTPException

from raymon.server.services.errors import InvalidInputError

JSON_MEDIA_TYPES = ("application/json", "text/json", "application/x-json")
_LONG_DIGITS = re.compile(rb"\d{19,}")  # an integer that may not fit in 64 bits (or digits in a string)
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson reads as an integer and writes back


def require_json(content_type: str | None) -> None:
    """415 for a Content-Type that is not JSON (none at all is read as JSON)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type and media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
        raise HTTPException(415, detail=f"Content-Type {media_type!r} is not JSON: send application/json")


def json_document(body: bytes, what: str) -> Any:
    """``body`` parsed as strict JSON; ``InvalidInputError`` naming ``what`` and the problem."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{what} is not valid JSON ({exc}); NaN and Infinity are not JSON, and nesting ends at 1024 levels"
        ) from None
    if _LONG_DIGITS.search(body) is not None:
        _check_integers(body, what)
    return value


def _big_integer(text: str) -> int:
    if len(text) > 21:  # longer than any 64-bit integer with its sign (and than int() takes whole)
        raise _IntegerOutOfRange(text)
    number = int(text)
    if not _INT_MIN <= number <= _INT_MAX:
        raise _IntegerOutOfRange(text)
    return number


class _IntegerOutOfRange(ValueError):
    pass


def _check_integers(body: bytes, what: str) -> None:
    """Refuse an integer literal outside [-2**63, 2**64 - 1] (only read when long digit runs are there)."""
    try:
        json.loads(body, parse_int=_big_integer)
    except _IntegerOutOfRange as exc:
        digits = str(exc)
        shown = digits if len(digits) <= 40 else f"{digits[:20]}...{digits[-10:]} ({len(digits)} digits)"
        raise InvalidInputError(
            f"{what} holds the integer {shown}, outside the 64-bit range [-2**63, 2**64 - 1] that can be "
            "stored: send it as a string or a float"
        ) from None
    except RecursionError:
        raise InvalidInputError(f"{what} is nested too deeply to be stored (at most 254 levels)") from None
