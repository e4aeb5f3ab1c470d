"""Engine job routes: a project's jobs by status (parked ones first of all) and re-queueing one.

Reading needs the ``read`` scope, re-queueing ``admin``. No payload is ever answered. Routes
never talk SQL.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query

from raymon.server.api.deps import AdminAccess, BackendDep, ReadAccess
from raymon.server.services import jobs

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["jobs"])
JOB_ID_MAX = 2**63 - 1


@router.get("/jobs")
def job_list(
    backend: BackendDep,
    access: ReadAccess,
    status: Literal["parked", "pending", "running", "done"] | None = Query(
        "parked",
        description="Only jobs in this status (default parked: failed for good, waiting for a retry)",
    ),
    limit: int = Query(100, ge=1, le=jobs.MAX_JOBS, description="At most this many jobs, newest first"),
) -> dict[str, Any]:
    """The project's engine jobs of a status: kind, key, attempts, last error and times (no payload)."""
    return jobs.list_jobs(backend, access.project_id, status, limit)


@router.post("/jobs/{job_id}/retry")
def job_retry(
    backend: BackendDep,
    access: AdminAccess,
    job_id: int = Path(..., ge=1, le=JOB_ID_MAX, description="The job's id (from the job list)"),
) -> dict[str, Any]:
    """Re-queue a parked job now, with a fresh budget of attempts (409 when it is not parked)."""
    return jobs.retry_parked(backend, access.project_id, job_id)
