"""``IngestBuffer``: how many bytes of ingest request bodies the server holds in memory at once.

Bodies are read before an ingest slot is taken (so a slow client never holds
a slot), which means many may be read at once; this keeps their sum bounded.
Bytes are counted as they arrive (after decompression) and given back when the
request is done. It bounds bytes, not requests: a client sending one byte a
second holds one byte, so slow clients cannot crowd others out, and a request
that would go over is refused at once (never queued, so readers cannot
deadlock each other). One project may hold at most ``project_share`` of it.
It knows nothing of HTTP; use it from the server's event loop only.
"""

from __future__ import annotations

import math
from collections import Counter


def project_cap(total: int, share: float) -> int:
    """How much of ``total`` one project may hold: ``ceil(total * share)``, at least 1."""
    return max(1, math.ceil(total * share - 1e-9))


class IngestBuffer:
    """A byte budget shared by every request body being read or handled; ``limit`` 0 means unbounded."""

    def __init__(self, limit: int, project_share: float = 1.0) -> None:
        self.limit = limit
        self.per_project = project_cap(limit, project_share) if limit else 0
        self.held = 0
        self._by_project: Counter[str] = Counter()

    def take(self, project_id: str, size: int) -> str | None:
        """Hold ``size`` more bytes for ``project_id``; None when done, else why there is no room."""
        if self.limit:
            if self.held + size > self.limit:
                return f"the server holds {self.held} bytes of request bodies, its limit is {self.limit}"
            if self._by_project[project_id] + size > self.per_project:
                return (
                    f"project {project_id!r} holds {self._by_project[project_id]} bytes of request "
                    f"bodies, its share is {self.per_project} of {self.limit}"
                )
        self.held += size
        self._by_project[project_id] += size
        return None

    def give_back(self, project_id: str, size: int) -> None:
        self.held -= size
        self._by_project[project_id] -= size
        if self._by_project[project_id] <= 0:
            del self._by_project[project_id]

    def held_by(self, project_id: str) -> int:
        return self._by_project[project_id]
