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

Input must already have passed ``raymon.wire.validate_event``; nothing here
re-validates or parses HTTP.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy.orm import Session

from raymon.server.store.coltypes import utcnow
from raymon.server.store.objects import ObjectStore, object_key
from raymon.server.store.write_postgresql import PostgresWriter
from raymon.server.store.write_sqlite import SqliteWriter
from raymon.wire import Event, parse_ts


@dataclass(frozen=True)
class WriteResult:
    accepted: int
    duplicates: int
    new_event_ids: tuple[str, ...] = ()


class RowWriter(Protocol):
    """What each database does with one transaction's rows (``write_sqlite``, ``write_postgresql``)."""

    def insert_ledger(self, rows: Sequence[tuple[str, str]], received: datetime) -> set[str]: ...
    def upsert_traces(self, rows: Sequence[tuple[str, datetime, datetime]]) -> dict[str, int]: ...
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

    is_pg = session.get_bind().dialect.name == "postgresql"
    writer: RowWriter = PostgresWriter(session, project_id) if is_pg else SqliteWriter(session, project_id)
    new_ids = writer.insert_ledger([(eid, unique[eid]["kind"]) for eid in sorted(unique)], utcnow())
    fresh = [unique[eid] for eid in sorted(new_ids)]
    if not fresh:
        return WriteResult(0, len(events))

    timestamps = {e["event_id"]: parse_ts(e["ts"]) for e in fresh}
    trace_pks = writer.upsert_traces(_trace_rows(fresh, timestamps))
    tags = _tag_rows(fresh, timestamps, trace_pks)
    if tags:
        writer.upsert_tags(tags)
    texts = [
        (trace_pks[e["trace_id"]], timestamps[e["event_id"]], e["level"], e["message"])
        for e in fresh
        if e["kind"] == "text"
    ]
    if texts:
        writer.insert_texts(texts)
    objects = _object_rows(fresh, timestamps, trace_pks, project_id, object_store, inline_max_bytes)
    if objects:
        writer.insert_objects(objects)
    return WriteResult(len(fresh), len(events) - len(fresh), tuple(sorted(new_ids)))


def _trace_rows(
    events: Sequence[Event], timestamps: dict[str, datetime]
) -> list[tuple[str, datetime, datetime]]:
    """One row per trace: the earliest and latest time of its events here (sorted: lock order)."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for event in events:
        ts = timestamps[event["event_id"]]
        first, last = spans.get(event["trace_id"], (ts, ts))
        spans[event["trace_id"]] = (min(first, ts), max(last, ts))
    return [(tid, first, last) for tid, (first, last) in sorted(spans.items())]


def _tag_rows(
    events: Sequence[Event], timestamps: dict[str, datetime], trace_pks: dict[str, int]
) -> list[tuple[Any, ...]]:
    """One row per (trace, tag name), the last write winning by time then order (an upsert meets each once)."""
    latest: dict[tuple[int, str], tuple[Any, ...]] = {}
    for event in events:
        if event["kind"] != "tags":
            continue
        ts = timestamps[event["event_id"]]
        trace_pk = trace_pks[event["trace_id"]]
        for tag in event["tags"]:
            value = tag["value"]
            key = (trace_pk, tag["name"])
            previous = latest.get(key)
            if previous is None or ts >= previous[-1]:
                latest[key] = (
                    trace_pk,
                    tag["name"],
                    tag.get("type") or "label",
                    tag.get("group"),
                    numeric_reading(value),
                    value if isinstance(value, str) else None,
                    ts,
                )
    return [latest[key] for key in sorted(latest)]


def _object_rows(
    events: Sequence[Event],
    timestamps: dict[str, datetime],
    trace_pks: dict[str, int],
    project_id: str,
    object_store: ObjectStore,
    inline_max_bytes: int,
) -> list[tuple[Any, ...]]:
    """(id, trace_pk, ref, ts, data_type, size, body, store_key); large bodies go to the object store."""
    rows = []
    for event in events:
        if event["kind"] != "object":
            continue
        body = orjson.dumps(event["data"])
        obj_id = event["event_id"]
        inline: str | None = None
        key: str | None = None
        if len(body) > inline_max_bytes:
            key = object_key(project_id, obj_id)
            object_store.put(key, body)  # before commit: a failed commit leaves an orphan, never a gap
        else:
            inline = body.decode()
        data_type = str(event["data"]["type"])[:256]
        rows.append(
            (
                obj_id,
                trace_pks[event["trace_id"]],
                event["ref"],
                timestamps[obj_id],
                data_type,
                len(body),
                inline,
                key,
            )
        )
    return rows


def read_object_body(row_body: str | None, store_key: str | None, object_store: ObjectStore) -> bytes:
    """The jcr JSON bytes of a stored object, wherever its body lives (for query services)."""
    if row_body is not None:
        return row_body.encode()
    if store_key is None:
        raise ValueError("an object row has neither an inline body nor a store key")
    return object_store.get(store_key)
