"""SQLite's side of ``writes``: one statement per table, its rows passed as one JSON array.

Each table's rows go to SQLite as a single JSON text (``orjson.dumps``, C code) and are unpacked by
``INSERT ... SELECT ... FROM json_each(?)``: one ``sqlite3_step`` per table and batch. Why: the
driver's ``executemany`` binds every row's parameters holding the GIL and releases it only around
each row's step, so another request's parsing and validation barely overlapped a write (and each
row's step had to win the GIL back, up to the 5 ms switch interval, while others ran Python). A
single step runs the whole insert in C with the GIL released, which lets the other ingest threads
use the second core, and costs less CPU than binding row by row (bench/README.md, "Ingest
throughput", round 2026-12-02). Values keep their types through JSON: text, integers, reals and
null (the rows hold nothing else; ``ts`` texts are ``UTCDateTime``'s form, made by hand).
The ledger and trace upserts answer rows with ``RETURNING`` (all changes happen in the first step).
The tag upsert also queues the grouped tags it inserted for the reduce passes (``reduce_queue``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

CHUNK_ROWS = 500  # ids per ``IN (...)`` lookup: under SQLite's parameter limit

# ``WHERE true``: SQLite's parser needs it between ``INSERT ... SELECT`` and ``ON CONFLICT``.
_LEDGER = (
    "INSERT INTO events (project_id, event_id, kind, received_at, content_hash) "
    "SELECT ?, value ->> 0, value ->> 1, ?, value ->> 2 FROM json_each(?) WHERE true "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
_TRACES = (
    "INSERT INTO traces (project_id, trace_id, first_ts, last_ts) "
    "SELECT ?, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true "
    "ON CONFLICT (project_id, trace_id) DO UPDATE SET first_ts = min(traces.first_ts, excluded.first_ts), "
    "last_ts = max(traces.last_ts, excluded.last_ts) RETURNING trace_id, id"
)
_TAGS = (
    "INSERT INTO tags (project_id, trace_pk, name, type, grp, value_num, value_text, ts) "
    "SELECT ?, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6 "
    "FROM json_each(?) WHERE true ON CONFLICT (trace_pk, name) DO UPDATE SET type = excluded.type, "
    "grp = excluded.grp, value_num = excluded.value_num, value_text = excluded.value_text, "
    "ts = excluded.ts WHERE excluded.ts >= tags.ts"
)
# SQLite has one writer at a time: the tags one upsert inserts are exactly those with an id above
# the largest before it (a new rowid is one more than the largest). Replaced tags keep their id.
_LAST_TAG = "SELECT coalesce(max(id), 0) FROM tags"
_QUEUE = (
    "INSERT INTO reduce_queue (project_id, grp, tag_id) "
    "SELECT project_id, grp, id FROM tags WHERE id > ? AND grp IS NOT NULL"
)
_TEXTS = (
    "INSERT INTO texts (project_id, trace_pk, ts, level, message) "
    "SELECT ?, value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?)"
)
_OBJECTS = (
    "INSERT INTO objects (id, project_id, trace_pk, ref, ts, data_type, size, body, store_key) "
    "SELECT value ->> 0, ?, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, "
    "value ->> 7 FROM json_each(?)"
)


def _json_rows(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as one JSON array of arrays, for ``json_each`` (as text: SQLite reads a blob as no JSON)."""
    return orjson.dumps(rows if isinstance(rows, list) else list(rows)).decode()


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

    def insert_ledger(self, rows: Sequence[tuple[str, str, str]], received: datetime) -> set[str]:
        """``rows`` of (event_id, kind, content_hash); answers the event ids that were new."""
        params = (self._project_id, sqlite_ts(received), _json_rows(rows))
        return {eid for (eid,) in self._conn.exec_driver_sql(_LEDGER, params).all()}

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
        stored = self._stored
        values = _json_rows([(tid, stored[first], stored[last]) for tid, first, last in rows])
        return dict(self._conn.exec_driver_sql(_TRACES, (self._project_id, values)).all())

    def upsert_tags(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (trace_pk, name, type, grp, value_num, value_text, ts), one per (trace_pk, name)."""
        stored = self._stored
        values = _json_rows([(*row[:-1], stored[row[-1]]) for row in rows])
        grouped = any(row[3] is not None for row in rows)
        last = self._conn.exec_driver_sql(_LAST_TAG).scalar_one() if grouped else 0
        self._conn.exec_driver_sql(_TAGS, (self._project_id, values))
        if grouped:  # queue the grouped tags it inserted for the reduce passes (``store.reduce``)
            self._conn.exec_driver_sql(_QUEUE, (last,))

    def insert_texts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (trace_pk, ts, level, message)."""
        stored = self._stored
        values = _json_rows([(pk, stored[ts], level, message) for pk, ts, level, message in rows])
        self._conn.exec_driver_sql(_TEXTS, (self._project_id, values))

    def insert_objects(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (id, trace_pk, ref, ts, data_type, size, body, store_key)."""
        stored = self._stored
        values = _json_rows([(oid, pk, ref, stored[ts], *rest) for oid, pk, ref, ts, *rest in rows])
        self._conn.exec_driver_sql(_OBJECTS, (self._project_id, values))
