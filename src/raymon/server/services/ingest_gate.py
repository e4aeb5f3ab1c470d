"""``IngestGate``: what an ingest request must get before it is handled: room for its body, then a slot.

Overload protection for the ingest routes, in two parts:

- ``buffer`` (an ``IngestBuffer``): the bytes of request bodies held in memory
  at once, read or being read, counted as they arrive; a request whose body
  does not fit is answered 429 at once. A client sending slowly holds only the
  bytes it has sent, so slow clients cannot fill it.
- the slots: how many requests may be parsed and written at once. A request
  takes one only when its body is read (it never holds one while it waits on
  the network); one that cannot get a slot within ``ingest_slot_wait_seconds``
  is answered 429.

Both are shared fairly: one project holds at most ``ingest_project_share`` of
the buffer, and of the slots whenever another project waits for one (alone,
it may use them all), so a busy or hostile tenant leaves room for the others.
It knows nothing of HTTP or SQL, and must only be used from the server's
event loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from raymon.server.services.ingest_buffer import IngestBuffer, project_cap
from raymon.server.settings import Settings


class IngestGate:
    """A bounded number of ingest requests in flight, shared fairly between projects.

    Work-conserving: a project may use every free slot while no other project
    waits, so a single tenant keeps the whole server. Past its ``per_project``
    cap it yields: a free slot goes to a waiting request of a project under
    its cap first. Slots are held only while a request is parsed and written
    (never while its body arrives), so a waiting tenant gets one as soon as one
    batch is done. The rest wait (woken whenever a slot is given back) up to
    ``wait_seconds``, then get 429.
    """

    def __init__(
        self,
        slots: int,
        wait_seconds: float,
        project_share: float = 1.0,
        buffer: IngestBuffer | None = None,
    ) -> None:
        self.slots = slots
        self.wait_seconds = wait_seconds
        self.project_share = project_share
        self.per_project = project_cap(slots, project_share)
        self.buffer = buffer if buffer is not None else IngestBuffer(0, project_share)
        self._in_flight = 0
        self._held: Counter[str] = Counter()
        self._waiting: Counter[str] = Counter()
        self._waiters: list[asyncio.Future[None]] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestGate:
        return cls(
            settings.ingest_max_inflight,
            settings.ingest_slot_wait_seconds,
            settings.ingest_project_share,
            IngestBuffer(settings.ingest_buffer_limit, settings.ingest_project_share),
        )

    def _may_take(self, project_id: str) -> bool:
        if self._in_flight >= self.slots:
            return False
        if self._held[project_id] < self.per_project:
            return True
        # over its cap: only when no other project under its cap is waiting for the slot
        return not any(
            count and other != project_id and self._held[other] < self.per_project
            for other, count in self._waiting.items()
        )

    async def acquire(self, project_id: str = "") -> bool:
        """Take a slot for ``project_id``; False when none was free for it within ``wait_seconds``."""
        if self._may_take(project_id):
            self._take(project_id)
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        self._waiting[project_id] += 1
        try:
            while not self._may_take(project_id):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                woken: asyncio.Future[None] = loop.create_future()
                self._waiters.append(woken)
                try:
                    await asyncio.wait_for(woken, timeout=remaining)
                except TimeoutError:
                    return False
                finally:
                    if woken in self._waiters:
                        self._waiters.remove(woken)
            self._take(project_id)
            return True
        finally:
            self._waiting[project_id] -= 1
            if self._waiting[project_id] <= 0:
                del self._waiting[project_id]
            self._wake_all()  # a waiter that gave up may have been what made another yield

    def _take(self, project_id: str) -> None:
        self._in_flight += 1
        self._held[project_id] += 1

    def release(self, project_id: str = "") -> None:
        """Give back a slot ``acquire(project_id)`` took, and wake the requests waiting for one."""
        self._in_flight -= 1
        self._held[project_id] -= 1
        if self._held[project_id] <= 0:
            del self._held[project_id]
        self._wake_all()

    def _wake_all(self) -> None:
        waiters, self._waiters = self._waiters, []
        for woken in waiters:
            if not woken.done():
                woken.set_result(None)

    def held_by(self, project_id: str) -> int:
        """Slots ``project_id`` holds now."""
        return self._held[project_id]
