"""Engine jobs as operators see them: a project's jobs by status, and re-queueing a parked one.

A parked job failed for good (its kind's ``max_attempts``, or a permanent failure); it
waits, with its last error, until an admin re-queues it with a fresh budget of attempts.
Answers never carry a job's payload (it may hold a webhook's settings or other secrets),
only its kind, key, status, attempts, error and times. No HTTP, no SQL here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raymon.server.services.errors import ConflictError, InvalidInputError, NotFoundError
from raymon.server.services.paging import iso
from raymon.server.store import jobs as job_store
from raymon.server.store.jobs import STATUSES, JobRow

if TYPE_CHECKING:
    from raymon.server.backend import Backend

MAX_JOBS = 1000


def job_summary(job: JobRow) -> dict[str, Any]:
    """What the API shows of a job (no payload)."""
    return {
        "job_id": job.id,
        "kind": job.kind,
        "key": job.key,
        "status": job.status,
        "attempts": job.attempt,
        "tries": job.tries,
        "error": job.last_error,
        "run_at": iso(job.run_at),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at) if job.started_at else None,
        "finished_at": iso(job.finished_at) if job.finished_at else None,
    }


def list_jobs(backend: Backend, project_id: str, status: str | None, limit: int = 100) -> dict[str, Any]:
    """``{"jobs": [...]}``: the project's jobs of ``status`` (or all), newest first."""
    if status is not None and status not in STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    if not 1 <= limit <= MAX_JOBS:
        raise InvalidInputError(f"limit must be from 1 to {MAX_JOBS}, got {limit!r}")
    with backend.reading() as session:
        rows = job_store.list_jobs(session, project_id, status, limit=limit)
    return {"jobs": [job_summary(row) for row in rows]}


def retry_parked(backend: Backend, project_id: str, job_id: int) -> dict[str, Any]:
    """Re-queue a parked job of the project now, with a fresh budget of attempts; answer it."""
    with backend.writing() as session:
        row = job_store.requeue(session, job_id, backend.clock(), project_id)
        if row is None:
            existing = job_store.get_job(session, job_id, project_id)
            if existing is None:
                raise NotFoundError(f"project {project_id!r} has no job {job_id}")
            raise ConflictError(
                f"job {job_id} is {existing.status}, not parked: only a parked job is re-queued"
            )
    return job_summary(row)
