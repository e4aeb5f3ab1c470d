"""Cleanups: a project's data past its retention, and old done jobs, deleted in bounded batches.

Two job kinds and their schedulers:

- ``retention``: once a day per project whose retention is set (manifest
  ``settings.retention_days``, read through the ``retention_of(project_id)`` callable the
  runtime wires), delete its traces (with tags, texts, objects and the objects' files),
  events ledger rows and reduce results older than that many days. The cutoff is fixed
  when the day's job is scheduled; a run deletes at most ``RAYMON_CLEANUP_BATCH_ROWS`` rows
  per table and enqueues the next batch (key ``...#n+1``) while more remain, in the same
  transaction that marks it done.
- ``jobs_cleanup``: every hour, done jobs finished more than ``RAYMON_JOBS_KEEP_DONE_HOURS``
  ago are deleted, in batches the same way. (Parked jobs stay until an operator re-queues them.)

Every process schedules them (key per project and day, or per hour: one job whatever the
number of workers). This module decides when and how much; the SQL is ``store.retention``
and ``store.jobs``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from raymon.server.engine.jobs import JobContext, JobKind, JobSpec, Scheduler
from raymon.server.store import accounts
from raymon.server.store import jobs as job_store
from raymon.server.store import retention as retention_store
from raymon.server.store.retention import RetentionBatch

if TYPE_CHECKING:
    from raymon.server.backend import Backend

RETENTION = "retention"
JOBS_CLEANUP = "jobs_cleanup"
RetentionOf = Callable[[str], "int | None"]  # project id -> retention in days, None: keep everything


def retention_cleanup(
    backend: Backend, project_id: str, retention_days: int, now: datetime, *, batch_rows: int | None = None
) -> RetentionBatch:
    """Delete one batch of ``project_id``'s data older than ``retention_days`` before ``now`` (one transaction)."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, got {retention_days!r}")
    cutoff = now - timedelta(days=retention_days)
    limit = batch_rows or backend.settings.cleanup_batch_rows
    with backend.writing() as session:
        return retention_store.delete_expired(session, backend.object_store, project_id, cutoff, limit)


def _next_batch(ctx: JobContext, kind: str) -> JobSpec:
    payload = dict(ctx.job.payload)
    payload["batch"] = int(payload.get("batch", 0)) + 1
    return JobSpec(kind, f"{payload['base']}#{payload['batch']}", ctx.job.project_id, payload)


def handle_retention(ctx: JobContext) -> None:
    """One batch of a project's retention cleanup; the next batch enqueued while more remain."""
    project_id = ctx.job.project_id
    if project_id is None:
        raise ValueError("a retention job needs a project")
    cutoff = datetime.fromisoformat(str(ctx.job.payload["cutoff"]))
    limit = ctx.backend.settings.cleanup_batch_rows
    with ctx.finishing() as session:
        batch = retention_store.delete_expired(session, ctx.backend.object_store, project_id, cutoff, limit)
        if batch.more:
            job_store.enqueue(session, [_next_batch(ctx, RETENTION)], now=ctx.backend.clock())


def handle_jobs_cleanup(ctx: JobContext) -> None:
    """One batch of old done jobs deleted; the next batch enqueued while more remain."""
    cutoff = datetime.fromisoformat(str(ctx.job.payload["cutoff"]))
    limit = ctx.backend.settings.cleanup_batch_rows
    with ctx.finishing() as session:
        if job_store.delete_done(session, cutoff, limit) >= limit:
            job_store.enqueue(session, [_next_batch(ctx, JOBS_CLEANUP)], now=ctx.backend.clock())


def cleanup_kinds() -> list[JobKind]:
    return [
        JobKind(RETENTION, handle_retention, max_attempts=5, lease_s=300.0, backoff_s=60.0),
        JobKind(JOBS_CLEANUP, handle_jobs_cleanup, max_attempts=5, lease_s=300.0, backoff_s=60.0),
    ]


def retention_scheduler(retention_of: RetentionOf, *, rescan_s: float = 60.0) -> Scheduler:
    """Enqueue each project's retention job of the day (key ``retention:<project>:<day>#0``).

    Projects are listed at most every ``rescan_s`` seconds; a key already answered today is
    not answered again by this process (the database refuses it anyway).
    """
    answered: set[str] = set()
    today = {"day": ""}
    scanned = [float("-inf")]

    def schedule(backend: Backend, now: datetime) -> Iterator[JobSpec]:
        day = now.date().isoformat()
        if day != today["day"]:
            today["day"], scanned[0] = day, float("-inf")
            answered.clear()
        if time.monotonic() - scanned[0] < rescan_s:
            return
        scanned[0] = time.monotonic()
        with backend.reading() as session:
            project_ids = [p.id for p in accounts.list_projects(session)]
        for project_id in project_ids:
            base = f"{RETENTION}:{project_id}:{day}"
            if base in answered:
                continue
            days = retention_of(project_id)
            if days is None:
                continue
            answered.add(base)
            cutoff = now - timedelta(days=days)
            payload = {"retention_days": days, "cutoff": cutoff.isoformat(), "base": base, "batch": 0}
            yield JobSpec(RETENTION, f"{base}#0", project_id, payload)

    return schedule


def jobs_cleanup_scheduler() -> Scheduler:
    """Enqueue the hour's cleanup of old done jobs (key ``jobs_cleanup:<day>T<hour>#0``), once per process."""
    last = {"base": ""}

    def schedule(backend: Backend, now: datetime) -> Iterator[JobSpec]:
        base = f"{JOBS_CLEANUP}:{now.strftime('%Y-%m-%dT%H')}"
        if base == last["base"]:
            return
        last["base"] = base
        cutoff = now - timedelta(hours=backend.settings.jobs_keep_done_hours)
        yield JobSpec(
            JOBS_CLEANUP, f"{base}#0", None, {"cutoff": cutoff.isoformat(), "base": base, "batch": 0}
        )

    return schedule
