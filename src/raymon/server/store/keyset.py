"""Keyset pagination in SQL: the condition "rows strictly after this sort key", for every list.

It only builds the condition; which key a cursor carries is ``services.paging``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, literal, tuple_

Order = Literal["asc", "desc"]


def after(columns: tuple[Any, Any], key: tuple[datetime, Any], order: Order) -> ColumnElement[bool]:
    """Rows strictly after ``key`` in ``order``: one row-value comparison, so the index range does the work."""
    ts_col, pk_col = columns
    bound = tuple_(literal(key[0], ts_col.type), literal(key[1], pk_col.type))
    if order == "desc":
        return tuple_(ts_col, pk_col) < bound
    return tuple_(ts_col, pk_col) > bound
