"""``Trace``: everything one request logs, under one ``trace_id``, from any thread or service."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from raymon.exceptions import DuplicateRefError

if TYPE_CHECKING:
    from raymon.loggers.base import RaymonLoggerBase
    from raymon.tags import Tag
    from raymon.types import RaymonDataType


class Trace:
    """A handle on one request's trace.

    ``trace_id`` defaults to a new UUID4; pass the id another service made to
    continue its trace. Safe to share between threads. A reference names one
    object in a trace, so logging the same ``ref`` twice on one ``Trace``
    raises ``DuplicateRefError`` (two services logging the same ref under one
    trace id are not detected here; the backend keeps both events).
    """

    __slots__ = ("logger", "trace_id", "_refs", "_lock")

    def __init__(self, logger: RaymonLoggerBase, trace_id: str | None = None) -> None:
        from raymon.wire import check_id

        self.logger = logger
        self.trace_id = str(uuid.uuid4()) if trace_id is None else check_id("trace_id", str(trace_id))
        self._refs: set[str] = set()
        self._lock = threading.Lock()

    def debug(self, text: str) -> None:
        self.logger.debug(self.trace_id, text)

    def info(self, text: str) -> None:
        self.logger.info(self.trace_id, text)

    def warning(self, text: str) -> None:
        self.logger.warning(self.trace_id, text)

    def error(self, text: str) -> None:
        self.logger.error(self.trace_id, text)

    def tag(self, tags: Iterable[Tag | Mapping[str, Any]] | Tag | Mapping[str, Any]) -> None:
        """Attach tags: a list of ``Tag`` objects and/or dicts ``{"name", "value", "type", "group"}``."""
        self.logger.tag(self.trace_id, tags)

    def log(self, ref: str, data: RaymonDataType) -> None:
        """Log a data object under ``ref``, unique within this trace."""
        with self._lock:
            if ref in self._refs:
                raise DuplicateRefError(
                    f"ref {ref!r} was already logged on trace {self.trace_id}: refs are unique per trace"
                )
            self._refs.add(ref)
        try:
            self.logger.log(self.trace_id, ref, data)
        except BaseException:
            with self._lock:
                self._refs.discard(ref)  # nothing was logged: the ref is free again
            raise

    def __repr__(self) -> str:
        return f"Trace(trace_id={self.trace_id!r}, logger={self.logger!r})"
