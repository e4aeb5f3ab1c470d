"""Writing validated events to the core tables, exactly once per ``event_id``.

One call, one transaction: the event ids go into the ``events`` ledger with
``INSERT ... ON CONFLICT DO NOTHING RETURNING``, and only the events that were
new get their traces upserted and their tags, texts and objects inserted. Two
requests racing with the same events therefore store them once: on
PostgreSQL the second waits on the first's uncommitted ledger rows and then
skips them; on SQLite writers are serialised (``Database.write_session``).
Rows are written in sorted key order so concurrent transactions lock in the
same order and cannot deadlock each other.

Which rows go where is decided here, once for both databases; how they get
there is each database's own (``write_sqlite``: multi-row statements and
``executemany``; ``write_postgresql``: ``COPY``).

Every ledger row keeps a digest of its event (``content_hash``): an event id
stored before, or sent twice in one batch, with a different content is a
*conflict* (the stored event is kept and the write answers where the
conflicting events are), not a silent duplicate. Old ledger rows without a
digest count as duplicates.

Input must already have passed ``raymon.wire.validate_event``; nothing here
re-validates or parses HTTP.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import orjson
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from raymon.server.store.coltypes import utcnow
from raymon.server.store.objects import ObjectStore, object_key
from raymon.server.store.write_postgresql import PostgresWriter
from raymon.server.store.write_sqlite import SqliteWriter
from raymon.wire import Event, parse_ts


@dataclass(frozen=True)
class WriteResult:
    """How many events were new, how many known already; ``conflicts``: positions in the events given
    of those whose id was stored before (or earlier in the batch) with a different content."""

    accepted: int
    duplicates: int
    new_event_ids: tuple[str, ...] = ()
    conflicts: tuple[int, ...] = ()
    # The new objects under one of the ``watch_refs`` given to ``write_events`` (the mappers' inputs).
    watched_objects: tuple[NewObject, ...] = ()


class NewObject(NamedTuple):
    """An object stored by this write: its id (the event id), its trace and ref."""

    obj_id: str
    trace_id: str
    trace_pk: int
    ref: str


def content_hash(event: Event) -> str:
    """A digest of the event's canonical JSON (keys sorted): equal content, equal digest (32 hex digits).

    Raises ``orjson.JSONEncodeError`` for what orjson cannot write (nesting past 254 levels):
    call it where one record's error refuses that record.
    """
    return hashlib.blake2b(orjson.dumps(event, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


class RowWriter(Protocol):
    """What each database does with one transaction's rows (``write_sqlite``, ``write_postgresql``)."""

    def insert_ledger(self, rows: Sequence[tuple[str, str, str]], received: datetime) -> set[str]: ...
    def stored_hashes(self, event_ids: Sequence[str]) -> dict[str, str | None]: ...
    def upsert_traces(self, rows: Sequence[TraceSpan]) -> dict[str, int]: ...
    def upsert_tags(self, rows: Sequence[tuple[Any, ...]]) -> None: ...
    def insert_texts(self, rows: Sequence[tuple[Any, ...]]) -> None: ...
    def insert_objects(self, rows: Sequence[tuple[Any, ...]]) -> None: ...


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


# The rows a batch writes are plain tuples, their fields named here. Not NamedTuples: the garbage
# collector stops tracking a plain tuple of strings, numbers and datetimes at its first collection,
# but never a tuple subclass, and the ~5,000 rows of a batch of 1,000 events then made full
# collections three times as frequent (bench/README.md, ingest: 0.85x throughput, in good part this).

# (trace_id, first_ts, last_ts): a trace's earliest and latest event time in one batch
# (``upsert_traces`` widens the stored span).
TraceSpan = tuple[str, datetime, datetime]
# (trace_id, name, type, group, value_num, value_text, ts); trace_id is swapped for the trace's
# primary key in the transaction.
TagWrite = tuple[str, str, str, str | None, float | None, str | None, datetime]
# (trace_id, ts, level, message)
TextWrite = tuple[str, datetime, str, str]
# (obj_id, trace_id, ref, ts, data_type, body): body is the jcr as JSON.
ObjectWrite = tuple[str, str, str, datetime, str, bytes]


@dataclass(frozen=True)
class PreparedRows:
    """What a batch writes, worked out before its transaction (and, on SQLite, outside the write lock).

    Rows name their trace by ``trace_id``; the transaction swaps in the primary keys. Built from
    every event of the batch: the transaction uses them when all turn out new (the usual case) and
    works them out again from the new ones otherwise.
    """

    events: dict[str, Event]  # unique by event id, in sorted id order (lock order)
    n_events: int  # as sent, duplicates within the batch included
    hashes: dict[str, str]  # content_hash of each event id's first event
    sent: list[tuple[str, str]]  # (event id, content_hash) of every event as sent, in order
    bodies: dict[str, bytes]  # the data JSON of the object events whose caller had it already
    traces: list[TraceSpan]
    tags: list[TagWrite]
    texts: list[TextWrite]
    objects: list[ObjectWrite]
    times: dict[datetime, str]  # each event time and its ``ts`` text (RFC 3339, UTC, as validated)


def prepare_rows(
    events: Sequence[Event],
    hashes: Sequence[str] | None = None,
    bodies: Sequence[bytes | None] | None = None,
) -> PreparedRows:
    """Dedupe ``events`` (validated, of one project) by id and build their rows; no database needed.

    ``hashes``: the ``content_hash`` of each event, when the caller has them (else computed here);
    ``bodies``: each object event's ``orjson.dumps(data)`` when the caller has it (None for others).
    """
    if hashes is None:
        hashes = [content_hash(event) for event in events]
    unique: dict[str, Event] = {}
    first_hashes: dict[str, str] = {}
    first_bodies: dict[str, bytes] = {}
    sent: list[tuple[str, str]] = []
    for position, (event, digest) in enumerate(zip(events, hashes, strict=True)):
        eid = event["event_id"]
        if eid not in unique:
            unique[eid] = event
            first_hashes[eid] = digest
            body = bodies[position] if bodies is not None else None
            if body is not None:
                first_bodies[eid] = body
        sent.append((eid, digest))
    ordered = {eid: unique[eid] for eid in sorted(unique)}
    return _rows_of(ordered, len(events), first_hashes, sent, first_bodies)


def _rows_of(
    events: dict[str, Event],
    n_events: int,
    hashes: dict[str, str],
    sent: list[tuple[str, str]],
    bodies: dict[str, bytes],
) -> PreparedRows:
    timestamps: dict[str, datetime] = {}
    times: dict[datetime, str] = {}
    texts: list[TextWrite] = []
    objects: list[ObjectWrite] = []
    for eid, event in events.items():
        text = event["ts"]
        ts = timestamps[eid] = parse_ts(text)
        times[ts] = text
        kind = event["kind"]
        if kind == "text":
            texts.append((event["trace_id"], ts, event["level"], event["message"]))
        elif kind == "object":
            data = event["data"]
            body = bodies.get(eid)
            objects.append(
                (
                    eid,
                    event["trace_id"],
                    event["ref"],
                    ts,
                    str(data["type"])[:256],
                    orjson.dumps(data) if body is None else body,
                )
            )
    return PreparedRows(
        events=events,
        n_events=n_events,
        hashes=hashes,
        sent=sent,
        bodies=bodies,
        traces=_trace_rows(events, timestamps),
        tags=_tag_rows(events, timestamps),
        texts=texts,
        objects=objects,
        times=times,
    )


def write_events(
    session: Session,
    project_id: str,
    events: Sequence[Event] | PreparedRows,
    object_store: ObjectStore,
    inline_max_bytes: int,
    received: datetime | None = None,
    watch_refs: Collection[str] = (),
) -> WriteResult:
    """Store ``events`` of ``project_id`` (validated, all of that project); answer how many were new.

    ``events`` may come prepared by ``prepare_rows`` (the ingest service does it before taking a
    transaction, so the Python work of one batch overlaps another's database work). ``received``
    is when the ledger says they arrived (default: now). The new objects whose ref is one of
    ``watch_refs`` are answered in ``watched_objects`` (the caller enqueues the mappers' jobs in the
    same transaction); none given, nothing extra is done.
    """
    prepared = events if isinstance(events, PreparedRows) else prepare_rows(events)
    n_events = prepared.n_events
    if not prepared.events:
        return WriteResult(0, n_events)

    is_pg = session.get_bind().dialect.name == "postgresql"
    writer: RowWriter = (
        PostgresWriter(session, project_id) if is_pg else SqliteWriter(session, project_id, prepared.times)
    )
    hashes = prepared.hashes
    new_ids = writer.insert_ledger(
        [(eid, e["kind"], hashes[eid]) for eid, e in prepared.events.items()], received or utcnow()
    )
    stored: dict[str, str | None] = {}
    if len(new_ids) < len(prepared.events):  # some were stored before: what did they hold?
        stored = writer.stored_hashes(sorted(eid for eid in prepared.events if eid not in new_ids))
    conflicts = _conflicts(prepared, new_ids, stored)
    duplicates = n_events - len(new_ids) - len(conflicts)
    if not new_ids:
        return WriteResult(0, duplicates, (), conflicts)
    if len(new_ids) < len(prepared.events):  # some were stored before: rows of the new ones only
        prepared = _rows_of(
            {eid: e for eid, e in prepared.events.items() if eid in new_ids},
            n_events,
            hashes,
            prepared.sent,
            prepared.bodies,
        )

    pks = writer.upsert_traces(prepared.traces)
    if prepared.tags:
        writer.upsert_tags([(pks[row[0]], *row[1:]) for row in prepared.tags])
    if prepared.texts:
        writer.insert_texts([(pks[row[0]], *row[1:]) for row in prepared.texts])
    if prepared.objects:
        writer.insert_objects(_object_rows(prepared.objects, pks, project_id, object_store, inline_max_bytes))
    watched: tuple[NewObject, ...] = ()
    if watch_refs and prepared.objects:
        watched = tuple(
            NewObject(obj_id, trace_id, pks[trace_id], ref)
            for obj_id, trace_id, ref, *_ in prepared.objects
            if ref in watch_refs
        )
    return WriteResult(len(new_ids), duplicates, tuple(sorted(new_ids)), conflicts, watched)


def _conflicts(prepared: PreparedRows, new_ids: set[str], stored: dict[str, str | None]) -> tuple[int, ...]:
    """Positions of the events whose id is stored (now or before) with a different content_hash."""
    if not stored and len(prepared.sent) == len(prepared.events):
        return ()  # every event new and sent once: nothing to compare (the usual batch)
    first = prepared.hashes
    found = []
    for position, (eid, digest) in enumerate(prepared.sent):
        reference = first[eid] if eid in new_ids else stored.get(eid)
        if reference is not None and digest != reference:  # None: stored before 0004, no digest
            found.append(position)
    return tuple(found)


def _trace_rows(events: dict[str, Event], timestamps: dict[str, datetime]) -> list[TraceSpan]:
    """One row per trace: the earliest and latest time of its events here (sorted: lock order)."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for eid, event in events.items():
        ts = timestamps[eid]
        span = spans.get(event["trace_id"])
        spans[event["trace_id"]] = (ts, ts) if span is None else (min(span[0], ts), max(span[1], ts))
    return [(tid, *span) for tid, span in sorted(spans.items())]


def _tag_rows(events: dict[str, Event], timestamps: dict[str, datetime]) -> list[TagWrite]:
    """One row per (trace, tag name), the last write winning by time then order (an upsert meets each once)."""
    latest: dict[tuple[str, str], TagWrite] = {}
    for eid, event in events.items():
        if event["kind"] != "tags":
            continue
        ts = timestamps[eid]
        trace_id = event["trace_id"]
        for tag in event["tags"]:
            key = (trace_id, tag["name"])
            previous = latest.get(key)
            if previous is None or ts >= previous[-1]:  # its ts
                latest[key] = _tag_row(trace_id, tag, ts)
    return [latest[key] for key in sorted(latest)]


def _tag_row(trace: Any, tag: Mapping[str, Any], ts: datetime) -> tuple[Any, ...]:
    """A tag's row for ``RowWriter.upsert_tags``: (trace, name, type, grp, value_num, value_text, ts)."""
    value = tag["value"]
    return (
        trace,
        tag["name"],
        tag.get("type") or "label",
        tag.get("group"),
        numeric_reading(value),
        value if isinstance(value, str) else None,
        ts,
    )


def _object_rows(
    objects: Sequence[ObjectWrite],
    trace_pks: dict[str, int],
    project_id: str,
    object_store: ObjectStore,
    inline_max_bytes: int,
) -> list[tuple[Any, ...]]:
    """(id, trace_pk, ref, ts, data_type, size, body, store_key); large bodies go to the object store."""
    rows = []
    for obj_id, trace_id, ref, ts, data_type, body in objects:
        inline: str | None = None
        key: str | None = None
        if len(body) > inline_max_bytes:
            key = object_key(project_id, obj_id)
            object_store.put(key, body)  # before commit: a failed commit leaves an orphan, never a gap
        else:
            inline = body.decode()
        rows.append((obj_id, trace_pks[trace_id], ref, ts, data_type, len(body), inline, key))
    return rows


# A write transaction the database aborted; ``is_transient`` says whether trying again may succeed.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, DBAPIError)


def is_transient(exc: Exception) -> bool:
    """Whether the database aborted the transaction for a reason a retry can cure (deadlock, lock wait)."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None)
    if code in ("40001", "40P01"):  # serialization_failure, deadlock_detected
        return True
    return "database is locked" in str(orig)


def write_trace_tags(
    session: Session, project_id: str, trace_pk: int, tags: Sequence[Mapping[str, Any]], ts: datetime
) -> int:
    """Upsert tags (``raymon.Tag`` jcr dicts, already checked) on one stored trace, at time ``ts``.

    The same upsert as ingest (``RowWriter.upsert_tags``): one row per (trace, name), the later
    ``ts`` winning. Answers how many rows were given.
    """
    return write_tags_on_traces(session, project_id, {trace_pk: tags}, ts)


def write_tags_on_traces(
    session: Session, project_id: str, tags: Mapping[int, Sequence[Mapping[str, Any]]], ts: datetime
) -> int:
    """Upsert tags on many stored traces (by primary key) in one write, at time ``ts``.

    The engine writes a mapper batch's tags with it: one round of statements for the batch,
    not one per trace. Answers how many rows were given.
    """
    latest: dict[tuple[int, str], tuple[Any, ...]] = {}
    for trace_pk, trace_tags in tags.items():
        for tag in trace_tags:
            latest[(trace_pk, tag["name"])] = _tag_row(trace_pk, tag, ts)
    if not latest:
        return 0
    is_pg = session.get_bind().dialect.name == "postgresql"
    writer: RowWriter = PostgresWriter(session, project_id) if is_pg else SqliteWriter(session, project_id)
    writer.upsert_tags([latest[key] for key in sorted(latest)])
    return len(latest)
