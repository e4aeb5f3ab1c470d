"""The contract of engine work: jobs, their handlers and the periodic schedulers.

Engine work is rows in the ``jobs`` table (``store.jobs`` owns the SQL): a mapper run
per (trace, mapper), a reduce pass per (reducer, slice set, window), an alert delivery,
a cleanup. A job has a unique ``key``, so enqueueing the same work twice (two servers,
a re-sent input, every process scheduling the next window) inserts one row. A worker
claims a job with a lease and a fresh attempt number, keeps the lease with heartbeats,
and completes it fenced by (worker, attempt): a zombie whose lease was taken over
changes nothing when it finally commits.

A handler either finishes its database work inside ``ctx.finishing()`` (one transaction
that also marks the job done, so its effect is exactly once), or returns and lets the
worker complete it (for work outside the database, such as an HTTP delivery: at least
once). It raises ``RetryLater`` to be run again later, ``PermanentFailure`` to park the
job with its error at once; any other exception is retried with backoff and parked
after the kind's ``max_attempts``.

This module declares; the worker loop is ``engine.worker``, the SQL ``store.jobs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.store.db import Session


@dataclass(frozen=True)
class JobSpec:
    """Work to enqueue. ``key`` makes it unique: a second enqueue of the same key does nothing."""

    kind: str
    key: str | None
    project_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    run_at: datetime | None = None  # None: as soon as possible


@dataclass(frozen=True)
class ClaimedJob:
    """A job as a worker holds it: one attempt, under one lease."""

    id: int
    kind: str
    key: str | None
    project_id: str | None
    payload: Mapping[str, Any]
    attempt: int  # 1 for the first run; the fence with ``worker``
    worker: str
    lease_until: datetime
    # Attempts that count against the kind's ``max_attempts``, this one included (0: ``attempt``).
    # Less than ``attempt`` once attempts were forgiven (released at shutdown, or re-queued).
    tries: int = 0

    @property
    def counted_tries(self) -> int:
        return self.tries or self.attempt


class LeaseLost(Exception):
    """This worker's attempt no longer holds the job (its lease expired and another took it)."""


class RetryLater(Exception):
    """Run the job again later: after ``after_s`` seconds if given, else after the kind's backoff."""

    def __init__(self, reason: str, after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after_s = after_s


class PermanentFailure(Exception):
    """The job cannot succeed by retrying: park it with this error now."""


class JobContext(Protocol):
    """What a handler gets: the backend, the claimed job, and the means to keep and finish it."""

    backend: Backend
    job: ClaimedJob

    def heartbeat(self) -> None:
        """Extend the lease; raises ``LeaseLost`` if another worker took the job over."""

    def finishing(self) -> AbstractContextManager[Session]:
        """A write transaction that also marks the job done, fenced by worker and attempt.

        If this attempt lost the lease, ``LeaseLost`` is raised at the end of the block and
        nothing written in it is committed.
        """


JobHandler = Callable[[JobContext], None]
# Periodic work: every process calls each scheduler every tick; what it answers is enqueued
# by key (on conflict do nothing), so no leader is needed.
Scheduler = Callable[["Backend", datetime], Iterable[JobSpec]]


@dataclass(frozen=True)
class JobKind:
    """How the worker runs one kind of job."""

    name: str
    handler: JobHandler
    max_attempts: int = 5
    lease_s: float = 60.0
    backoff_s: float = 5.0  # first retry's delay; doubled per attempt, with jitter, capped at backoff_max_s
    backoff_max_s: float = 3600.0


def kinds_by_name(kinds: Iterable[JobKind]) -> dict[str, JobKind]:
    """The kinds keyed by name; refuses two kinds of one name."""
    table: dict[str, JobKind] = {}
    for kind in kinds:
        if kind.name in table:
            raise ValueError(f"two job kinds are called {kind.name!r}")
        table[kind.name] = kind
    return table
