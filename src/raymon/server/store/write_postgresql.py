"""PostgreSQL's side of ``writes``: rows go in by ``COPY``, conflicts are resolved by one statement each.

Why ``COPY``: psycopg's ``executemany`` sends one message per row and
SQLAlchemy's multi-row ``INSERT ... VALUES`` makes a new, long statement for
psycopg to parse on every call; dumping a batch as arrays for ``unnest`` costs
more Python than the database's own work. ``COPY`` rows are written by
psycopg's C code.

Most rows of a batch are new, and go straight into their tables: texts and
objects (only new events reach them); the ledger rows, copied inside a
savepoint; and the ungrouped tags of the traces this writer's trace upsert
inserted (``xmax = 0``: no stored row can conflict with them, and no other
transaction can write tags on a trace it cannot see yet). Grouped tags take
the upsert, whose ``RETURNING`` queues them for the reduce passes without a
second look-up. A ledger row that turns out to be stored (a re-sent event, or
one a concurrent writer just stored) fails the unique index: the savepoint is
rolled back and the ledger takes the upsert path.

The upsert path (the traces, grouped tags and tags on traces stored before,
the ledger after a failed copy) copies rows into session-local temporary
tables (``ON COMMIT DELETE ROWS``: empty again at commit, and a rolled-back
transaction leaves nothing behind) and moves them with one ``WITH staged AS
(DELETE ... RETURNING) INSERT ... SELECT ... ORDER BY key ON CONFLICT`` (the
staging is empty again at once, also for a second write in the same
transaction), in key order so concurrent writers lock rows in the same order.
The tag upsert queues the grouped tags it inserted for the reduce passes
(``reduce_queue``).

Traces always take the upsert: which of a batch's traces are stored could be
looked up first, but PostgreSQL plans that look-up (``= ANY``, a join, even one
index probe per trace) as scans of the table while its statistics lag its
growth: 35-245 ms a batch over a new server's first few thousand traces.

The temporary tables are declared with ``IF NOT EXISTS`` in every
transaction (one round trip), so a pooler that hands transactions different
server connections still finds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from psycopg.errors import UniqueViolation
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
    "RETURNING trace_id, id, xmax = 0"
)
_TAG_COLUMNS = "(project_id, trace_pk, name, type, grp, value_num, value_text, ts)"
_UPSERT_TAGS = (
    f"INSERT INTO tags {_TAG_COLUMNS} "
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
        self._new_traces: set[int] = set()  # the traces ``upsert_traces`` inserted (not updated)
        self._conn.execute(_STAGING_DDL)

    def _copy(self, target: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _copy_new(self, target: str, rows: Iterable[Sequence[Any]]) -> bool:
        """``COPY`` rows expected to be new inside a savepoint; False (and nothing written) if one was not.

        A row stored before, or by a concurrent transaction that committed meanwhile, fails the
        unique index: the savepoint is rolled back and the caller takes the upsert path instead.
        """
        try:
            with self._conn.transaction():
                self._copy(target, rows)
        except UniqueViolation:
            return False
        return True

    def insert_ledger(self, rows: Sequence[tuple[str, str, str]], received: datetime) -> set[str]:
        """``rows`` of (event_id, kind, content_hash); answers the event ids that were new."""
        project_id = self._project_id
        if self._copy_new(
            "events (project_id, event_id, kind, received_at, content_hash)",
            ((project_id, eid, kind, received, digest) for eid, kind, digest in rows),
        ):
            return {row[0] for row in rows}  # all new: the usual batch, no staging, no conflict checks
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
            pks = {}
            new = self._new_traces
            for trace_id, pk, inserted in cursor.fetchall():
                pks[trace_id] = pk
                if inserted:
                    new.add(pk)
            return pks

    def upsert_tags(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``rows`` of (trace_pk, name, type, grp, value_num, value_text, ts), one per (trace_pk, name)."""
        new = self._new_traces
        fresh: list[tuple[Any, ...]] = []  # ungrouped, on a trace inserted here: copied straight in
        staged: list[tuple[Any, ...]] = []
        for row in rows:
            (fresh if row[3] is None and row[0] in new else staged).append(row)
        if fresh:
            project_id = self._project_id
            self._copy(f"tags {_TAG_COLUMNS}", ((project_id, *row) for row in fresh))
        if not staged:
            return
        self._copy("raymon_in_tags (trace_pk, name, type, grp, value_num, value_text, ts)", staged)
        if any(row[3] is not None for row in staged):
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
