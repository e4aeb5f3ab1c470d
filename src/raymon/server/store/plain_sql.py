"""Plain SQL on the driver's cursor for the dashboard's hot reads, in either dialect.

A dashboard reads a few thousand narrow rows; SQLAlchemy's statement building (a dozen
statements a page) and its result rows cost more than the reads themselves, so these few
queries are written once as text with ``{p}``-style parameters and ``{epoch[column]}`` for a
time column as epoch seconds, and run on the DB-API cursor (``rows``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session


class _Epoch:
    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def __getitem__(self, column: str) -> str:
        if self.postgres:
            return f"extract(epoch FROM {column})::float8"
        return f"((julianday({column}) - 2440587.5) * 86400.0)"  # stored as sortable ISO text in UTC


class _Params:
    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def __getitem__(self, name: str) -> str:
        return f"%({name})s" if self.postgres else f":{name}"


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def sql(session: Session, template: str, **parts: str) -> str:
    """``template`` for the session's dialect: ``{epoch[col]}``, ``{param[name]}`` and ``parts``."""
    postgres = is_postgres(session)
    return template.format(epoch=_Epoch(postgres), param=_Params(postgres), **parts)


def time_param(session: Session, moment: datetime) -> Any:
    """A time as the driver compares it with a stored ``UTCDateTime`` (sortable ISO text on SQLite)."""
    if is_postgres(session):
        return moment
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def rows(session: Session, statement: str, params: Mapping[str, Any]) -> list[Any]:
    """``fetchall()`` of ``statement`` on the session's connection, through the driver's cursor."""
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(statement, dict(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()
