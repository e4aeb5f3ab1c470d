"""What the engine runs: the job kinds and schedulers of every part, and the worker built on them.

``engine_parts(backend)`` is the one list of the engine's kinds and schedulers: the built-in
ones (cleanups here; mappers, reducers and alert deliveries join at merge) plus the kinds
plugins register (``register_job_kinds``). ``raymon worker`` and the in-process engine of
``raymon server`` both build their ``Worker`` through ``build_worker``, so they cannot
drift. Nothing here runs SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from raymon.server.engine import cleanup
from raymon.server.engine.jobs import JobKind, Scheduler
from raymon.server.engine.worker import Worker

if TYPE_CHECKING:
    from raymon.server.backend import Backend


def retention_of(backend: Backend) -> Callable[[str], int | None]:
    """A project's retention in days (manifest ``settings.retention_days``), ``None`` to keep everything.

    The manifest lane's ``services.manifests.current`` is wired here at merge; until then
    no project has a retention.
    """

    def days(project_id: str) -> int | None:
        return None

    return days


def engine_parts(backend: Backend) -> tuple[list[JobKind], list[Scheduler]]:
    """Every job kind the engine runs and every scheduler it calls each tick."""
    kinds: list[JobKind] = [*cleanup.cleanup_kinds(), *backend.plugins.job_kinds()]
    schedulers: list[Scheduler] = [
        cleanup.retention_scheduler(retention_of(backend)),
        cleanup.jobs_cleanup_scheduler(),
    ]
    return kinds, schedulers


def build_worker(
    backend: Backend,
    *,
    concurrency: int | None = None,
    poll_interval_s: float | None = None,
    worker_id: str | None = None,
    shutdown_grace_s: float = 30.0,
) -> Worker:
    """A worker over ``engine_parts(backend)``; unset values from the settings (RAYMON_WORKER_*)."""
    kinds, schedulers = engine_parts(backend)
    return Worker(
        backend,
        kinds,
        schedulers,
        worker_id,
        concurrency=concurrency or backend.settings.worker_concurrency,
        poll_interval_s=poll_interval_s or backend.settings.worker_poll_seconds,
        shutdown_grace_s=shutdown_grace_s,
    )
