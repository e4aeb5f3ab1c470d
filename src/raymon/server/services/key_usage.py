"""When each API key was last used, recorded cheaply: at most one write per key a minute per process.

``KeyUsage.seen`` is called for every request an API key (or an access token of one)
authenticates (``api.deps.resolve_api_key``). Within ``every_s`` (60 s) of the last time this
process recorded that key it does nothing but a dictionary lookup under a lock: no query, no
write. Past it, the time is queued for a single background thread, which writes every queued
time in one short transaction of its own (``store.accounts.touch_keys``), so no request waits
for the write and it never joins an ingest transaction (on SQLite it takes the write lock for
one small UPDATE, once a minute per key in use). Each process keeps its own table, so N
processes write at most N times a minute per key; the UPDATE never moves a time backwards.

The recorded time is "to within a minute": a use within the minute after a write is not
written, and a queued time is lost if the process stops before the thread ran (``flush``
writes it synchronously; ``Backend.close`` calls it). A failed write is logged and forgotten
(the next use after the minute tries again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from raymon.server.store import accounts
from raymon.server.store.db import mark_background_thread

if TYPE_CHECKING:
    from raymon.server.backend import Backend

logger = logging.getLogger(__name__)

EVERY_S = 60.0


class KeyUsage:
    """The in-process table of when each key's last use was recorded, and its writer thread."""

    def __init__(self, every_s: float = EVERY_S, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._recorded: dict[str, float] = {}  # key id -> monotonic time its use was last queued
        self._pending: dict[str, datetime] = {}  # key id -> the time to write
        self._scheduled = False
        self._pool: ThreadPoolExecutor | None = None
        self.writes = 0  # transactions written (tests, diagnostics)

    def seen(self, backend: Backend, key_id: str) -> bool:
        """Note a use of key ``key_id`` now; answer whether a write was queued (else: recorded within the minute)."""
        now = self._monotonic()
        with self._lock:
            last = self._recorded.get(key_id)
            if last is not None and now - last < self.every_s:
                return False
            self._recorded[key_id] = now
            self._pending[key_id] = backend.clock()
            start = not self._scheduled
            self._scheduled = True
            if start and self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="raymon-key-usage", initializer=mark_background_thread
                )
            pool = self._pool
        if start and pool is not None:
            pool.submit(self.flush, backend)
        return True

    def flush(self, backend: Backend) -> int:
        """Write the queued times now, in a transaction of their own; answer how many keys."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._scheduled = False
        if not pending:
            return 0
        try:
            with backend.writing() as session:
                accounts.touch_keys(session, pending)
        except Exception:  # a lost "last used" time must never fail anything else
            logger.warning("could not record when %d API key(s) were last used", len(pending), exc_info=True)
            return 0
        with self._lock:
            self.writes += 1
        return len(pending)

    def close(self, backend: Backend) -> None:
        """Wait for the writer thread and write what is still queued (the server is stopping)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self.flush(backend)
