"""A migrated ``Backend`` on a real database (SQLite file or a throwaway PostgreSQL one) with a clock tests move.

Also an ``effects`` table (made by raw SQL: it is no part of the schema) where test job
kinds record each run inside ``ctx.finishing()``, so a test counts how often each job's
effect was committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from raymon.server.backend import Backend, build_backend
from raymon.server.engine.jobs import JobContext
from raymon.server.settings import Settings
from raymon.server.store.models import Project

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class MovableClock:
    """``clock()`` answers ``now``; ``advance(seconds)`` moves it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def migrated_backend(
    backend: str,
    postgres_databases: Any,
    tmp_path: Path,
    projects: tuple[str, ...] = ("p",),
    clock: Any = None,
    **settings: Any,
) -> Iterator[Backend]:
    """A ``Backend`` on a fresh migrated database (SQLite in ``tmp_path``, or a throwaway PostgreSQL one) with ``projects``."""
    url = postgres_databases.create() if backend == "postgresql" else ""
    instance = build_backend(Settings(data_dir=tmp_path, database_url=url, **settings), clock=clock)
    try:
        instance.database.migrate()
        with instance.writing() as session:
            session.add_all([Project(id=project, name=project) for project in projects])
        yield instance
    finally:
        instance.close()
        if url:
            postgres_databases.drop(url)


@contextmanager
def engine_backend(
    backend: str, postgres_databases: Any, tmp_path: Path, clock: Any = None, **settings: Any
) -> Iterator[Backend]:
    """``migrated_backend`` with project ``p`` and the ``effects`` table of the test job kinds."""
    with migrated_backend(backend, postgres_databases, tmp_path, clock=clock, **settings) as instance:
        with instance.writing() as session:
            session.execute(
                text("CREATE TABLE effects (job_id BIGINT NOT NULL, worker VARCHAR(256) NOT NULL)")
            )
        yield instance


def record_effect(ctx: JobContext) -> None:
    """A handler: one row in ``effects`` per committed run, in the transaction that completes the job."""
    with ctx.finishing() as session:
        session.execute(
            text("INSERT INTO effects (job_id, worker) VALUES (:j, :w)"),
            {"j": ctx.job.id, "w": ctx.job.worker},
        )


def effects(backend: Backend) -> dict[int, int]:
    """How many committed effects each job has."""
    with backend.reading() as session:
        rows = session.execute(text("SELECT job_id, COUNT(*) FROM effects GROUP BY job_id")).all()
    return {int(job_id): int(n) for job_id, n in rows}


def job_ids(backend: Backend, kind: str | None = None) -> list[int]:
    """The ids of every job (of ``kind``), in order."""
    where, params = ("WHERE kind = :k", {"k": kind}) if kind else ("", {})
    with backend.reading() as session:
        return [int(i) for i in session.scalars(text(f"SELECT id FROM jobs {where} ORDER BY id"), params)]
