"""SQLite's side of ``writes``: plain SQL and tuples on the driver, no per-row SQLAlchemy work.

Everything goes to the driver as tuples, skipping SQLAlchemy's per-row
parameter and type processing, which cost more than SQLite's own work
(``bench/server_ingest.py``); timestamps therefore get ``UTCDateTime``'s text
form by hand. The ledger and trace upserts answer rows (``RETURNING``, which
``executemany`` cannot give), so they are multi-row INSERTs; tags,
texts and objects answer nothing and go through ``executemany`` and one fixed
statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

CHUNK_ROWS = 500  # rows per multi-row statement: under SQLite's parameter limit

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
    # Not strftime: its %Y does not pad years before 1000, and SQLAlchemy could not read the row back.
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class _TimeTexts(dict[datetime, str]):
    """``sqlite_ts`` of each datetime asked for, computed once.

    ``rfc3339``: the event's own ``ts`` text of each datetime (UTC with microseconds, as
    ``raymon.wire.validate_event`` answers it): the stored text is cut from it, ten times cheaper
    than formatting the datetime.
    """

    def __init__(self, rfc3339: Mapping[datetime, str] | None = None) -> None:
        super().__init__()
        self._rfc3339 = rfc3339 or {}

    def __missing__(self, ts: datetime) -> str:
        given = self._rfc3339.get(ts)
        if given is not None and len(given) == 32 and given[10] == "T" and given.endswith("+00:00"):
            text = given[:10] + " " + given[11:26]  # 2026-12-01T23:35:00.123456+00:00
        else:
            text = sqlite_ts(ts)
        self[ts] = text
        return text


def _chunks(rows: Sequence[Any], size: int = CHUNK_ROWS) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class SqliteWriter:
    """Writes one ingest transaction's rows on the session's connection.

    ``times``: the events' own ``ts`` text of their datetimes (``PreparedRows.times``), if known.
    """

    def __init__(
        self, session: Session, project_id: str, times: Mapping[datetime, str] | None = None
    ) -> None:
        self._conn = session.connection()
        self._project_id = project_id
        self._stored = _TimeTexts(times)  # the events of a trace or a batch share times: each formatted once

    def _returning(self, head: str, tail: str, rows: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``head VALUES (?, ...), ... tail`` over ``rows`` in chunks, answering what ``tail``'s RETURNING gives."""
        found: list[Any] = []
        for chunk in _chunks(rows):
            marks = "(" + ", ".join("?" * len(chunk[0])) + ")"
            sql = f"{head} VALUES {', '.join([marks] * len(chunk))} {tail}"
            params = tuple(value for row in chunk for value in row)
            found.extend(self._conn.exec_driver_sql(sql, params).all())
        return found

    def insert_ledger(self, rows: Sequence[tuple[str, str, str]], received: datetime) -> set[str]:
        """``rows`` of (event_id, kind, content_hash); answers the event ids that were new."""
        pid, at = self._project_id, sqlite_ts(received)
        found = self._returning(
            "INSERT INTO events (project_id, event_id, kind, received_at, content_hash)",
            "ON CONFLICT DO NOTHING RETURNING event_id",
            [(pid, eid, kind, at, digest) for eid, kind, digest in rows],
        )
        return {eid for (eid,) in found}

    def stored_hashes(self, event_ids: Sequence[str]) -> dict[str, str | None]:
        """The ``content_hash`` the ledger holds for each of ``event_ids`` (None: stored before 0004)."""
        found: dict[str, str | None] = {}
        for chunk in _chunks(event_ids):
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT event_id, content_hash FROM events WHERE project_id = ? AND event_id IN ({marks})"
            found.update(self._conn.exec_driver_sql(sql, (self._project_id, *chunk)).all())
        return found

    def upsert_traces(self, rows: Sequence[tuple[str, datetime, datetime]]) -> dict[str, int]:
        """``rows`` of (trace_id, first_ts, last_ts); answers each trace's primary key."""
        pid, stored = self._project_id, self._stored
        found = self._returning(
            "INSERT INTO traces (project_id, trace_id, first_ts, last_ts)",
            "ON CONFLICT (project_id, trace_id) DO UPDATE SET first_ts = min(traces.first_ts, "
            "excluded.first_ts), last_ts = max(traces.last_ts, excluded.last_ts) RETURNING trace_id, id",
            [(pid, tid, stored[first], stored[last]) for tid, first, last in rows],
        )
        return dict(found)

    def upsert_tags(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (trace_pk, name, type, grp, value_num, value_text, ts), one per (trace_pk, name)."""
        project_id, stored = self._project_id, self._stored
        self._conn.exec_driver_sql(_TAGS, [(project_id, *row[:-1], stored[row[-1]]) for row in rows])

    def insert_texts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (trace_pk, ts, level, message)."""
        project_id, stored = self._project_id, self._stored
        self._conn.exec_driver_sql(
            _TEXTS, [(project_id, pk, stored[ts], level, message) for pk, ts, level, message in rows]
        )

    def insert_objects(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (id, trace_pk, ref, ts, data_type, size, body, store_key)."""
        project_id, stored = self._project_id, self._stored
        self._conn.exec_driver_sql(
            _OBJECTS,
            [(oid, project_id, pk, ref, stored[ts], *rest) for oid, pk, ref, ts, *rest in rows],
        )
