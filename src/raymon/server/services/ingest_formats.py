"""Every record shape the ingest API accepts, turned into wire-format events.

Accepted bodies: one event, a JSON array of records, or NDJSON (one record a
line). Accepted records (see docs/shipping.md for the shippers' configuration):

- a wire-format event (``raymon.wire``), as the loggers write it;
- the same event with a log shipper's metadata fields added next to it
  (Fluent Bit's ``date``, Filebeat/Logstash ``@timestamp``, Vector's
  ``source_type``...): those fields are dropped, the event's own are kept;
- a shipper record carrying the file logger's line as a string under ``log``
  (Fluent Bit without a parser) or ``message`` (Vector, Logstash, Filebeat);
- the original Raymon client's shapes: its batch records
  ``{"dtype", "timestamp", "trace_id", "project_id", "ref", "data"}``, its
  file logger's lines ``{"type": "info"|"data"|"tags", "jcr": {...}}`` and its
  single-record posts ``{"timestamp", "trace_id", "ref", "data", ...}``.
  These carry no event id, so one is derived: uuid5 of the URL's project and
  the record's canonical JSON, which makes a re-send of the same record
  idempotent, and the same record sent to two projects two events.

This module never does I/O and never parses HTTP headers; it raises
``WireFormatError`` naming what is wrong with a record.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from raymon.exceptions import WireFormatError
from raymon.wire import TS_RANGE, WIRE_VERSION, Event, utc_text, validate_event

# uuid5 namespace of event ids derived from records that carry none (legacy shapes). Never change it,
# nor the name hashed (``derived_event_id``): the same record must map to the same event id forever,
# or re-sends would duplicate data.
LEGACY_NAMESPACE = uuid.UUID("6f1d2c8e-3b0a-5e4f-9a7d-52617967e001")

_WIRE_FIELDS = frozenset(
    {"v", "event_id", "project_id", "trace_id", "ts", "kind", "level", "message", "tags", "ref", "data"}
)
# Fields that log shippers add around a record. Dropped from wire events; never wire fields themselves.
SHIPPER_FIELDS = frozenset(
    {
        "date",  # Fluent Bit json_date_key
        "time",
        "@timestamp",  # Filebeat, Logstash
        "@version",  # Logstash
        "@metadata",
        "timestamp",  # Vector
        "source_type",  # Vector
        "file",  # Vector file source
        "host",  # Vector, Logstash
        "hostname",
        "log",  # Filebeat: {"file": {"path": ...}, "offset": ...}
        "agent",
        "ecs",
        "input",
        "event",
        "fields",
        "tags_shipper",
        "stream",
        "path",
        "offset",
        "filename",
        "source",
        "PROGRAM",
        "HOST",
        "_p",
    }
)
_LEGACY_LEVELS = {"info": "info", "text": "info", "debug": "debug", "warning": "warning", "error": "error"}


class UndecodableRecord:
    """A place holder for an NDJSON line that is not JSON, so the batch keeps its indices."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def decode_body(body: bytes, ndjson: bool) -> list[Any]:
    """Split a request body into records (a JSON value each, or ``UndecodableRecord``).

    A body that is one JSON array gives its items; one JSON object gives itself.
    NDJSON (``ndjson=True``, or a body that is not one JSON document but has
    several lines) gives one record a non-empty line. An array that orjson
    refuses because of some of its items (``NaN``, ``Infinity``, nesting past
    what a reader takes) gives the others, and an ``UndecodableRecord`` for each
    of those (``array_items``).
    """
    if not ndjson:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            items = array_items(body) if body.lstrip()[:1] == b"[" else None
            if items is not None:
                return items
            if body.strip().count(b"\n") == 0:
                raise WireFormatError(f"the body is not JSON: {exc}") from None
        else:
            return value if isinstance(value, list) else [value]
    records: list[Any] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            records.append(UndecodableRecord(f"line {number} is not JSON: {exc}"))
    return records


_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]+')  # a string, or a run of brackets
NOT_JSON_CONSTANT = (
    "the record holds {literal}, which is not JSON (RFC 8259 has no NaN or Infinity): "
    "send null or a string instead"
)
TOO_DEEP = "the record is nested too deeply to be read (JSON readers take about 1,000 levels)"


def array_items(body: bytes) -> list[Any] | None:
    """The items of a JSON array body read one by one; None when the body is not one array read to its end.

    For the bodies orjson refuses (the fast path): Python's C scanner
    (``JSONDecoder.raw_decode``) reads each item from where the previous one
    ended, so one item's ``NaN``/``Infinity`` (as ``json.dumps`` writes them) or
    nesting too deep to read becomes an ``UndecodableRecord`` at its index and
    the other items are kept. A syntax error (a truncated body, a missing
    comma) leaves the end of the item unknown: None, and the body is refused
    whole, as before.
    """
    text = body.decode("utf-8", "surrogateescape")  # bad bytes: surrogates, refused with their record
    constants: list[str] = []

    def not_json(literal: str) -> None:
        constants.append(literal)

    decoder = json.JSONDecoder(parse_constant=not_json)
    pos = _skip_space(text, 0)
    if text[pos : pos + 1] != "[":
        return None
    pos = _skip_space(text, pos + 1)
    items: list[Any] = []
    if text[pos : pos + 1] == "]":
        return items if _skip_space(text, pos + 1) == len(text) else None
    while True:
        constants.clear()
        try:
            value, end = decoder.raw_decode(text, pos)
        except RecursionError:
            deep_end = _end_of_value(text, pos)
            if deep_end is None:
                return None
            items.append(UndecodableRecord(TOO_DEEP))
            end = deep_end
        except json.JSONDecodeError:
            return None
        else:
            items.append(
                UndecodableRecord(NOT_JSON_CONSTANT.format(literal=constants[0])) if constants else value
            )
        pos = _skip_space(text, end)
        after = text[pos : pos + 1]
        if after == ",":
            pos = _skip_space(text, pos + 1)
        elif after == "]":
            return items if _skip_space(text, pos + 1) == len(text) else None
        else:
            return None


def _skip_space(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match is not None else pos


def _end_of_value(text: str, pos: int) -> int | None:
    """Where the array or object starting at ``pos`` ends (brackets counted, strings skipped), or None.

    Only for an item too deep for the scanner: the regex steps over strings and whole runs of
    brackets in C; a run that may close the item is walked bracket by bracket.
    """
    depth = 0
    for match in _STRUCTURE.finditer(text, pos):
        token = match.group()
        if token[0] == '"':
            continue
        opened = token.count("[") + token.count("{")
        closed = len(token) - opened
        if closed == 0 or depth - closed > 0:  # this run cannot close the item
            depth += opened - closed
            continue
        for offset, char in enumerate(token):
            depth += 1 if char in "[{" else -1
            if depth == 0:
                return match.start() + offset + 1
    return None


def record_to_event(record: Any, project_id: str) -> Event:
    """The wire event a record stands for (validated), or ``WireFormatError`` saying why not."""
    if isinstance(record, UndecodableRecord):
        raise WireFormatError(record.reason)
    if not isinstance(record, Mapping):
        raise WireFormatError(f"a record must be a JSON object, got {type(record).__name__}")
    if "v" in record or "event_id" in record:
        event = validate_event(_without_shipper_fields(record))
    elif isinstance(record.get("log"), str):
        event = _event_from_line(record["log"], project_id)
    elif isinstance(record.get("message"), str) and record.get("message", "").lstrip().startswith("{"):
        event = _event_from_line(record["message"], project_id)
    elif "jcr" in record and "type" in record:
        event = _legacy_line(record, project_id)
    elif "dtype" in record:
        event = _legacy_batch_record(record, project_id)
    elif "trace_id" in record and "data" in record:
        event = _legacy_single_record(record, project_id)
    else:
        raise WireFormatError(
            "not a Raymon event nor a known shipper or legacy record: expected wire-format fields "
            f"(v, event_id, ...), a 'log' or 'message' line, or a legacy record; got keys {sorted(record)[:10]}"
        )
    if event["project_id"] != project_id:
        raise WireFormatError(
            f"event project_id {event['project_id']!r} does not match the project of the URL {project_id!r}"
        )
    return event


def _without_shipper_fields(record: Mapping[str, Any]) -> Mapping[str, Any]:
    extra = record.keys() - _WIRE_FIELDS
    if not extra or not extra <= SHIPPER_FIELDS:
        return record  # nothing to drop, or a genuinely unknown field: validate_event names it
    return {k: v for k, v in record.items() if k in _WIRE_FIELDS}


def _event_from_line(line: str, project_id: str) -> Event:
    try:
        inner = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise WireFormatError(f"the shipped line is not JSON: {exc}: {line[:80]!r}") from None
    if not isinstance(inner, Mapping):
        raise WireFormatError(f"the shipped line must hold a JSON object, got {type(inner).__name__}")
    if "log" in inner or ("message" in inner and "v" not in inner and "jcr" not in inner):
        raise WireFormatError("a shipped line must hold an event, not another shipper record")
    return record_to_event(inner, project_id)


# --- the original Raymon client's shapes -----------------------------------------------------


def derived_event_id(record: Mapping[str, Any], project_id: str) -> str:
    """uuid5 of ``project_id`` (the URL's), a newline (never in a project id), and the canonical JSON."""
    canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    return str(uuid.uuid5(LEGACY_NAMESPACE, f"{project_id}\n{canonical.decode()}"))


def _legacy_ts(value: Any) -> str:
    if value is None:
        raise WireFormatError("a legacy record needs a timestamp")
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:  # nan is a ValueError; inf, 1e20 and -1e20 are OverflowErrors
            return datetime.fromtimestamp(value, UTC).isoformat(timespec="microseconds")
        except (OverflowError, ValueError, OSError):
            raise WireFormatError(
                f"timestamp {value!r} (seconds since 1970) is out of range: {TS_RANGE}"
            ) from None
    if not isinstance(value, str):
        raise WireFormatError(f"timestamp must be an ISO 8601 string, got {value!r}")
    text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise WireFormatError(f"timestamp must be an ISO 8601 string, got {value!r}") from None
    if parsed.tzinfo is None:  # the original client logged UTC
        parsed = parsed.replace(tzinfo=UTC)
    return utc_text(parsed, "timestamp", value)


def _legacy_event(kind: str, jcr: Mapping[str, Any], project_id: str, event_id: str) -> Event:
    if not isinstance(jcr, Mapping):
        raise WireFormatError(f"a legacy record's jcr must be an object, got {type(jcr).__name__}")
    event: dict[str, Any] = {
        "v": WIRE_VERSION,
        "event_id": event_id,
        "project_id": str(jcr.get("project_id") or project_id),
        "trace_id": str(jcr.get("trace_id")) if jcr.get("trace_id") is not None else None,
        "ts": _legacy_ts(jcr.get("timestamp")),
    }
    data = jcr.get("data")
    if kind in _LEGACY_LEVELS:
        event["kind"], event["level"] = "text", _LEGACY_LEVELS[kind]
        event["message"] = data if isinstance(data, str) else orjson.dumps(data).decode()
    elif kind == "tags":
        event["kind"] = "tags"
        event["tags"] = data if isinstance(data, list) else [data]
    elif kind in ("data", "object"):
        event["kind"], event["ref"], event["data"] = "object", jcr.get("ref"), data
    else:
        raise WireFormatError(f"unknown legacy record type {kind!r}: expected info, data or tags")
    return validate_event(event)


def _legacy_line(record: Mapping[str, Any], project_id: str) -> Event:
    """The original file logger's line: ``{"type": "info"|"data"|"tags", "jcr": {...}}``."""
    return _legacy_event(
        str(record.get("type")), record["jcr"], project_id, derived_event_id(record, project_id)
    )


def _legacy_batch_record(record: Mapping[str, Any], project_id: str) -> Event:
    """The original batch record: ``{"dtype", "timestamp", "trace_id", "project_id", "ref", "data"}``."""
    return _legacy_event(str(record.get("dtype")), record, project_id, derived_event_id(record, project_id))


def _legacy_single_record(record: Mapping[str, Any], project_id: str) -> Event:
    """The original API logger's post: the kind follows from the data (text, tag list or jcr)."""
    data = record.get("data")
    if isinstance(data, str):
        kind = "info"
    elif isinstance(data, list):
        kind = "tags"
    elif isinstance(data, Mapping) and "type" in data and "params" in data:
        kind = "data"
    else:
        raise WireFormatError("a legacy record's data must be a text, a list of tags or a jcr object")
    return _legacy_event(kind, record, project_id, derived_event_id(record, project_id))
