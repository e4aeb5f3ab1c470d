"""SQLite's side of ``writes``: multi-row statements for what needs ``RETURNING``, plain tuples for the rest.

The ledger and trace upserts answer rows (``RETURNING``), so they go through
SQLAlchemy Core, which batches them into multi-row ``INSERT``\\ s. Tags, texts
and objects answer nothing and are most of the rows: they go to the driver's
``executemany`` as tuples through one fixed statement, skipping SQLAlchemy's
per-row parameter and type processing, which cost more than SQLite's own work
(``bench/server_ingest.py``). Timestamps then need ``UTCDateTime``'s text form
by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from raymon.server.store.models import IngestedEvent, Trace

CHUNK_ROWS = 500  # rows per multi-row statement: under SQLite's parameter limit

EVENTS: Table = IngestedEvent.__table__  # type: ignore[assignment]
TRACES: Table = Trace.__table__  # type: ignore[assignment]

_TAGS = (
    "INSERT INTO tags (project_id, trace_pk, name, type, grp, value_num, value_text, ts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trace_pk, name) DO UPDATE SET type = excluded.type, "
    "grp = excluded.grp, value_num = excluded.value_num, value_text = excluded.value_text, "
    "ts = excluded.ts WHERE excluded.ts >= tags.ts"
)
_TEXTS = "INSERT INTO texts (project_id, trace_pk, ts, level, message) VALUES (?, ?, ?, ?, ?)"
_OBJECTS = (
    "INSERT INTO objects (id, project_id, trace_pk, ref, ts, data_type, size, body, store_key) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def sqlite_ts(ts: datetime) -> str:
    """``UTCDateTime``'s stored text for an aware datetime (one fixed format: text order is time order)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _chunks(rows: Sequence[Any], size: int = CHUNK_ROWS) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class SqliteWriter:
    """Writes one ingest transaction's rows on the session's connection."""

    def __init__(self, session: Session, project_id: str) -> None:
        self._conn = session.connection()
        self._project_id = project_id

    def insert_ledger(self, rows: Sequence[tuple[str, str]], received: datetime) -> set[str]:
        """``rows`` of (event_id, kind); answers the event ids that were new."""
        stmt = sqlite.insert(EVENTS).on_conflict_do_nothing().returning(EVENTS.c.event_id)
        new_ids: set[str] = set()
        for chunk in _chunks(rows):
            params = [
                {"project_id": self._project_id, "event_id": eid, "kind": kind, "received_at": received}
                for eid, kind in chunk
            ]
            new_ids.update(self._conn.execute(stmt, params).scalars())
        return new_ids

    def upsert_traces(self, rows: Sequence[tuple[str, datetime, datetime]]) -> dict[str, int]:
        """``rows`` of (trace_id, first_ts, last_ts); answers each trace's primary key."""
        insert = sqlite.insert(TRACES)
        stmt = insert.on_conflict_do_update(
            index_elements=[TRACES.c.project_id, TRACES.c.trace_id],
            set_={
                "first_ts": func.min(TRACES.c.first_ts, insert.excluded.first_ts),
                "last_ts": func.max(TRACES.c.last_ts, insert.excluded.last_ts),
            },
        ).returning(TRACES.c.trace_id, TRACES.c.id)
        pks: dict[str, int] = {}
        for chunk in _chunks(rows):
            params = [
                {"project_id": self._project_id, "trace_id": tid, "first_ts": first, "last_ts": last}
                for tid, first, last in chunk
            ]
            for trace_id, pk in self._conn.execute(stmt, params):
                pks[trace_id] = pk
        return pks

    def upsert_tags(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (trace_pk, name, type, grp, value_num, value_text, ts), one per (trace_pk, name)."""
        project_id = self._project_id
        self._conn.exec_driver_sql(_TAGS, [(project_id, *row[:-1], sqlite_ts(row[-1])) for row in rows])

    def insert_texts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (trace_pk, ts, level, message)."""
        project_id = self._project_id
        self._conn.exec_driver_sql(
            _TEXTS, [(project_id, pk, sqlite_ts(ts), level, message) for pk, ts, level, message in rows]
        )

    def insert_objects(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (id, trace_pk, ref, ts, data_type, size, body, store_key)."""
        project_id = self._project_id
        self._conn.exec_driver_sql(
            _OBJECTS,
            [(oid, project_id, pk, ref, sqlite_ts(ts), *rest) for oid, pk, ref, ts, *rest in rows],
        )
