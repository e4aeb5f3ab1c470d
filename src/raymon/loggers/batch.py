"""``RaymonBatchLogger``: the production logger. ``log`` writes to a local spool; a thread sends.

The caller's cost is the file logger's: one ``orjson.dumps`` and one
``os.write`` to this process's spool segment. Everything else (reading the
spool back, batching, HTTP, retries, the disk bound, adopting the spools of
dead processes) happens in one background thread per logger. This module must
never make ``log`` wait for the network, and never delete a spooled event
that the backend did not acknowledge, except by the documented disk-bound
policy or the dead-letter rule.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson

from raymon import config
from raymon.exceptions import ConfigurationError, LoggerError
from raymon.loggers.api import auth_headers, ingest_url, resolve_url
from raymon.loggers.ingest_connection import IngestAnswer, IngestConnection
from raymon.loggers.lines import LineLogger
from raymon.loggers.segments import SegmentWriter
from raymon.loggers.spool import (
    SEGMENT_PREFIX,
    OwnerDir,
    adopt_orphans,
    append_dead_letters,
    count_lines_from,
    create_owner_dir,
    project_spool_dir,
    read_lines,
    segment_order,
)

log = logging.getLogger("raymon.loggers.batch")

DEFAULT_MAX_SPOOL_BYTES = 1024**3
DEFAULT_BATCH_BYTES = 4 * 1024 * 1024
MAX_RETRY_AFTER = 600.0
ADOPT_INTERVAL = 10.0
#: HTTP statuses that say "try again later": the records themselves are fine.
RETRY_STATUSES = frozenset({408, 425, 429})
#: HTTP statuses that say "this client is misconfigured": retried until fixed, never dead-lettered.
CONFIG_STATUSES = frozenset({401, 403, 404})


@dataclass
class BatchLoggerStats:
    """Counters kept by the sending thread (read them any time; they only grow)."""

    sent: int = 0  #: events the backend acknowledged (resent ones counted again)
    requests: int = 0  #: HTTP requests made
    failed_requests: int = 0  #: requests that will be retried (network error, 408/429/5xx, 401/403/404)
    dropped: int = 0  #: events deleted unsent because the spool was over ``max_spool_bytes``
    dead_lettered: int = 0  #: events the backend refused as bad, moved to ``dead-letter.ndjson``
    adopted_dirs: int = 0  #: spools of dead processes taken over

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _Retry(Exception):
    """A request to be retried later (``delay`` from Retry-After, else backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class RaymonBatchLogger(LineLogger):
    """Send events to the backend in batches from a background thread, spooling them on disk first.

    Guarantees:

    - ``log`` (``info``, ``tag``...) only serialises the event and appends it to
      this process's spool file with one ``os.write``: it never waits for the
      network. Once it returns, the event survives the process being killed
      (``fsync=True``: a power cut too).
    - A background thread sends the spool in batches (at most ``batch_size``
      events and about ``batch_bytes``, at least every ``flush_interval``
      seconds) to ``POST {url}/api/v1/projects/{project_id}/ingest``. Only what
      the backend acknowledged is forgotten. Failures are retried with
      exponential backoff and full jitter (``backoff_base`` up to
      ``backoff_max`` seconds); a ``Retry-After`` on 429/503 is obeyed.
    - When the backend is unreachable the spool grows on disk, not in memory
      (memory holds at most the batch being sent), up to ``max_spool_bytes``.
      Over that bound the *oldest* whole spool segments are deleted unsent:
      newest data wins, the count is added to ``stats.dropped`` and a warning
      is logged through ``logging`` for each drop.
    - At start, a logger adopts the spools left in ``spool_dir`` by loggers
      whose process is gone and sends them. Two live loggers sharing a spool
      directory never take each other's files (each holds an ``flock``).
    - A crash between sending and recording the acknowledgement resends a
      batch; the backend stores each ``event_id`` once, so no event is stored
      twice.
    - A record the backend refuses as bad (a 4xx other than 401/403/404/408/
      413/429, with per-record errors, or a record that alone is refused) is
      moved to ``<spool_dir>/project-<id>/dead-letter.ndjson`` with the reason,
      never retried forever. 401/403/404 mean a wrong URL, project or key:
      those are retried (with a warning) until the configuration is fixed.
      413 halves the batch; a single event still too large is dead-lettered.
    - ``flush(timeout)`` waits until everything logged before it (and every
      adopted spool) is acknowledged, dead-lettered or dropped, and answers
      False on timeout (the events stay in the spool). ``close()`` flushes
      with a timeout and stops the thread; at interpreter exit every open
      logger is closed with ``exit_timeout``. What is still unsent stays in the
      spool for the next logger started on the same ``spool_dir``.

    ``url``, ``project_id``, ``api_key`` and ``spool_dir`` default to
    ``RAYMON_URL``, ``RAYMON_PROJECT_ID``, ``RAYMON_API_KEY`` and
    ``RAYMON_SPOOL_DIR`` (else ``./raymon-spool``). The spool must be on a local
    disk (``flock`` is not reliable over NFS).
    """

    def __init__(
        self,
        url: str | None = None,
        project_id: str | None = None,
        api_key: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 500,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        flush_interval: float = 0.2,
        max_spool_bytes: int = DEFAULT_MAX_SPOOL_BYTES,
        segment_bytes: int | None = None,
        timeout: float = 10.0,
        backoff_base: float = 0.2,
        backoff_max: float = 30.0,
        exit_timeout: float = 5.0,
        fsync: bool = False,
        max_object_bytes: int | None = None,
    ) -> None:
        super().__init__(project_id=project_id, max_object_bytes=max_object_bytes)
        if batch_size < 1:
            raise ConfigurationError("batch_size", f"batch_size must be at least 1, got {batch_size}")
        if batch_bytes < 1024:
            raise ConfigurationError("batch_bytes", f"batch_bytes must be at least 1024, got {batch_bytes}")
        if not flush_interval > 0:
            raise ConfigurationError(
                "flush_interval", f"flush_interval must be a positive number of seconds, got {flush_interval}"
            )
        if segment_bytes is None:
            segment_bytes = max(1024, min(8 * 1024 * 1024, max_spool_bytes // 8))
        if segment_bytes < 1024:
            raise ConfigurationError(
                "segment_bytes", f"segment_bytes must be at least 1024, got {segment_bytes}"
            )
        if max_spool_bytes < 2 * segment_bytes:
            raise ConfigurationError(
                "max_spool_bytes",
                f"max_spool_bytes must be at least twice segment_bytes ({2 * segment_bytes}), "
                f"got {max_spool_bytes}",
            )
        self.url = resolve_url(url)
        self.endpoint = ingest_url(self.url, self.project_id)
        self.spool_dir = Path(config.spool_dir(spool_dir))
        self.project_dir = project_spool_dir(self.spool_dir, self.project_id)
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.flush_interval = float(flush_interval)
        self.max_spool_bytes = max_spool_bytes
        self.segment_bytes = segment_bytes
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.exit_timeout = exit_timeout
        self.fsync = fsync
        self.stats = BatchLoggerStats()
        IngestConnection(self.endpoint, {}, timeout)  # refuses a URL it cannot use, before touching the disk
        self._headers = auth_headers(api_key)
        self.closed = False
        self._start()
        _LIVE.add(self)

    # -- set-up, also after a fork ---------------------------------------------------------------
    def _start(self) -> None:
        self.owner = create_owner_dir(self.project_dir)
        self.writer = SegmentWriter(
            self.owner.path,
            prefix=SEGMENT_PREFIX,
            max_bytes=self.segment_bytes,
            durability="fsync" if self.fsync else "write",
            closed_error=self._closed_error,
        )
        self.write_line = self.writer.write_line  # type: ignore[method-assign]  # one call less per event
        self._adopted: list[OwnerDir] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._nudged = False
        self._retry_at = 0.0  # monotonic time before which nothing is sent
        self._retry_after_until = 0.0  # the part of _retry_at a Retry-After imposed (flush cannot cut it)
        self._failures = 0
        self._next_adopt = 0.0
        self._outage_warned = False
        self._client = IngestConnection(self.endpoint, self._headers, self.timeout)
        self._adopt()  # before the first flush() can ask whether anything is pending
        self._next_adopt = time.monotonic() + ADOPT_INTERVAL
        self._thread = threading.Thread(target=self._run, name=f"raymon-batch-{self.project_id}", daemon=True)
        self._thread.start()

    def _forked(self) -> None:
        """In a forked child: let go of the parent's spool; the first write makes the child its own."""
        self.owner.release()  # our copy of the parent's lock descriptor: the parent still holds it
        for owner in self._adopted:
            owner.release()
        self._adopted = []
        self.writer = cast(SegmentWriter, _WriterAfterFork(self))
        self.write_line = self.writer.write_line  # type: ignore[method-assign]

    def _in_fork_without_spool(self) -> bool:
        return isinstance(self.writer, _WriterAfterFork)

    # -- the caller's side: the file logger's write, nothing more -----------------------------------
    # ``write_line`` is the spool writer's own (bound in _start and _forked): the file logger's write.
    def _closed_error(self) -> Exception:
        return LoggerError(f"{self!r} is closed: create a new logger to log more")

    def flush(self, timeout: float | None = 30.0) -> bool:  # type: ignore[override]
        """Wait until everything logged so far is acknowledged; False if ``timeout`` seconds pass first.

        Dead-lettered and dropped events count as handled. A pending backoff is
        cut short (a Retry-After from the backend is not). On False nothing is
        lost: the events stay in the spool and keep being retried.
        """
        if self._in_fork_without_spool():
            return True  # nothing was logged through this logger in this (forked) process yet
        if self.closed:
            return self._own_pending() == 0
        target = self._written_position()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._nudged = True
            self._retry_at = self._retry_after_until
            self._cond.notify_all()
            while not self._handled(target):
                if not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.5 if remaining is None else min(0.5, remaining))
        return True

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush (waiting at most ``timeout`` seconds), stop the thread, release the spool.

        Unsent events stay in the spool directory for the next logger to send.
        """
        if self.closed:
            return
        if self._in_fork_without_spool():  # a forked child that never logged: nothing of its own
            self.closed = True
            _LIVE.discard(self)
            return
        self.flush(timeout)
        self.closed = True
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        # Idle or backing off, the thread stops at once; in the middle of a request it may
        # not: then it is left to die with the process (its batch stays in the spool).
        self._thread.join(2.0)
        self.writer.close()
        self._client.close()
        if not self._thread.is_alive():
            self._release_all()
        _LIVE.discard(self)

    def _release_all(self) -> None:
        for owner in self._adopted:
            owner.release()
        self._adopted.clear()
        if self._own_pending() == 0:
            for segment in self.owner.segments():
                segment.unlink(missing_ok=True)
            self.owner.remove()
        else:
            self.owner.release()

    def _written_position(self) -> tuple[tuple[int, str], int] | None:
        path = self.writer.path
        if path is None:
            return None
        try:
            return segment_order(path), os.stat(path).st_size
        except FileNotFoundError:  # deleted by the disk-bound policy
            return segment_order(path), 0

    def _handled(self, target: tuple[tuple[int, str], int] | None) -> bool:
        if self._adopted:
            return False
        if target is None:
            return True
        ack = self.owner.ack
        if ack is None:
            return False
        position = (segment_order(self.owner.path / ack[0]), ack[1])
        return position >= target

    def _own_pending(self) -> int:
        total = 0
        for segment in self.owner.segments():
            if not self.owner.is_acknowledged(segment):
                total += max(0, _size(segment) - self.owner.start_of(segment))
        return total

    # -- the sending thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
            try:
                busy = self._step()
            except Exception:  # never let the thread die: the spool keeps everything
                log.exception("raymon batch logger: unexpected error; retrying in %.1f s", self.backoff_max)
                self._schedule_retry(None)
                busy = False
            with self._cond:
                self._cond.notify_all()  # flush() waiters re-check
                if self._stopping:
                    return
                if not busy:
                    wait = self.flush_interval
                    if self._retry_at > time.monotonic():
                        wait = min(wait, self._retry_at - time.monotonic())
                    if not self._nudged:
                        self._cond.wait(max(wait, 0.0))
                self._nudged = False

    def _step(self) -> bool:
        """Do one unit of work; answer True when more is ready to go at once."""
        now = time.monotonic()
        if now >= self._next_adopt:
            self._adopt()
            self._next_adopt = now + ADOPT_INTERVAL
        self._enforce_spool_bound()
        if time.monotonic() < self._retry_at:
            return False
        found = self._next_batch()
        if found is None:
            return False
        owner, segment, start, end, lines = found
        if lines:
            try:
                self._send(lines)
            except _Retry as retry:
                self._schedule_retry(retry.delay, str(retry))
                return False
            self._recovered()
        with self._cond:
            owner.write_ack(segment, end)
        return True

    def _adopt(self) -> None:
        held = {self.owner.name, *(o.name for o in self._adopted)}
        for owner in adopt_orphans(self.project_dir, held):
            if owner.segments():
                log.info("raymon batch logger: sending the spool left by a stopped logger in %s", owner.path)
                self.stats.adopted_dirs += 1
                with self._cond:
                    self._adopted.append(owner)
            else:
                owner.remove()

    def _next_batch(self) -> tuple[OwnerDir, Path, int, int, list[bytes]] | None:
        """The oldest unsent lines: adopted spools first, then our own. Deletes what is fully sent."""
        for owner in [*self._adopted, self.owner]:
            mine = owner is self.owner
            for segment in owner.segments():
                current = mine and segment == self.writer.path
                if owner.is_acknowledged(segment):
                    segment.unlink(missing_ok=True)
                    continue
                start = owner.start_of(segment)
                try:
                    lines, end, size = read_lines(segment, start, self.batch_size, self.batch_bytes)
                except FileNotFoundError:
                    continue  # dropped by the disk bound meanwhile
                if end > start:
                    return owner, segment, start, end, lines
                if current:
                    if size >= self.segment_bytes // 4 and size > 0 and not self.closed:
                        self.writer.rotate()  # fully sent: start a new file so this one can go
                    break
                if size > start:  # a torn last line from a process that died mid-write
                    append_dead_letters(
                        self.project_dir,
                        [(segment.read_bytes()[start:], "incomplete last line of a spool segment", None)],
                    )
                    self.stats.dead_lettered += 1
                self._forget_segment(owner, segment)
            if not mine and not owner.segments():
                with self._cond:
                    self._adopted.remove(owner)
                owner.remove()
                return self._next_batch()
        return None

    def _forget_segment(self, owner: OwnerDir, segment: Path) -> None:
        """Delete a fully handled segment; the acknowledgement moves to the start of the next one."""
        with self._cond:
            later = [s for s in owner.segments() if segment_order(s) > segment_order(segment)]
            if later:
                owner.write_ack(later[0], 0)
            else:
                owner.write_ack(segment, _size(segment))
                if owner is self.owner:
                    return  # keep the last one: the ack must name an existing position
            segment.unlink(missing_ok=True)

    # -- HTTP -----------------------------------------------------------------------------------
    def _send(self, lines: list[bytes]) -> None:
        """Deliver ``lines``: acknowledged or dead-lettered when this returns; ``_Retry`` otherwise."""
        import http.client  # loaded by IngestConnection when the logger started

        body = b"[" + b",".join(lines) + b"]"
        self.stats.requests += 1
        try:
            response = self._client.post(body)
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(f"cannot reach {self.endpoint}: {type(exc).__name__}: {exc}") from exc
        status = response.status
        if 200 <= status < 300:
            refused = _refused_records(response, lines)
            self._dead_letter(lines, refused, status)
            self.stats.sent += len(lines) - len(refused)
            return
        if status in RETRY_STATUSES or status >= 500:
            raise _Retry(f"{self.endpoint} answered {status}", _retry_after(response))
        if status in CONFIG_STATUSES:
            raise _Retry(
                f"{self.endpoint} answered {status} (check the url, project_id and api_key): "
                f"{response.text[:300]}"
            )
        refused = _refused_records(response, lines) if status != 413 else {}
        if refused:
            self._dead_letter(lines, refused, status)
            self.stats.sent += len(lines) - len(refused)
            return
        if len(lines) == 1:
            self._dead_letter(lines, {0: f"{status}: {response.text[:1000]}"}, status)
            return
        half = len(lines) // 2  # find the bad record(s): the backend dedups what is resent
        self._send(lines[:half])
        self._send(lines[half:])

    def _dead_letter(self, lines: list[bytes], refused: dict[int, str], status: int) -> None:
        if not refused:
            return
        records = [(lines[i], reason, status) for i, reason in sorted(refused.items())]
        append_dead_letters(self.project_dir, records)
        self.stats.dead_lettered += len(records)
        log.warning(
            "raymon batch logger: the backend refused %d event(s) (first: %s); moved to %s",
            len(records),
            records[0][1],
            self.project_dir / "dead-letter.ndjson",
        )

    def _schedule_retry(self, delay: float | None, reason: str = "") -> None:
        self.stats.failed_requests += 1
        self._failures += 1
        now = time.monotonic()
        if delay is not None:
            self._retry_after_until = now + delay
            self._retry_at = now + delay
        else:
            ceiling = min(self.backoff_max, self.backoff_base * 2 ** min(self._failures - 1, 30))
            self._retry_at = now + random.uniform(ceiling / 2, ceiling)  # jitter: retries spread out
        if not self._outage_warned and reason:
            log.warning("raymon batch logger: %s; events are spooled in %s", reason, self.owner.path)
            self._outage_warned = True

    def _recovered(self) -> None:
        if self._outage_warned:
            log.warning("raymon batch logger: %s reachable again; sending the spool", self.endpoint)
        self._failures = 0
        self._outage_warned = False
        self._retry_after_until = 0.0

    # -- the disk bound -------------------------------------------------------------------------
    def _enforce_spool_bound(self) -> None:
        """Over ``max_spool_bytes``: delete the oldest whole segments (never the one being written)."""
        owners = [*self._adopted, self.owner]
        segments = [(owner, s, _size(s)) for owner in owners for s in owner.segments()]
        total = sum(size for _, _, size in segments)
        if total <= self.max_spool_bytes:
            return
        dropped_events = dropped_files = 0
        for owner, segment, size in segments:
            if total <= self.max_spool_bytes:
                break
            if owner is self.owner and segment == self.writer.path:
                continue
            if not owner.is_acknowledged(segment):
                dropped_events += count_lines_from(segment, owner.start_of(segment))
            dropped_files += 1
            total -= size
            self._forget_segment(owner, segment)
        if dropped_files:
            self.stats.dropped += dropped_events
            log.warning(
                "raymon batch logger: spool over max_spool_bytes=%d: deleted the %d oldest segment(s), "
                "%d event(s) never sent (%d dropped since start)",
                self.max_spool_bytes,
                dropped_files,
                dropped_events,
                self.stats.dropped,
            )

    def __repr__(self) -> str:
        return f"RaymonBatchLogger(url={self.url!r}, project_id={self.project_id!r}, spool_dir={str(self.spool_dir)!r})"


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _retry_after(response: IngestAnswer) -> float | None:
    return parse_retry_after(response.retry_after)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), capped at 10 minutes."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _refused_records(response: IngestAnswer, lines: list[bytes]) -> dict[int, str]:
    """Per-record refusals from an ingest answer: ``{"rejected": [{"index" or "event_id", "error"}]}``.

    ``"errors"`` is read as a synonym, for backends that name the list so. ``"conflicts"`` (an
    event id the backend holds with another content: not stored, and a resend cannot help) are
    refusals too, so they reach the dead-letter file rather than vanish.
    """
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(body, dict):
        return {}
    errors = body.get("rejected") or body.get("errors") or []
    conflicts = body.get("conflicts") or []
    if not isinstance(errors, list) or not isinstance(conflicts, list):
        return {}
    errors = [*errors, *conflicts]
    if not errors:
        return {}
    refused: dict[int, str] = {}
    by_id: dict[str, int] | None = None
    for item in errors:
        if not isinstance(item, dict):
            continue
        reason = str(item.get("error") or item.get("detail") or item.get("message") or item)
        index = item.get("index")
        if type(index) is not int or not 0 <= index < len(lines):
            event_id = item.get("event_id")
            if not isinstance(event_id, str):
                continue
            if by_id is None:
                by_id = _index_by_event_id(lines)
            found = by_id.get(event_id)
            if found is None:
                continue
            index = found
        refused[index] = reason
    return refused


def _index_by_event_id(lines: list[bytes]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, line in enumerate(lines):
        try:
            event: Any = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event_id"), str):
            out[event["event_id"]] = i
    return out


class _WriterAfterFork:
    """Stands in for the spool writer in a forked child until the child logs for the first time.

    Then the child gets its own owner directory, writer and sending thread, so
    ``emit`` never has to check for a fork itself.
    """

    path = None

    def __init__(self, logger: RaymonBatchLogger) -> None:
        self.logger = logger
        self.lock = threading.Lock()

    def write_line(self, line: bytes) -> None:
        with self.lock:
            if self.logger.writer is cast(SegmentWriter, self):
                self.logger._start()
        self.logger.writer.write_line(line)


def _after_fork_in_child() -> None:
    for logger in list(_LIVE):
        logger._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


# -- interpreter exit: every open logger gets a last, short flush --------------------------------
_LIVE: weakref.WeakSet[RaymonBatchLogger] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for logger in list(_LIVE):
        try:
            logger.close(timeout=logger.exit_timeout)
        except Exception:  # at exit, report and go on: the spool keeps what was not sent
            log.exception("raymon batch logger: closing %r at exit failed", logger)


atexit.register(_close_all_at_exit)
