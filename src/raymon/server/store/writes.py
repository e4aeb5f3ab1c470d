"""Writing validated events to the core tables, exactly once per ``event_id``.

One call, one transaction: the event ids go into the ``events`` ledger with
``INSERT ... ON CONFLICT DO NOTHING RETURNING``, and only the events that were
new get their traces upserted and their tags, texts and objects inserted. Two
requests racing with the same events therefore store them once: on
PostgreSQL the second waits on the first's uncommitted ledger rows and then
skips them; on SQLite writers are serialised (``Database.write_session``).
Rows are written in sorted key order so concurrent transactions lock in the
same order and cannot deadlock each other.

Input must already have passed ``raymon.wire.validate_event``; nothing here
re-validates or parses HTTP.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Table, func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from raymon.server.store.coltypes import utcnow
from raymon.server.store.models import DataObject, IngestedEvent, Tag, TextLine, Trace
from raymon.server.store.objects import ObjectStore, object_key
from raymon.wire import Event, parse_ts

CHUNK_ROWS = 500  # rows per statement: well under SQLite's and PostgreSQL's parameter limits

# Core tables on the session's connection, not ORM entities: SQLAlchemy then batches each
# executemany into multi-row INSERTs (insertmanyvalues), also with ON CONFLICT and RETURNING.
# (The ORM's bulk path runs such upserts row by row, several times slower.)
EVENTS: Table = IngestedEvent.__table__  # type: ignore[assignment]
TRACES: Table = Trace.__table__  # type: ignore[assignment]
TAGS: Table = Tag.__table__  # type: ignore[assignment]
TEXTS: Table = TextLine.__table__  # type: ignore[assignment]
OBJECTS: Table = DataObject.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class WriteResult:
    accepted: int
    duplicates: int
    new_event_ids: tuple[str, ...] = ()


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _chunks(rows: Sequence[Any], size: int = CHUNK_ROWS) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def numeric_reading(value: Any) -> float | None:
    """The number a tag value stands for: numbers as they are, numeric strings too ("120" -> 120.0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value and value[0] in "+-.0123456789" and len(value) <= 64:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def write_events(
    session: Session,
    project_id: str,
    events: Sequence[Event],
    object_store: ObjectStore,
    inline_max_bytes: int,
) -> WriteResult:
    """Store ``events`` of ``project_id`` (validated, all of that project); answer how many were new."""
    unique: dict[str, Event] = {}
    for event in events:
        unique.setdefault(event["event_id"], event)
    in_batch_dupes = len(events) - len(unique)
    if not unique:
        return WriteResult(0, in_batch_dupes)

    received = utcnow()
    ledger = [
        {"project_id": project_id, "event_id": eid, "kind": unique[eid]["kind"], "received_at": received}
        for eid in sorted(unique)
    ]
    new_ids: set[str] = set()
    conn = session.connection()
    for chunk in _chunks(ledger):
        stmt = _insert(session, EVENTS).on_conflict_do_nothing().returning(EVENTS.c.event_id)
        new_ids.update(conn.execute(stmt, list(chunk)).scalars())
    fresh = [unique[eid] for eid in sorted(new_ids)]
    if not fresh:
        return WriteResult(0, len(events))

    timestamps = {e["event_id"]: parse_ts(e["ts"]) for e in fresh}
    trace_pks = _upsert_traces(session, project_id, fresh, timestamps)
    _write_tags(session, project_id, fresh, timestamps, trace_pks)
    _write_texts(session, project_id, fresh, timestamps, trace_pks)
    _write_objects(session, project_id, fresh, timestamps, trace_pks, object_store, inline_max_bytes)
    return WriteResult(len(fresh), len(events) - len(fresh), tuple(sorted(new_ids)))


def _upsert_traces(
    session: Session, project_id: str, events: Sequence[Event], timestamps: dict[str, datetime]
) -> dict[str, int]:
    spans: dict[str, tuple[datetime, datetime]] = {}
    for event in events:
        ts = timestamps[event["event_id"]]
        first, last = spans.get(event["trace_id"], (ts, ts))
        spans[event["trace_id"]] = (min(first, ts), max(last, ts))
    rows = [
        {"project_id": project_id, "trace_id": tid, "first_ts": first, "last_ts": last}
        for tid, (first, last) in sorted(spans.items())
    ]
    is_pg = session.get_bind().dialect.name == "postgresql"
    least, greatest = (func.least, func.greatest) if is_pg else (func.min, func.max)
    pks: dict[str, int] = {}
    conn = session.connection()
    for chunk in _chunks(rows):
        stmt = _insert(session, TRACES)
        stmt = stmt.on_conflict_do_update(
            index_elements=[TRACES.c.project_id, TRACES.c.trace_id],
            set_={
                "first_ts": least(TRACES.c.first_ts, stmt.excluded.first_ts),
                "last_ts": greatest(TRACES.c.last_ts, stmt.excluded.last_ts),
            },
        ).returning(TRACES.c.trace_id, TRACES.c.id)
        for trace_id, pk in conn.execute(stmt, list(chunk)):
            pks[trace_id] = pk
    return pks


# Tags are most of what ingestion writes (10 rows for a typical tags event): they go to the driver's
# executemany as plain tuples through one fixed statement, skipping SQLAlchemy's per-row parameter
# and type processing, which cost more than the database's own work (bench/server_ingest.py).
_TAG_UPSERT = (
    "INSERT INTO tags (project_id, trace_pk, name, type, grp, value_num, value_text, ts) "
    "VALUES ({marks}) ON CONFLICT (trace_pk, name) DO UPDATE SET type = excluded.type, "
    "grp = excluded.grp, value_num = excluded.value_num, value_text = excluded.value_text, "
    "ts = excluded.ts WHERE excluded.ts >= tags.ts"
)
_TAG_UPSERT_SQLITE = _TAG_UPSERT.format(marks=", ".join(["?"] * 8))
# PostgreSQL: one statement per batch over arrays (psycopg's executemany sends a message per row).
_TAG_UPSERT_POSTGRESQL = (
    "INSERT INTO tags (project_id, trace_pk, name, type, grp, value_num, value_text, ts) "
    "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], "
    "%s::float8[], %s::text[], %s::timestamptz[]) "
    "ON CONFLICT (trace_pk, name) DO UPDATE SET type = excluded.type, "
    "grp = excluded.grp, value_num = excluded.value_num, value_text = excluded.value_text, "
    "ts = excluded.ts WHERE excluded.ts >= tags.ts"
)


def _driver_ts(dialect: str) -> Any:
    """What the driver gets for a UTC datetime: ``UTCDateTime``'s SQLite text, or the datetime itself."""
    if dialect == "sqlite":
        return lambda ts: ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return lambda ts: ts


def _write_tags(
    session: Session,
    project_id: str,
    events: Sequence[Event],
    timestamps: dict[str, datetime],
    trace_pks: dict[str, int],
) -> None:
    dialect = session.get_bind().dialect.name
    to_driver = _driver_ts(dialect)
    latest: dict[tuple[int, str], tuple[datetime, tuple[Any, ...]]] = {}
    for event in events:
        if event["kind"] != "tags":
            continue
        ts = timestamps[event["event_id"]]
        stored_ts = to_driver(ts)
        trace_pk = trace_pks[event["trace_id"]]
        for tag in event["tags"]:
            value = tag["value"]
            key = (trace_pk, tag["name"])
            previous = latest.get(key)
            if previous is None or ts >= previous[0]:  # last write wins, by time then order
                row = (
                    project_id,
                    trace_pk,
                    tag["name"],
                    tag.get("type") or "label",
                    tag.get("group"),
                    numeric_reading(value),
                    value if isinstance(value, str) else None,
                    stored_ts,
                )
                latest[key] = (ts, row)
    if not latest:
        return
    rows = [latest[key][1] for key in sorted(latest)]
    if dialect == "postgresql":  # one row per (trace, name) above: ON CONFLICT meets each row once
        session.connection().exec_driver_sql(
            _TAG_UPSERT_POSTGRESQL, tuple(list(c) for c in zip(*rows, strict=True))
        )
    else:
        session.connection().exec_driver_sql(_TAG_UPSERT_SQLITE, rows)


def _write_texts(
    session: Session,
    project_id: str,
    events: Sequence[Event],
    timestamps: dict[str, datetime],
    trace_pks: dict[str, int],
) -> None:
    rows = [
        {
            "project_id": project_id,
            "trace_pk": trace_pks[e["trace_id"]],
            "ts": timestamps[e["event_id"]],
            "level": e["level"],
            "message": e["message"],
        }
        for e in events
        if e["kind"] == "text"
    ]
    conn = session.connection()
    for chunk in _chunks(rows):
        conn.execute(insert(TEXTS), list(chunk))


def _write_objects(
    session: Session,
    project_id: str,
    events: Sequence[Event],
    timestamps: dict[str, datetime],
    trace_pks: dict[str, int],
    object_store: ObjectStore,
    inline_max_bytes: int,
) -> None:
    rows = []
    for event in events:
        if event["kind"] != "object":
            continue
        body = orjson.dumps(event["data"])
        obj_id = event["event_id"]
        row: dict[str, Any] = {
            "id": obj_id,
            "project_id": project_id,
            "trace_pk": trace_pks[event["trace_id"]],
            "ref": event["ref"],
            "ts": timestamps[obj_id],
            "data_type": str(event["data"]["type"])[:256],
            "size": len(body),
            "body": None,
            "store_key": None,
        }
        if len(body) > inline_max_bytes:
            key = object_key(project_id, obj_id)
            object_store.put(key, body)  # before commit: a failed commit leaves an orphan, never a gap
            row["store_key"] = key
        else:
            row["body"] = body.decode()
        rows.append(row)
    conn = session.connection()
    for chunk in _chunks(rows, 100):
        conn.execute(insert(OBJECTS), list(chunk))


def read_object_body(row_body: str | None, store_key: str | None, object_store: ObjectStore) -> bytes:
    """The jcr JSON bytes of a stored object, wherever its body lives (for query services)."""
    if row_body is not None:
        return row_body.encode()
    if store_key is None:
        raise ValueError("an object row has neither an inline body nor a store key")
    return object_store.get(store_key)
