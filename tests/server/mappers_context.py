"""A small stand-in for the engine's worker, over a real Backend, for the mapper tests (until the jobs lane lands).

``run_jobs`` claims the pending jobs of a kind straight from the ``jobs`` table, one attempt each,
runs the handler with a ``JobContext`` whose ``finishing()`` is ``backend.writing()`` that also
marks the job done, and treats ``RetryLater`` as "pending again, one attempt more" (no waiting):
what the real worker does, minus leases and backoff.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pluggy
from sqlalchemy import select, update

from raymon.server import default_plugins, hookspecs
from raymon.server.backend import Backend
from raymon.server.engine.jobs import ClaimedJob, JobHandler, PermanentFailure, RetryLater
from raymon.server.plugins import PluginInfo, Plugins
from raymon.server.store.db import Session
from raymon.server.store.models import Job


@dataclass
class DirectJobContext:
    backend: Backend
    job: ClaimedJob
    finished: bool = False

    def heartbeat(self) -> None:
        pass

    @contextmanager
    def finishing(self) -> Iterator[Session]:
        with self.backend.writing() as session:
            yield session
            session.execute(
                update(Job).where(Job.id == self.job.id).values(status="done", finished_at=datetime.now(UTC))
            )
        self.finished = True


@dataclass
class Outcomes:
    done: list[str] = field(default_factory=list)  # keys
    retried: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    parked: list[tuple[str, str]] = field(default_factory=list)
    retry_after: list[float | None] = field(default_factory=list)


def pending_jobs(backend: Backend, kind: str) -> list[ClaimedJob]:
    with backend.reading() as session:
        rows = session.execute(
            select(Job.id, Job.kind, Job.key, Job.project_id, Job.payload, Job.attempt)
            .where(Job.kind == kind, Job.status == "pending")
            .order_by(Job.id)
        ).all()
    until = datetime.now(UTC) + timedelta(minutes=1)
    return [
        ClaimedJob(r.id, r.kind, r.key, r.project_id, r.payload, r.attempt + 1, "test", until) for r in rows
    ]


def run_one(backend: Backend, handler: JobHandler, job: ClaimedJob, outcomes: Outcomes) -> None:
    with backend.writing() as session:
        session.execute(update(Job).where(Job.id == job.id).values(attempt=job.attempt, status="running"))
    ctx = DirectJobContext(backend, job)
    try:
        handler(ctx)
    except RetryLater as exc:
        outcomes.retried.append((job.key or "", exc.reason))
        outcomes.retry_after.append(exc.after_s)
        status = "pending"
    except (PermanentFailure, Exception) as exc:
        outcomes.parked.append((job.key or "", repr(exc)))
        status = "parked"
    else:
        assert ctx.finished, f"the handler returned without finishing job {job.key}"
        outcomes.done.append(job.key or "")
        return
    with backend.writing() as session:
        session.execute(update(Job).where(Job.id == job.id).values(status=status))


def run_jobs(
    backend: Backend, handler: JobHandler, kind: str = "map", rounds: int = 60, threads: int = 1
) -> Outcomes:
    """Run the pending jobs of ``kind`` until none is left (at most ``rounds`` passes), ``threads`` at a time."""
    outcomes = Outcomes()
    for _ in range(rounds):
        jobs = pending_jobs(backend, kind)
        if not jobs:
            return outcomes
        if threads == 1:
            for job in jobs:
                run_one(backend, handler, job, outcomes)
            continue
        barrier = threading.Barrier(threads)
        chunks = [jobs[i::threads] for i in range(threads)]

        def work(chunk: Sequence[ClaimedJob], barrier: threading.Barrier) -> None:
            barrier.wait()
            for job in chunk:
                run_one(backend, handler, job, outcomes)

        workers = [threading.Thread(target=work, args=(chunk, barrier)) for chunk in chunks]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    raise AssertionError(f"jobs of kind {kind!r} still pending after {rounds} rounds")


def jobs_of(backend: Backend, kind: str = "map") -> list[Any]:
    with backend.reading() as session:
        return list(
            session.execute(
                select(Job.key, Job.status, Job.attempt, Job.payload).where(Job.kind == kind).order_by(Job.id)
            )
        )


def plugins_with(*plugins: object) -> Plugins:
    """Raymon's own plugin plus the given plugin objects (each with ``@hookimpl`` methods)."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(default_plugins, name="raymon")
    infos = {"raymon": PluginInfo("raymon", None, "raymon.server.default_plugins", builtin=True)}
    for i, plugin in enumerate(plugins):
        name = f"test_plugin_{i}"
        manager.register(plugin, name=name)
        infos[name] = PluginInfo(name, None, type(plugin).__module__)
    return Plugins(manager, infos)
