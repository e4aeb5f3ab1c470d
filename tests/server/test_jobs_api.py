"""Parked jobs through a real server: listed with their error and no payload, re-queued by an admin.

And the in-process engine: ``raymon server`` on SQLite runs jobs itself (RAYMON_ENGINE=auto),
on PostgreSQL only when told to (RAYMON_ENGINE=on), leaving them to ``raymon worker`` otherwise.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from raymon.server.engine.jobs import JobSpec
from raymon.server.store import jobs as job_store

PLUGIN_DIR = Path(__file__).parent / "job_plugin"
SECRET = "https://hooks.example.com/services/T0/B0/very-secret"


def _parked_job(server: Any, project_id: str, key: str) -> int:
    db = server.database()
    try:
        with db.write_session() as session:
            job_store.enqueue(session, [JobSpec("unknown_kind", key, project_id, {"url": SECRET})])
        with db.write_session() as session:
            (job,) = job_store.claim(session, ["unknown_kind"], "w", datetime.now(UTC), 60, 1)
            job_store.park(session, job, datetime.now(UTC), f"ConnectError: cannot reach {SECRET[:27]}/…")
        return job.id
    finally:
        db.dispose()


def test_parked_jobs_are_listed_without_payload_and_an_admin_requeues_them(server: Any) -> None:
    project, other = server.new_project(), server.new_project()
    job_id = _parked_job(server, project.project_id, f"deliver:{project.project_id}:1")
    foreign = _parked_job(server, other.project_id, f"deliver:{other.project_id}:1")
    reader = server.key(project, "read")
    base = f"/api/v1/projects/{project.project_id}/jobs"
    with server.client(reader) as client:
        listed = client.get(base, params={"status": "parked"})
        assert listed.status_code == 200, listed.text
        (job,) = listed.json()["jobs"]
        assert job["job_id"] == job_id and job["kind"] == "unknown_kind" and job["status"] == "parked"
        assert job["attempts"] == 1 and job["error"].startswith("ConnectError") and job["finished_at"]
        assert "payload" not in job and "very-secret" not in listed.text
        assert client.get(base).json() == listed.json()  # parked is the default
        assert client.get(base, params={"status": "done"}).json() == {"jobs": []}
        refused = client.get(base, params={"status": "lost"})
        assert refused.status_code == 422 and "status" in refused.json()["detail"]
        assert client.post(f"{base}/{job_id}/retry").status_code == 403  # re-queueing needs admin
    with server.client(project.admin_key) as client:
        retried = client.post(f"{base}/{job_id}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "pending" and retried.json()["tries"] == 0
        again = client.post(f"{base}/{job_id}/retry")
        assert again.status_code == 409 and "not parked" in again.json()["detail"]
        assert client.post(f"{base}/{foreign}/retry").status_code == 404  # another project's job
        assert client.post(f"{base}/999999999/retry").status_code == 404
        assert client.get(base, params={"status": "pending"}).json()["jobs"][0]["job_id"] == job_id


def _effect_job(server: Any) -> tuple[Any, int]:
    db = server.database()
    with db.write_session() as session:
        session.execute(
            text("CREATE TABLE IF NOT EXISTS effects (job_id BIGINT NOT NULL, worker VARCHAR(256))")
        )
        job_store.enqueue(session, [JobSpec("test_effect", "in-process", "test-project")])
    with db.session() as session:
        job_id = int(session.scalar(text("SELECT id FROM jobs WHERE key = 'in-process'")))
    return db, job_id


def _status_after(db: Any, job_id: int, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        with db.session() as session:
            status = str(session.scalar(text("SELECT status FROM jobs WHERE id = :i"), {"i": job_id}))
        if status == "done" or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_the_server_runs_the_engine_in_process_on_sqlite_and_on_postgresql_only_when_told(
    backend: str, make_server: Any
) -> None:
    env = {"PYTHONPATH": str(PLUGIN_DIR), "RAYMON_TEST_JOB_SECONDS": "0", "RAYMON_WORKER_POLL_SECONDS": "0.1"}
    server = make_server(**env)
    db, job_id = _effect_job(server)
    try:
        if backend == "sqlite":
            assert _status_after(db, job_id, 30) == "done"
        else:
            assert _status_after(db, job_id, 2) == "pending"  # RAYMON_ENGINE=auto: left to raymon worker
            server.stop()
            server.extra_env["RAYMON_ENGINE"] = "on"
            server.start()
            assert _status_after(db, job_id, 30) == "done"
        with db.session() as session:
            assert session.scalar(text("SELECT COUNT(*) FROM effects WHERE job_id = :i"), {"i": job_id}) == 1
    finally:
        db.dispose()
