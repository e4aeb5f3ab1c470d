"""The batch logger's spool: a write-ahead log of events on local disk.

Layout, under ``<spool_dir>/project-<project_id>/``::

    <owner>/owner.lock      held with fcntl.flock by the live logger that writes here
    <owner>/ack             "<segment name> <byte offset>": how far the backend acknowledged
    <owner>/spool-*.ndjson  the events, one JSON object per line (``SegmentWriter`` files)
    dead-letter.ndjson      records the backend refused as bad, with its reason

Every live logger writes only in its own ``<owner>`` directory. A directory
whose lock nobody holds belongs to a logger that is gone (closed, crashed or
killed): any logger may *adopt* it, i.e. take its lock and send what is left.
A directory is created under a hidden name and renamed once its lock is held,
so nobody ever adopts a directory whose owner is still starting.

This module only touches the disk: it never talks to the network and never
decides when to send (``raymon.loggers.batch`` does).
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from raymon.loggers.segments import SEGMENT_SUFFIX

LOCK_FILE = "owner.lock"
ACK_FILE = "ack"
DEAD_LETTER_FILE = "dead-letter.ndjson"
SEGMENT_PREFIX = "spool"
READ_CHUNK = 256 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def project_spool_dir(spool_dir: str | os.PathLike[str], project_id: str) -> Path:
    """The directory holding one project's spool; projects never share segments."""
    return Path(spool_dir) / f"project-{project_id}"


def segment_order(path: Path) -> tuple[int, str]:
    """Sort key of a segment inside one owner directory: its sequence number."""
    stem = path.name[: -len(SEGMENT_SUFFIX)]
    seq = stem.rsplit("-", 1)[-1]
    return (int(seq) if seq.isdigit() else -1, path.name)


class OwnerDir:
    """One logger's directory of segments, whose lock this process holds.

    ``ack`` is the position up to which the backend acknowledged the events:
    segments that sort before ``ack[0]`` are entirely sent, ``ack[0]`` is sent
    up to byte ``ack[1]``.
    """

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self.lock_fd = lock_fd
        self.ack: tuple[str, int] | None = self._read_ack()

    @property
    def name(self) -> str:
        return self.path.name

    def segments(self) -> list[Path]:
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        found = [self.path / n for n in names if n.endswith(SEGMENT_SUFFIX)]
        return sorted(found, key=segment_order)

    def start_of(self, segment: Path) -> int:
        """Where sending resumes in ``segment``: the acknowledged offset, or 0."""
        if self.ack is None:
            return 0
        name, offset = self.ack
        if segment.name == name:
            return offset
        return 0

    def is_acknowledged(self, segment: Path) -> bool:
        """True when ``segment`` sorts before the acknowledged one (sent whole, not yet deleted)."""
        if self.ack is None:
            return False
        return segment_order(segment) < segment_order(self.path / self.ack[0])

    def _read_ack(self) -> tuple[str, int] | None:
        try:
            text = (self.path / ACK_FILE).read_text()
        except (FileNotFoundError, NotADirectoryError):
            return None
        name, _, offset = text.strip().rpartition(" ")
        if not name.endswith(SEGMENT_SUFFIX) or not offset.isdigit():
            return None  # damaged: resend everything; the backend dedups by event_id
        return name, int(offset)

    def write_ack(self, segment: Path, offset: int) -> None:
        """Record the acknowledged position atomically (write a new file, then rename it)."""
        self.ack = (segment.name, offset)
        tmp = self.path / f".{ACK_FILE}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, f"{segment.name} {offset}\n".encode())
        finally:
            os.close(fd)
        os.replace(tmp, self.path / ACK_FILE)

    def remove(self) -> None:
        """Delete the directory once it holds no segment; then let go of the lock."""
        if self.segments():
            self.release()
            return
        for name in (ACK_FILE, f".{ACK_FILE}.tmp", LOCK_FILE):
            try:
                os.unlink(self.path / name)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.path)
        except OSError:
            pass  # something unexpected is in it: leave it for a human
        self.release()

    def release(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)  # closing the last descriptor releases the flock
            self.lock_fd = -1


def _try_lock(path: Path) -> int | None:
    """Open and lock ``path`` without waiting; None when another live logger holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def create_owner_dir(project_dir: Path) -> OwnerDir:
    """Make a new owner directory for this process, locked before anyone can see it."""
    project_dir.mkdir(parents=True, exist_ok=True)
    host = _UNSAFE.sub("_", socket.gethostname())[:64] or "host"
    start = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{host}-{os.getpid()}-{start}-{secrets.token_hex(3)}"
    hidden = project_dir / f".new-{name}"
    hidden.mkdir()
    fd = _try_lock(hidden / LOCK_FILE)
    if fd is None:
        raise OSError(f"cannot lock {hidden / LOCK_FILE}: is the spool directory on local disk?")
    final = project_dir / name
    os.rename(hidden, final)
    return OwnerDir(final, fd)


def adopt_orphans(project_dir: Path, held: set[str]) -> Iterator[OwnerDir]:
    """Lock and answer every owner directory whose logger is gone (skipping those in ``held``)."""
    try:
        names = sorted(os.listdir(project_dir))
    except FileNotFoundError:
        return
    for name in names:
        path = project_dir / name
        if name in held or not path.is_dir():
            continue
        if name.startswith(".new-"):
            _remove_abandoned_new_dir(path)
            continue
        if name.startswith("."):
            continue
        fd = _try_lock(path / LOCK_FILE)
        if fd is None:
            continue  # its logger is alive
        if not path.is_dir():  # adopted and emptied by another logger meanwhile
            os.close(fd)
            continue
        yield OwnerDir(path, fd)


def _remove_abandoned_new_dir(path: Path) -> None:
    """A directory left by a logger that died while starting: it never holds segments."""
    fd = _try_lock(path / LOCK_FILE)
    if fd is None:
        return
    try:
        if not any(n.endswith(SEGMENT_SUFFIX) for n in os.listdir(path)):
            os.unlink(path / LOCK_FILE)
            os.rmdir(path)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_lines(path: Path, offset: int, max_lines: int, max_bytes: int) -> tuple[list[bytes], int, int]:
    """Read complete lines of ``path`` from ``offset``: at most ``max_lines`` and about ``max_bytes``.

    Answers ``(lines, end, size)``: the lines without their newline (empty ones
    skipped), the offset just after the last one read, and the file's size
    when read. A line longer than ``max_bytes`` is still read whole, alone.
    Bytes after the last newline (a line still being written) are left.
    """
    lines: list[bytes] = []
    chunk = min(max_bytes, READ_CHUNK)  # read in chunks: 500 small events do not need max_bytes
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if offset >= size:
            return [], offset, size
        f.seek(offset)
        data = f.read(chunk)
        base = offset  # the file offset of data[0]
        start = 0  # where the next line starts in data
        while len(lines) < max_lines and base + start - offset < max_bytes:
            stop = data.find(b"\n", start)
            if stop >= 0:
                if stop > start:
                    lines.append(data[start:stop])
                start = stop + 1
                continue
            if lines and base + len(data) - offset >= max_bytes:
                break  # the next line would make the batch too big: it starts the next batch
            more = f.read(chunk)
            if not more:
                break  # a line still being written, or torn
            data = data[start:] + more
            base += start
            start = 0
    return lines, base + start, size


def count_lines_from(path: Path, offset: int) -> int:
    """How many events ``path`` holds after ``offset`` (a torn last line counts too)."""
    count = 0
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            last = b"\n"
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except FileNotFoundError:
        return 0
    return count + (last != b"\n")


def append_dead_letters(project_dir: Path, records: Sequence[tuple[bytes, str, int | None]]) -> None:
    """Append refused records to ``dead-letter.ndjson``: one object per line with the reason.

    Each line is ``{"refused_at", "status", "error", "event"}`` (``"line"``, a
    string, instead of ``"event"`` when the record was not even valid JSON).
    One ``os.write`` per batch on an ``O_APPEND`` descriptor, so several
    processes can share the file.
    """
    if not records:
        return
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    out = bytearray()
    for raw, error, status in records:
        entry: dict[str, object] = {"refused_at": now, "status": status, "error": error}
        try:
            entry["event"] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            entry["line"] = raw.decode("utf-8", "replace")
        out += orjson.dumps(entry) + b"\n"
    fd = os.open(project_dir / DEAD_LETTER_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, bytes(out))
    finally:
        os.close(fd)
