"""The loggers whose events end as NDJSON lines (file logger, batch logger's spool): one dumps per event.

``RaymonLoggerBase`` builds an event dict per call (``raymon.wire``'s
``text_event``, ``tags_event``...) and hands it to ``emit``. For a logger that
only writes the event's JSON line, that path costs more than the line: a copy
of every tag dict, a dict built key by key, a second serialisation of an
object's jcr (``jcr_size_check`` already made its bytes) and a line copied to
add its newline. ``LineLogger`` builds the same bytes (``tests/loggers``
compare them) straight from the caller's values, with the same checks: the
wire rules stay in ``raymon.wire`` and ``raymon.tags``, only the order of work
changes. ``bench/client_logging.py`` measures it against a floor that builds
the same line with nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from raymon.loggers.base import RaymonLoggerBase
from raymon.tags import Tag, known_plain_tags, tag_objects_to_jcr, tags_to_jcr
from raymon.types import RaymonDataType
from raymon.wire import (
    MESSAGE_MAX_LEN,
    TAGS_PER_EVENT_MAX,
    WIRE_VERSION,
    Event,
    check_message,
    check_ref,
    check_tag_count,
    new_event_id,
    now_rfc3339,
)

_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


class LineLogger(RaymonLoggerBase):
    """A logger that stores each event as one JSON line: subclasses implement ``write_line``."""

    def write_line(self, line: bytes) -> None:
        """Store one event's JSON line, ``line`` ending in its newline."""
        raise NotImplementedError(f"{type(self).__name__} must implement write_line(line)")

    def emit(self, event: Event) -> None:
        self.write_line(_dumps(event, option=_NEWLINE))

    # Each method builds the event dict in one literal, in the key order of raymon.wire._envelope.
    def _text(self, trace_id: str, level: str, message: Any) -> None:
        if type(message) is not str or len(message) > MESSAGE_MAX_LEN or "\x00" in message:
            message = check_message(message)  # converts, or raises the wire format's error
        self.write_line(
            _dumps(
                {
                    "v": WIRE_VERSION,
                    "event_id": new_event_id(),
                    "project_id": self.project_id,
                    "trace_id": trace_id,
                    "ts": now_rfc3339(),
                    "kind": "text",
                    "level": level,
                    "message": message,
                },
                option=_NEWLINE,
            )
        )

    def debug(self, trace_id: str, text: str) -> None:
        self._text(trace_id, "debug", text)

    def info(self, trace_id: str, text: str) -> None:
        self._text(trace_id, "info", text)

    def warning(self, trace_id: str, text: str) -> None:
        self._text(trace_id, "warning", text)

    def error(self, trace_id: str, text: str) -> None:
        self._text(trace_id, "error", text)

    def tag(self, trace_id: str, tags: Iterable[Tag | Mapping[str, Any]] | Tag | Mapping[str, Any]) -> None:
        jcr: list[Any] | None = None
        if type(tags) is list and 0 < len(tags) <= TAGS_PER_EVENT_MAX:
            # already the wire form (serialised below, before we return), or Tags checked when made
            jcr = tags if known_plain_tags(tags) else tag_objects_to_jcr(tags)
        if jcr is None:
            jcr = tags_to_jcr(tags)
            check_tag_count(jcr)
        self.write_line(
            _dumps(
                {
                    "v": WIRE_VERSION,
                    "event_id": new_event_id(),
                    "project_id": self.project_id,
                    "trace_id": trace_id,
                    "ts": now_rfc3339(),
                    "kind": "tags",
                    "tags": jcr,
                },
                option=_NEWLINE,
            )
        )

    def log(self, trace_id: str, ref: str, data: RaymonDataType) -> None:
        _jcr, raw = self._checked_jcr(ref, data)  # the jcr's bytes: reused, not serialised a second time
        self.write_line(
            _dumps(
                {
                    "v": WIRE_VERSION,
                    "event_id": new_event_id(),
                    "project_id": self.project_id,
                    "trace_id": trace_id,
                    "ts": now_rfc3339(),
                    "kind": "object",
                    "ref": check_ref(ref),
                    "data": orjson.Fragment(raw),
                },
                option=_NEWLINE,
            )
        )
