"""``IngestGate``: how many ingest requests may be parsed and written at once.

Overload protection for the ingest routes: a request that cannot get a slot
within ``ingest_slot_wait_seconds`` is answered 429. It knows nothing of HTTP
or SQL.
"""

from __future__ import annotations

import asyncio


class IngestGate:
    """A bounded number of ingest requests in flight; the rest wait briefly, then get 429.

    The asyncio semaphore is made on first use, inside the server's event loop.
    """

    def __init__(self, slots: int, wait_seconds: float) -> None:
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._semaphore: asyncio.Semaphore | None = None

    async def acquire(self) -> bool:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        try:
            await asyncio.wait_for(self._semaphore.acquire(), timeout=self.wait_seconds)
        except TimeoutError:
            return False
        return True

    def release(self) -> None:
        assert self._semaphore is not None
        self._semaphore.release()
