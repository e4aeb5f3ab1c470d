"""The one rule for text that reaches a column or a query: no NUL characters, a bounded length.

PostgreSQL's text cannot hold U+0000 (it answers an error) while SQLite stores it, so a value
with a NUL would get a 500 on one database and be stored on the other. Every service that takes
text from a caller (names, e-mail addresses, ids in paths, query parameters) passes it through
``check_text`` first, and the caller gets a 422 naming the parameter. This module never talks
SQL or HTTP.
"""

from __future__ import annotations

from typing import Any

from raymon.server.services.errors import InvalidInputError

TEXT_PARAM_MAX = 4096


def check_text(what: str, value: Any, max_len: int = TEXT_PARAM_MAX) -> str:
    """``value`` if it is a string without NUL characters of at most ``max_len`` characters, else 422."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what}: must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidInputError(f"{what}: must not contain NUL characters (U+0000)")
    if len(value) > max_len:
        raise InvalidInputError(f"{what}: is {len(value)} characters long, the maximum is {max_len}")
    return value
