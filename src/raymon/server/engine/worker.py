"""The worker: runs the engine's jobs, claimed from the jobs table with leases, on N threads.

Every tick the worker runs the schedulers (what they answer is enqueued by key: any number
of workers may do it, no leader), claims due jobs of its kinds up to its free threads, and
runs each kind's handler on a thread of its own with a ``JobContext``:

- the lease is kept by a heartbeat thread (every third of the kind's lease), and by the
  handler's own ``ctx.heartbeat()`` calls in long loops;
- ``ctx.finishing()`` is a write transaction that marks the job done before it commits,
  fenced by (worker, attempt): if another worker took the job over, ``LeaseLost`` is raised
  and nothing of the block is committed. A handler that returns without it is completed
  after it returns (at least once: for work outside the database);
- ``RetryLater`` runs the job again after ``after_s`` (or the backoff), any other exception
  after an exponential backoff with jitter, and after the kind's ``max_attempts`` (or on
  ``PermanentFailure``) the job is parked with its error, for an operator to see and re-queue;
- a job taken over after its lease expired on the last attempt (its worker crashed or was
  killed) is parked too: a job that kills workers does not kill them all in turn.

``stop()`` (SIGTERM/SIGINT in ``raymon worker``) stops claiming, lets the running jobs
finish for a grace period, then releases the rest (pending again, the attempt not counted);
their threads' late completion is fenced out. Logs name a job by id, kind and key, never its
payload; URLs in error messages are cut to their host (a webhook URL may be a secret).
This module holds the loop and the policy; the SQL is ``store.jobs``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from raymon.server.engine.jobs import (
    ClaimedJob,
    JobKind,
    LeaseLost,
    PermanentFailure,
    RetryLater,
    Scheduler,
    kinds_by_name,
)
from raymon.server.store import jobs as job_store
from raymon.server.store.db import background_writer

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.store.db import Session

log = logging.getLogger("raymon.worker")

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^\s/@]*@)?([^\s/?#'\"<>]+)[^\s'\"<>]*")


def redact(text: str) -> str:
    """``text`` with every URL cut to its scheme and host (paths, queries and credentials may be secrets)."""
    return _URL.sub(r"\1\2/…", text)


def describe_error(exc: BaseException) -> str:
    """What is stored and logged of a failure: the exception's type and its redacted message."""
    message = redact(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def default_worker_id() -> str:
    """``host:pid:random``: unique per worker object, so a restarted process never shares a fence."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff_s(kind: JobKind, tries: int, rng: random.Random) -> float:
    """The delay before the next try after ``tries`` failed ones: doubled each time, capped, jittered.

    "Equal jitter": half the exponential delay plus a random part of the other half, so
    retries of many jobs failing together spread out but never come sooner than half.
    """
    delay = min(kind.backoff_max_s, kind.backoff_s * (2 ** max(tries - 1, 0)))
    return delay / 2 + rng.uniform(0, delay / 2)


def _in_background(target: Callable[..., None]) -> Callable[..., None]:
    """``target`` run with its writes marked as background work (SQLite's writer goes to requests first)."""

    def run(*args: Any) -> None:
        with background_writer():
            target(*args)

    return run


class _Context:
    """The ``JobContext`` of one attempt."""

    def __init__(self, worker: Worker, job: ClaimedJob, kind: JobKind) -> None:
        self.backend = worker.backend
        self.job = job
        self.kind = kind
        self.finished = False
        self.lost = False
        self.last_beat = time.monotonic()
        self._session: Session | None = None
        self._owner: int | None = None
        self._lock = threading.Lock()

    def heartbeat(self) -> None:
        """Extend the lease; ``LeaseLost`` if another worker took the job over."""
        if self.lost:
            raise LeaseLost(f"job {self.job.id} ({self.job.kind}) attempt {self.job.attempt} lost its lease")
        try:
            if self._session is not None and self._owner == threading.get_ident():
                # inside finishing(): the same transaction (SQLite's write lock is not re-entrant)
                job_store.heartbeat(self._session, self.job, self.backend.clock(), self.kind.lease_s)
            else:
                with self._lock:  # not while finishing() runs: it completes (or loses) the job itself
                    if self.finished:
                        return
                    with self.backend.writing() as session:
                        job_store.heartbeat(session, self.job, self.backend.clock(), self.kind.lease_s)
        except LeaseLost:
            self.lost = True
            raise
        self.last_beat = time.monotonic()

    @contextmanager
    def finishing(self) -> Iterator[Session]:
        """A write transaction that marks the job done before it commits; ``LeaseLost`` rolls it back."""
        if self.lost:
            raise LeaseLost(f"job {self.job.id} ({self.job.kind}) attempt {self.job.attempt} lost its lease")
        with self._lock:
            with self.backend.writing() as session:
                self._session, self._owner = session, threading.get_ident()
                try:
                    yield session
                    try:
                        job_store.complete(session, self.job, self.backend.clock())
                    except LeaseLost:
                        self.lost = True
                        raise
                finally:
                    self._session = self._owner = None
            self.finished = True


@dataclass
class WorkerStats:
    """What a worker did since it started (for logs and tests)."""

    claimed: int = 0
    done: int = 0
    retried: int = 0
    parked: int = 0
    lost: int = 0
    released: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class Worker:
    """Runs the jobs of ``kinds`` and the ``schedulers`` on ``concurrency`` threads (see the module docstring)."""

    def __init__(
        self,
        backend: Backend,
        kinds: Sequence[JobKind],
        schedulers: Sequence[Scheduler] = (),
        worker_id: str | None = None,
        *,
        concurrency: int = 2,
        poll_interval_s: float = 1.0,
        claim_batch: int = 1,
        schedule_interval_s: float | None = None,
        shutdown_grace_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"a worker needs at least one thread (concurrency), got {concurrency}")
        if claim_batch < 1:
            raise ValueError(f"a claim takes at least one job per thread (claim_batch), got {claim_batch}")
        if poll_interval_s <= 0:
            raise ValueError(f"the poll interval must be positive, got {poll_interval_s}")
        self.backend = backend
        self.kinds = kinds_by_name(kinds)
        self.schedulers = list(schedulers)
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.poll_interval_s = poll_interval_s
        self.claim_batch = claim_batch
        self.schedule_interval_s = poll_interval_s if schedule_interval_s is None else schedule_interval_s
        self.shutdown_grace_s = shutdown_grace_s
        self.stats = WorkerStats()
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._running: dict[int, _Context] = {}  # claimed jobs, running or queued on a thread
        self._threads: dict[int, threading.Thread] = {}  # job threads, by their first job's id
        self._mutex = threading.Lock()
        self._loop: threading.Thread | None = None
        self._keeper: threading.Thread | None = None
        self._last_schedule = float("-inf")

    # --- the loop --------------------------------------------------------------------------------

    def run(self) -> None:
        """Run until ``stop()`` (blocking), then wind down: grace period for running jobs, release the rest."""
        log.info(
            "worker %s: %d threads, kinds %s", self.worker_id, self.concurrency, ", ".join(sorted(self.kinds))
        )
        self._keeper = threading.Thread(
            target=_in_background(self._keep_leases), name="raymon-leases", daemon=True
        )
        self._keeper.start()
        try:
            while not self._stop.is_set():
                self._wake.clear()  # before the tick: a wake during it makes the next tick at once
                try:
                    self.tick()
                except Exception as exc:  # the database away for a moment: log, wait, go on
                    log.error("worker %s: tick failed: %s", self.worker_id, describe_error(exc))
                # a slot frees, new work was stored (``wake``) or the worker stops: tick again at once
                self._wake.wait(self.poll_interval_s)
        finally:
            self._wind_down()

    def tick(self) -> bool:
        """One round: the schedulers (when due), then claim and start jobs; answers whether every thread is busy.

        A claim takes up to ``claim_batch`` jobs per free thread (one write transaction for all),
        dealt out to the free threads, each running its share one after another: under a backlog
        of small jobs (map runs of a few ms) the claim's transaction is paid once per batch. The
        jobs are claimed oldest ``run_at`` first whatever their kind, so a reduce job waits for
        the map jobs enqueued before it, never for those enqueued after.
        """
        now = self.backend.clock()
        if time.monotonic() - self._last_schedule >= self.schedule_interval_s:
            self._last_schedule = time.monotonic()
            self.schedule(now)
        with self._mutex:
            free = self.concurrency - len(self._threads)
        if free <= 0:
            return True
        jobs = self.claim(free * self.claim_batch, now)
        for share in (jobs[i::free] for i in range(free)):
            if share:
                self._start(*share)
        return len(jobs) >= free

    def schedule(self, now: datetime | None = None) -> int:
        """Run every scheduler once and enqueue what they answer; answer how many jobs were new."""
        now = now or self.backend.clock()
        new = 0
        for scheduler in self.schedulers:
            try:
                specs = list(scheduler(self.backend, now))
                if specs:
                    with self.backend.writing() as session:
                        new += job_store.enqueue(session, specs, now=now)
            except Exception as exc:
                log.error(
                    "worker %s: scheduler %r failed: %s", self.worker_id, scheduler, describe_error(exc)
                )
        return new

    def claim(self, limit: int, now: datetime | None = None) -> list[ClaimedJob]:
        """Claim up to ``limit`` due jobs of this worker's kinds (a cheap read first: no write when idle)."""
        now = now or self.backend.clock()
        names = sorted(self.kinds)
        with self.backend.reading() as session:
            if not job_store.has_due(session, names, now):
                return []
        leases = {name: kind.lease_s for name, kind in self.kinds.items()}
        with self.backend.writing() as session:
            jobs = job_store.claim(session, names, self.worker_id, now, leases, limit)
        self.stats.claimed += len(jobs)
        return jobs

    def run_due(self, *, max_jobs: int = 10_000) -> int:
        """Run the schedulers once, then every due job one after another in this thread; answer how many ran.

        For tests and one-shot use (``raymon worker --once``): no threads, no heartbeats
        (handlers may still call ``ctx.heartbeat()``).
        """
        self.schedule()
        ran = 0
        while ran < max_jobs:
            jobs = self.claim(1)
            if not jobs:
                break
            self.run_job(jobs[0])
            ran += 1
        return ran

    # --- one job ----------------------------------------------------------------------------------

    def _start(self, *jobs: ClaimedJob) -> None:
        """Run ``jobs`` one after another on a new thread (their leases kept meanwhile, queued ones too)."""
        contexts = [_Context(self, job, self.kinds[job.kind]) for job in jobs]
        first = jobs[0].id
        thread = threading.Thread(
            target=_in_background(self._run_in_thread),
            args=(first, contexts),
            name=f"raymon-job-{first}",
            daemon=True,
        )
        with self._mutex:
            for ctx in contexts:
                self._running[ctx.job.id] = ctx
            self._threads[first] = thread
        thread.start()

    def _run_in_thread(self, first: int, contexts: Sequence[_Context]) -> None:
        try:
            for ctx in contexts:
                if self._stop.is_set():  # stopping: the rest stay claimed and are released by the wind-down
                    break
                try:
                    self._run(ctx)
                except Exception as exc:  # settling failed (the database away): its lease will expire
                    log.error("job %d: could not be settled: %s", ctx.job.id, describe_error(exc))
                finally:
                    with self._mutex:
                        if self._running.get(ctx.job.id) is ctx:
                            del self._running[ctx.job.id]
        finally:
            with self._mutex:
                self._threads.pop(first, None)
            self._wake.set()

    def run_job(self, job: ClaimedJob) -> None:
        """Run one claimed job to its end in this thread (handler, then completion, retry or park)."""
        self._run(_Context(self, job, self.kinds[job.kind]))

    def _run(self, ctx: _Context) -> None:
        job, kind = ctx.job, ctx.kind
        tries = job.counted_tries
        if tries > kind.max_attempts:
            self._settle(
                ctx,
                "park",
                f"attempt {tries - 1} of {kind.max_attempts} never finished: its worker stopped "
                "(killed, crashed or lost the database) before its lease ran out",
            )
            return
        try:
            kind.handler(ctx)
        except LeaseLost:
            self.stats.lost += 1
            log.warning(
                "job %d (%s, key %r) attempt %d: lease lost, its work discarded",
                job.id,
                job.kind,
                job.key,
                job.attempt,
            )
            return
        except PermanentFailure as exc:
            self._settle(ctx, "park", describe_error(exc))
            return
        except RetryLater as exc:
            self._fail(ctx, describe_error(exc), exc.after_s)
            return
        except Exception as exc:
            log.debug("job %d (%s) failed", job.id, job.kind, exc_info=True)
            self._fail(ctx, describe_error(exc), None)
            return
        if ctx.finished:
            self._count_done(job)
        elif ctx.lost:
            self.stats.lost += 1
        else:
            self._settle(ctx, "complete", None)

    def _fail(self, ctx: _Context, error: str, after_s: float | None) -> None:
        job, kind = ctx.job, ctx.kind
        tries = job.counted_tries
        if tries >= kind.max_attempts:
            self._settle(ctx, "park", f"{error} (attempt {tries} of {kind.max_attempts})")
            return
        delay = after_s if after_s is not None else backoff_s(kind, tries, self._rng)
        log.warning(
            "job %d (%s, key %r) attempt %d of %d failed, again in %.1f s: %s",
            job.id, job.kind, job.key, tries, kind.max_attempts, delay, error,
        )  # fmt: skip
        self._settle(ctx, "retry", error, delay)

    def _settle(self, ctx: _Context, outcome: str, error: str | None, delay_s: float = 0.0) -> None:
        job = ctx.job
        try:
            with self.backend.writing() as session:
                now = self.backend.clock()
                if outcome == "complete":
                    job_store.complete(session, job, now)
                elif outcome == "retry":
                    job_store.retry(session, job, now, now + timedelta(seconds=max(delay_s, 0.0)), error)
                else:
                    job_store.park(session, job, now, error or "parked")
        except LeaseLost:
            self.stats.lost += 1
            log.warning(
                "job %d (%s, key %r) attempt %d: lease lost before it could %s",
                job.id,
                job.kind,
                job.key,
                job.attempt,
                outcome,
            )
            return
        if outcome == "complete":
            self._count_done(job)
        elif outcome == "retry":
            self.stats.retried += 1
        else:
            self.stats.parked += 1
            log.error("job %d (%s, key %r) parked: %s", job.id, job.kind, job.key, error)

    def _count_done(self, job: ClaimedJob) -> None:
        with self._mutex:
            self.stats.done += 1
            self.stats.by_kind[job.kind] = self.stats.by_kind.get(job.kind, 0) + 1

    # --- leases -------------------------------------------------------------------------------------

    def _keep_leases(self) -> None:
        """Heartbeat every running job a third of its lease after the last beat, until the worker stops."""
        while not self._stop.wait(0.2):
            with self._mutex:
                running = list(self._running.values())
            for ctx in running:
                if ctx.finished or ctx.lost or time.monotonic() - ctx.last_beat < ctx.kind.lease_s / 3:
                    continue
                try:
                    ctx.heartbeat()
                except LeaseLost:
                    log.warning(
                        "job %d (%s, key %r) attempt %d: lease taken over",
                        ctx.job.id,
                        ctx.job.kind,
                        ctx.job.key,
                        ctx.job.attempt,
                    )
                except Exception as exc:
                    log.error("job %d: heartbeat failed: %s", ctx.job.id, describe_error(exc))

    # --- start and stop -------------------------------------------------------------------------------

    def start(self) -> Worker:
        """Run the loop on a background thread (the in-process engine of ``raymon server``)."""
        if self._loop is not None:
            raise RuntimeError("this worker was started already")
        self._loop = threading.Thread(target=_in_background(self.run), name="raymon-worker", daemon=True)
        self._loop.start()
        return self

    def wake(self) -> None:
        """Look for due jobs now instead of at the next poll (the in-process engine: new events were stored)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Stop claiming (safe from a signal handler); ``run`` then winds down and returns."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the loop started by ``start`` and wait for it to wind down."""
        self.request_stop()
        if self._loop is not None:
            self._loop.join(timeout=(self.shutdown_grace_s + 10) if timeout_s is None else timeout_s)

    @property
    def running_jobs(self) -> list[ClaimedJob]:
        with self._mutex:
            return [ctx.job for ctx in self._running.values()]

    def _wind_down(self) -> None:
        started = time.monotonic()
        while time.monotonic() < started + self.shutdown_grace_s:  # a second signal sets the grace to 0
            with self._mutex:
                threads = list(self._threads.values())
            if not threads:
                break
            threads[0].join(timeout=max(0.0, min(0.2, started + self.shutdown_grace_s - time.monotonic())))
        with self._mutex:
            left = list(self._running.values())
        for ctx in left:
            ctx.lost = True  # its late heartbeat or completion would be fenced out anyway
            try:
                with self.backend.writing() as session:
                    job_store.release(session, ctx.job, self.backend.clock())
                self.stats.released += 1
                log.warning(
                    "job %d (%s, key %r): released unfinished at shutdown",
                    ctx.job.id,
                    ctx.job.kind,
                    ctx.job.key,
                )
            except LeaseLost:
                pass
            except Exception as exc:
                log.error(
                    "job %d: release failed (its lease will expire): %s", ctx.job.id, describe_error(exc)
                )
        log.info("worker %s stopped: %s", self.worker_id, self.stats)
