"""The logger interface and the event-building path every logger shares.

Subclasses only decide where the bytes go, by implementing ``emit(event)``.
The loggers that store JSON lines (file, batch) derive from
``raymon.loggers.lines.LineLogger``, which builds the same events' bytes
without the intermediate event dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from raymon import config
from raymon.exceptions import ConfigurationError, DataTypeError, WireFormatError
from raymon.tags import Tag, tags_to_jcr
from raymon.types import RaymonDataType, jcr_size_check, max_object_bytes
from raymon.wire import Event, check_project_id, object_event, tags_event, text_event


class RaymonLoggerBase:
    """Base class of every logger; subclass it and implement ``emit`` to send events elsewhere.

    ``project_id`` defaults to the ``RAYMON_PROJECT_ID`` environment variable.
    ``max_object_bytes`` bounds one serialised object (default: ``RAYMON_MAX_OBJECT_BYTES`` or 16 MiB).
    """

    def __init__(self, project_id: str | None = None, max_object_bytes: int | None = None) -> None:
        try:
            self.project_id = check_project_id(config.project_id(project_id))
        except WireFormatError as exc:
            raise ConfigurationError("project_id", str(exc)) from exc
        if max_object_bytes is not None:
            config.max_object_bytes(max_object_bytes)  # refuses a limit below one byte
        self.max_object_bytes = max_object_bytes

    # -- the interface Trace uses ------------------------------------------------------------
    def debug(self, trace_id: str, text: str) -> None:
        self.emit(text_event(self.project_id, trace_id, "debug", text))

    def info(self, trace_id: str, text: str) -> None:
        self.emit(text_event(self.project_id, trace_id, "info", text))

    def warning(self, trace_id: str, text: str) -> None:
        self.emit(text_event(self.project_id, trace_id, "warning", text))

    def error(self, trace_id: str, text: str) -> None:
        self.emit(text_event(self.project_id, trace_id, "error", text))

    def tag(self, trace_id: str, tags: Iterable[Tag | Mapping[str, Any]] | Tag | Mapping[str, Any]) -> None:
        self.emit(tags_event(self.project_id, trace_id, tags_to_jcr(tags)))

    def log(self, trace_id: str, ref: str, data: RaymonDataType) -> None:
        jcr, _raw = self._checked_jcr(ref, data)
        self.emit(object_event(self.project_id, trace_id, ref, jcr))

    def _checked_jcr(self, ref: str, data: RaymonDataType) -> tuple[Any, bytes]:
        """``data``'s jcr and its serialised bytes, refused unless a raymon.types wrapper within the size limit."""
        if not isinstance(data, RaymonDataType):
            raise DataTypeError(
                f"data for ref {ref!r} must be a raymon.types wrapper (e.g. rt.Native, rt.DataFrame), "
                f"got {type(data).__name__}"
            )
        jcr = data.to_jcr()
        limit = self.max_object_bytes if self.max_object_bytes is not None else max_object_bytes()
        return jcr, jcr_size_check(jcr, limit)

    # -- where the bytes go ------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        """Deliver or store one event built by the methods above."""
        raise NotImplementedError(f"{type(self).__name__} must implement emit(event)")

    def flush(self) -> None:
        """Push out anything buffered; a no-op for loggers that buffer nothing."""

    def close(self) -> None:
        """Flush and release resources."""
        self.flush()

    def __enter__(self) -> RaymonLoggerBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
