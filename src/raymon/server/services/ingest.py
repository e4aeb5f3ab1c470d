"""Ingestion: decoded records in, stored events and a per-record verdict out.

Each record is checked on its own (shape, wire format, project, object size);
the good ones are stored in one transaction, the bad ones are answered with
their index and the reason. A record whose event id was stored before with a
different content is a conflict, answered with its index and id: the stored
event is kept (a duplicate is a re-send of the same content). Nothing of a request is stored when the
transaction fails, and nothing stored before is touched. This module never
parses HTTP and runs no SQL: the route hands it a body's records (``demo``
and tests call it directly) and ``store.writes`` stores them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from raymon.exceptions import WireFormatError
from raymon.server.engine import mappers
from raymon.server.services.errors import LimitExceededError
from raymon.server.services.ingest_formats import decode_body, record_to_event
from raymon.server.settings import Settings
from raymon.server.store import jobs as job_store
from raymon.server.store.writes import (
    TRANSIENT_ERRORS,
    PreparedRows,
    WriteResult,
    content_hash,
    is_transient,
    prepare_rows,
    write_events,
)
from raymon.wire import Event

if TYPE_CHECKING:
    from raymon.server.backend import Backend

_RETRIES = 3  # PostgreSQL deadlock/serialisation failures are retried; they roll back whole
log = logging.getLogger("raymon.server.ingest")

# Called after commit with (project_id, the events stored now): how the engine learns that an
# object or tag arrived. A listener's failure is logged, never turned into a failed ingest: the
# events are stored already. Register in ``Backend.ingest_listeners``.
IngestListener = Callable[[str, Sequence[Event]], None]


CONFLICT_ERROR = (
    "event_id {event_id} was stored before with a different content; the stored event is kept: "
    "send new content under a new event_id"
)


@dataclass
class IngestResult:
    """The verdict on one request: what was stored, what was known already, what clashed, what was refused.

    ``conflicts``: ``{"index", "event_id", "error"}`` of the records whose event id was stored
    (before, or earlier in the same request) with a different content; not stored, not counted
    in ``duplicates``.
    """

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    new_event_ids: tuple[str, ...] = ()
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def received(self) -> int:
        return self.accepted + self.duplicates + len(self.conflicts) + len(self.rejected)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "rejected": self.rejected,
        }


class CheckedRecords(NamedTuple):
    """Records split into valid events (with their index, content_hash and object body) and refusals."""

    events: list[Event]
    indices: list[int]  # of each event in the records
    hashes: list[str]  # content_hash of each event
    bodies: list[bytes | None]  # an object event's data as the JSON stored (None for the other kinds)
    rejected: list[dict[str, Any]]  # {"index", "error"}


def check_records(records: Sequence[Any], project_id: str, settings: Settings) -> CheckedRecords:
    """Split records into valid events and ``{"index", "error"}`` rejections (indices into ``records``)."""
    events: list[Event] = []
    indices: list[int] = []
    hashes: list[str] = []
    bodies: list[bytes | None] = []
    rejected: list[dict[str, Any]] = []
    max_object_bytes = settings.max_object_bytes
    for index, record in enumerate(records):
        try:
            event = record_to_event(record, project_id)
            body = _object_body(event, max_object_bytes) if event["kind"] == "object" else None
            digest = content_hash(event)
        except Exception as exc:  # the per-record boundary: one record's error never fails the batch
            rejected.append({"index": index, "error": _record_error(exc, project_id, index)})
        else:
            events.append(event)
            indices.append(index)
            hashes.append(digest)
            bodies.append(body)
    return CheckedRecords(events, indices, hashes, bodies, rejected)


def _object_body(event: Event, max_object_bytes: int) -> bytes:
    """The JSON of an object event's data, as it will be stored, within ``max_object_bytes``."""
    body = orjson.dumps(event["data"])
    if len(body) > max_object_bytes:
        raise WireFormatError(
            f"object {event['ref']!r} is {len(body)} bytes, over the limit "
            f"max_object_bytes={max_object_bytes} (RAYMON_MAX_OBJECT_BYTES)"
        )
    return body


def _record_error(exc: Exception, project_id: str, index: int) -> str:
    """Why a record was refused, in words; an unforeseen error is logged with its traceback too."""
    if isinstance(exc, orjson.JSONEncodeError):  # a TypeError: an int over 64 bits, nesting past 254
        return f"the record cannot be stored as JSON: {exc}"
    if isinstance(exc, RecursionError):
        return "the record is nested too deeply to be read"
    if isinstance(exc, WireFormatError | ValueError | TypeError | ArithmeticError):
        return str(exc) or type(exc).__name__
    log.error(
        "record %d of an ingest request to project %s failed unexpectedly", index, project_id, exc_info=exc
    )
    return f"the server could not read this record ({type(exc).__name__}; the server log has the details)"


def ingest_records(backend: Backend, project_id: str, records: Sequence[Any]) -> IngestResult:
    """Check decoded records, store the good ones in one transaction, tell the listeners what was new."""
    settings = backend.settings
    if len(records) > settings.max_batch_events:
        raise LimitExceededError(
            f"the batch has {len(records)} records, over the limit "
            f"max_batch_events={settings.max_batch_events} (RAYMON_MAX_BATCH_EVENTS): split it"
        )
    checked = check_records(records, project_id, settings)
    events = checked.events
    written = WriteResult(0, 0)
    if events:
        written = store_events(backend, project_id, events, checked.hashes, checked.bodies)
    if backend.ingest_listeners and written.new_event_ids:
        _notify(backend.ingest_listeners, project_id, events, written.new_event_ids)
    conflicts = []
    for position in written.conflicts:
        event_id = events[position]["event_id"]
        conflicts.append(
            {
                "index": checked.indices[position],
                "event_id": event_id,
                "error": CONFLICT_ERROR.format(event_id=event_id),
            }
        )
    return IngestResult(
        written.accepted, written.duplicates, checked.rejected, written.new_event_ids, conflicts
    )


def _notify(
    listeners: Sequence[IngestListener], project_id: str, events: Sequence[Event], new_ids: Sequence[str]
) -> None:
    fresh_ids = set(new_ids)
    seen: set[str] = set()
    fresh = []
    for event in events:
        if event["event_id"] in fresh_ids and event["event_id"] not in seen:
            seen.add(event["event_id"])
            fresh.append(event)
    for listener in listeners:
        try:
            listener(project_id, fresh)
        except Exception:
            log.exception(
                "ingest listener %r failed for %d new events of project %s", listener, len(fresh), project_id
            )


def ingest_body(backend: Backend, project_id: str, body: bytes, ndjson: bool = False) -> IngestResult:
    """Decode a request body (JSON event, array or NDJSON) and ingest its records."""
    try:
        records = decode_body(body, ndjson)
    except WireFormatError as exc:
        return IngestResult(rejected=[{"index": 0, "error": str(exc)}])
    return ingest_records(backend, project_id, records)


def store_events(
    backend: Backend,
    project_id: str,
    events: Sequence[Event],
    hashes: Sequence[str] | None = None,
    bodies: Sequence[bytes | None] | None = None,
) -> WriteResult:
    """Write validated events in one transaction, retrying a transaction the database aborted.

    The rows are built first, outside the transaction: on SQLite, where writers take turns, another
    request's Python work then overlaps this one's database work. ``hashes`` and ``bodies``: each
    event's ``content_hash`` and object body when known (``check_records`` has them). New objects
    under a ref that is an input of one of the project's mappers enqueue the mapper's jobs in the
    same transaction (``engine.mappers``); a batch without objects does not even look the
    manifest up.
    """
    prepared = prepare_rows(events, hashes, bodies)
    # Objects that are a mapper's input enqueue its job in the same transaction (engine.mappers).
    trigger = mappers.map_trigger(mappers.current_manifest(backend, project_id)) if prepared.objects else None
    for attempt in range(_RETRIES):
        try:
            with backend.writing() as session:
                written = write_events(
                    session,
                    project_id,
                    prepared,
                    backend.object_store,
                    backend.settings.inline_object_max_bytes,
                    received=backend.clock(),
                    watch_refs=trigger.refs if trigger is not None else (),
                )
                if trigger is not None and written.watched_objects:
                    job_store.enqueue(session, trigger.jobs(project_id, written.watched_objects))
                return written
        except TRANSIENT_ERRORS as exc:
            if attempt == _RETRIES - 1 or not is_transient(exc):
                _log_failed_write(project_id, prepared, exc)
                raise
            time.sleep(0.05 * (attempt + 1))
        except Exception as exc:  # the object store, or anything else: the same one line, then up
            _log_failed_write(project_id, prepared, exc)
            raise
    raise AssertionError("unreachable")


def _log_failed_write(project_id: str, prepared: PreparedRows, exc: BaseException) -> None:
    """One line: which project, how much, what failed; never the rows (customers' data)."""
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
    log.error(
        "ingest write failed for project %s: %d events (%d traces, %d tags, %d texts, %d objects) "
        "not stored: %s: %s",
        project_id,
        prepared.n_events,
        len(prepared.traces),
        len(prepared.tags),
        len(prepared.texts),
        len(prepared.objects),
        type(exc).__name__,
        reason[0] if reason else "",
    )
