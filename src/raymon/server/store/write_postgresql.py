"""PostgreSQL's side of ``writes``: rows go in by ``COPY``, conflicts are resolved by one statement each.

Why ``COPY``: psycopg's ``executemany`` sends one message per row and
SQLAlchemy's multi-row ``INSERT ... VALUES`` makes a new, long statement for
psycopg to parse on every call; dumping a batch as arrays for ``unnest`` costs
more Python than the database's own work. ``COPY`` rows are written by
psycopg's C code. Rows that need ``ON CONFLICT`` (the events ledger, traces,
tags) are copied into session-local temporary tables first (``ON COMMIT
DELETE ROWS``: empty again at commit, and a rolled-back transaction leaves
nothing behind) and moved with one ``WITH staged AS (DELETE ... RETURNING)
INSERT ... SELECT ... ORDER BY key ON CONFLICT`` (the staging is empty again
at once, also for a second write in the same transaction), in key order so
concurrent writers lock rows in the same order.
The tag upsert also queues the grouped tags it inserted for the reduce passes (``reduce_queue``).
Texts and objects are new rows by construction (only new events reach them)
and are copied straight into their tables.

The temporary tables are declared with ``IF NOT EXISTS`` in every
transaction (one round trip), so a pooler that hands transactions different
server connections still finds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

_STAGING_DDL = (
    "SET LOCAL client_min_messages = warning;"  # no NOTICE per existing table
    "CREATE TEMP TABLE IF NOT EXISTS raymon_in_events (event_id text, kind text, content_hash text) "
    "ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS raymon_in_traces (trace_id text, first_ts timestamptz, "
    "last_ts timestamptz) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS raymon_in_tags (trace_pk bigint, name text, type text, grp text, "
    "value_num float8, value_text text, ts timestamptz) ON COMMIT DELETE ROWS"
)

_LEDGER = (
    "WITH staged AS (DELETE FROM raymon_in_events RETURNING *) "
    "INSERT INTO events (project_id, event_id, kind, received_at, content_hash) "
    "SELECT %s, event_id, kind, %s, content_hash FROM staged ORDER BY event_id "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
_STORED_HASHES = "SELECT event_id, content_hash FROM events WHERE project_id = %s AND event_id = ANY(%s)"
_TRACES = (
    "WITH staged AS (DELETE FROM raymon_in_traces RETURNING *) "
    "INSERT INTO traces (project_id, trace_id, first_ts, last_ts) "
    "SELECT %s, trace_id, first_ts, last_ts FROM staged ORDER BY trace_id "
    "ON CONFLICT (project_id, trace_id) DO UPDATE SET "
    "first_ts = least(traces.first_ts, excluded.first_ts), "
    "last_ts = greatest(traces.last_ts, excluded.last_ts) "
    "RETURNING trace_id, id"
)
_UPSERT_TAGS = (
    "INSERT INTO tags (project_id, trace_pk, name, type, grp, value_num, value_text, ts) "
    "SELECT %s, trace_pk, name, type, grp, value_num, value_text, ts FROM staged "
    "ORDER BY trace_pk, name "
    "ON CONFLICT (trace_pk, name) DO UPDATE SET type = excluded.type, grp = excluded.grp, "
    "value_num = excluded.value_num, value_text = excluded.value_text, ts = excluded.ts "
    "WHERE excluded.ts >= tags.ts"
)
# Rows none of which has a group: nothing to queue, the upsert alone.
_TAGS_UNGROUPED = "WITH staged AS (DELETE FROM raymon_in_tags RETURNING *) " + _UPSERT_TAGS
# The grouped tags this statement *inserted* (``xmax = 0``: a row the upsert updated carries its
# lock in ``xmax``) join the reduce queue in the same statement: what a pass will take
# (``store.reduce``). A tag replaced by a later upsert is not queued again (docs/engine.md).
_TAGS = (
    "WITH staged AS (DELETE FROM raymon_in_tags RETURNING *), written AS ("
    + _UPSERT_TAGS
    + " RETURNING id, grp, xmax) INSERT INTO reduce_queue (project_id, grp, tag_id) "
    "SELECT %s, grp, id FROM written WHERE grp IS NOT NULL AND xmax = 0"
)


class PostgresWriter:
    """Writes one ingest transaction's rows on the session's psycopg connection."""

    def __init__(self, session: Session, project_id: str) -> None:
        conn: Any = session.connection().connection.driver_connection
        assert conn is not None, "the session's connection is closed"
        self._conn = conn
        self._project_id = project_id
        self._conn.execute(_STAGING_DDL)

    def _copy(self, target: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def insert_ledger(self, rows: Sequence[tuple[str, str, str]], received: datetime) -> set[str]:
        """``rows`` of (event_id, kind, content_hash); answers the event ids that were new."""
        self._copy("raymon_in_events (event_id, kind, content_hash)", rows)
        with self._conn.cursor() as cursor:
            cursor.execute(_LEDGER, (self._project_id, received))
            return {event_id for (event_id,) in cursor.fetchall()}

    def stored_hashes(self, event_ids: Sequence[str]) -> dict[str, str | None]:
        """The ``content_hash`` the ledger holds for each of ``event_ids`` (None: stored before 0004)."""
        with self._conn.cursor() as cursor:
            cursor.execute(_STORED_HASHES, (self._project_id, list(event_ids)))
            return dict(cursor.fetchall())

    def upsert_traces(self, rows: Sequence[tuple[str, datetime, datetime]]) -> dict[str, int]:
        """``rows`` of (trace_id, first_ts, last_ts); answers each trace's primary key."""
        self._copy("raymon_in_traces (trace_id, first_ts, last_ts)", rows)
        with self._conn.cursor() as cursor:
            cursor.execute(_TRACES, (self._project_id,))
            return dict(cursor.fetchall())

    def upsert_tags(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (trace_pk, name, type, grp, value_num, value_text, ts), one per (trace_pk, name)."""
        self._copy("raymon_in_tags (trace_pk, name, type, grp, value_num, value_text, ts)", rows)
        if any(row[3] is not None for row in rows):
            self._conn.execute(_TAGS, (self._project_id, self._project_id))
        else:
            self._conn.execute(_TAGS_UNGROUPED, (self._project_id,))

    def insert_texts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (trace_pk, ts, level, message)."""
        project_id = self._project_id
        self._copy("texts (project_id, trace_pk, ts, level, message)", ((project_id, *row) for row in rows))

    def insert_objects(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (id, trace_pk, ref, ts, data_type, size, body, store_key)."""
        project_id = self._project_id
        self._copy(
            "objects (id, project_id, trace_pk, ref, ts, data_type, size, body, store_key)",
            ((row[0], project_id, *row[1:]) for row in rows),
        )
