"""Append-only NDJSON segment files: the on-disk format of the file logger and the batch logger's spool.

One writer owns its files: each process writes its own (the pid is in the
name), so several processes never interleave inside a file and no cross-process
lock is needed. A line is written with a single ``os.write`` on an ``O_APPEND``
descriptor, so a reader (a log shipper) never sees half a line from us unless
the disk is full. Files are never renamed: rotation starts a new file with the
next sequence number, which is what tailing shippers handle best.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from raymon.exceptions import ConfigurationError

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
SEGMENT_SUFFIX = ".ndjson"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _closed_writer() -> Exception:
    return ValueError("write to a closed segment writer")


def _host() -> str:
    return _UNSAFE.sub("_", socket.gethostname())[:64] or "host"


class SegmentWriter:
    """Writes lines to ``<dir>/<prefix>-<host>-<pid>-<start>-<seq>.ndjson``, rotating by size.

    ``durability``: ``"write"`` (default) hands every line to the OS at once, so it
    survives the process being killed; ``"fsync"`` also waits for the disk, so it
    survives a power cut (much slower); ``"buffer"`` keeps lines in memory until
    64 KiB, ``flush()`` or ``close()`` (fastest; a crash loses the buffer).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        prefix: str = "raymon",
        max_bytes: int = DEFAULT_MAX_BYTES,
        durability: str = "write",
        closed_error: Callable[[], Exception] | None = None,
    ) -> None:
        """``closed_error`` makes the exception a write after ``close()`` raises (default: ``ValueError``)."""
        if durability not in ("write", "fsync", "buffer"):
            raise ConfigurationError(
                "durability", f"durability must be 'write', 'fsync' or 'buffer', got {durability!r}"
            )
        if max_bytes < 1024:
            raise ConfigurationError("max_bytes", f"max_bytes must be at least 1024, got {max_bytes}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.durability = durability
        self._closed_error = closed_error or _closed_writer
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = -1
        self._seq = 0
        self._size = 0
        self._start = ""
        self._buffer = bytearray()
        # True while a line can go straight to os.write: a file of this process is open, not
        # closed, durability "write". The fork hook below clears it in a child, so the hot path
        # needs no os.getpid() (a system call per line); the slow path re-checks everything.
        self._direct = False
        self.path: Path | None = None
        self.closed = False
        _WRITERS.add(self)

    def _open(self) -> None:
        pid = os.getpid()
        if pid != self._pid:  # first open, or a forked child: a file of its own
            self._pid = pid
            self._seq = 0
            self._start = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        else:
            self._seq += 1
        name = f"{self.prefix}-{_host()}-{pid}-{self._start}-{self._seq:06d}{SEGMENT_SUFFIX}"
        self.path = self.directory / name
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size

    def write(self, line: bytes) -> None:
        """Append one line (``line`` must not hold a newline; one is added)."""
        self.write_line(line + b"\n")

    def write_line(self, line: bytes) -> None:
        """Append one line that ends in its newline (and holds no other)."""
        self._lock.acquire()  # not ``with``: a third cheaper, and this runs once per event
        try:
            if self._direct:
                size = self._size + len(line)
                if size <= self.max_bytes:
                    os.write(self._fd, line)  # type: ignore[arg-type]  # open while _direct
                    self._size = size
                    return
            self._write_locked(line)
        finally:
            self._lock.release()

    def _write_locked(self, data: bytes) -> None:
        try:
            if self.closed:
                raise self._closed_error()
            if self._fd is None or self._pid != os.getpid():
                self._open()
            elif (
                self._size + len(self._buffer) + len(data) > self.max_bytes
                and self._size + len(self._buffer) > 0
            ):
                self._flush_locked()
                self._rotate_locked()
            if self.durability == "buffer":
                self._buffer += data
                if len(self._buffer) >= 65536:
                    self._flush_locked()
                return
            assert self._fd is not None
            os.write(self._fd, data)
            self._size += len(data)
            if self.durability == "fsync":
                os.fsync(self._fd)
        finally:
            self._check_direct()

    def _check_direct(self) -> None:
        self._direct = (
            self.durability == "write"
            and self._fd is not None
            and not self.closed
            and self._pid == os.getpid()
        )

    def _rotate_locked(self) -> None:
        self._direct = False  # until a new file is open
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._open()
        self._check_direct()

    def _flush_locked(self) -> None:
        if self._buffer and self._fd is not None:
            os.write(self._fd, bytes(self._buffer))
            self._size += len(self._buffer)
            self._buffer.clear()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()
            if self._fd is not None and self.durability != "write":
                os.fsync(self._fd) if self.durability == "fsync" else None

    def rotate(self) -> Path | None:
        """Close the current file and start the next one; answer the closed file's path."""
        with self._lock:
            done = self.path if self._fd is not None else None
            self._flush_locked()
            if self._fd is not None:
                self._rotate_locked()
            return done

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self._flush_locked()
            self._direct = False
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self.closed = True


_WRITERS: weakref.WeakSet[SegmentWriter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child must not write into its parent's file: its next line takes the slow path."""
    for writer in list(_WRITERS):
        writer._direct = False


os.register_at_fork(after_in_child=_after_fork_in_child)
