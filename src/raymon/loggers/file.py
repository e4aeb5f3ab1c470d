"""``RaymonFileLogger``: events as NDJSON lines in files that a log shipper sends on.

Never touches the network. Safe from many threads (one lock per logger) and
from many processes (one file per process, named with the pid; a forked child
starts its own file). See docs/wire-format.md for the file naming and rotation.
"""

from __future__ import annotations

import os

from raymon.loggers.lines import LineLogger
from raymon.loggers.segments import DEFAULT_MAX_BYTES, SegmentWriter


class RaymonFileLogger(LineLogger):
    """Log events to ``<path>/raymon-<host>-<pid>-<start>-<seq>.ndjson``, one JSON event per line.

    ``max_bytes`` rotates to a new file (the sequence number goes up) before a
    file would pass that size. ``fsync=True`` makes every event durable on disk
    before ``log`` returns; by default each event is handed to the OS at once
    (it survives the process being killed, not a power cut).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "raymon-logs",
        project_id: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fsync: bool = False,
        max_object_bytes: int | None = None,
    ) -> None:
        super().__init__(project_id=project_id, max_object_bytes=max_object_bytes)
        self.writer = SegmentWriter(
            path, prefix="raymon", max_bytes=max_bytes, durability="fsync" if fsync else "write"
        )
        self.write_line = self.writer.write_line  # type: ignore[method-assign]  # one call less per event

    @property
    def path(self) -> str:
        return str(self.writer.directory)

    @property
    def current_file(self) -> str | None:
        return str(self.writer.path) if self.writer.path else None

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __repr__(self) -> str:
        return f"RaymonFileLogger(path={self.path!r}, project_id={self.project_id!r})"
