"""A test-only Raymon plugin: a job kind whose run takes a while and records its effect.

It is found through ``raymon_test_jobs-1.0.dist-info`` next to it: a test puts this
directory on ``PYTHONPATH`` of the ``raymon worker`` processes it starts, so the kind is
registered the way any plugin's is (``register_job_kinds``), with nothing installed.
"""

from __future__ import annotations

import os
import time

from sqlalchemy import text

from raymon.server.engine.jobs import JobContext, JobKind
from raymon.server.plugins import hookimpl


def slow_effect(ctx: JobContext) -> None:
    """Sleep (``RAYMON_TEST_JOB_SECONDS``), then record one effect row in the completing transaction."""
    time.sleep(float(os.environ.get("RAYMON_TEST_JOB_SECONDS", "0.3")))
    with ctx.finishing() as session:
        session.execute(
            text("INSERT INTO effects (job_id, worker) VALUES (:j, :w)"),
            {"j": ctx.job.id, "w": ctx.job.worker},
        )


@hookimpl
def register_job_kinds() -> list[JobKind]:
    lease_s = float(os.environ.get("RAYMON_TEST_JOB_LEASE", "3"))
    return [JobKind("test_effect", slow_effect, lease_s=lease_s, max_attempts=5)]
