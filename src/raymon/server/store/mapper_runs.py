"""Mapper runs: that a mapper ran on a trace, one row per (project, mapper, trace); every SQL statement about them.

The row is inserted (on conflict do nothing) in the transaction that writes the mapper's tags,
so of two runs of one mapper on one trace (two inputs' jobs, two workers) only the first
writes: ``record`` answers ``False`` to the others, which then write nothing. Functions take
the caller's session first and answer typed rows; they never commit. They run on the session's
connection (Core, no ORM unit of work): a mapper run is a few of these per job.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from raymon.server.store.models import MapperRun, Trace


class MapperRunRow(NamedTuple):
    mapper: str
    trace_pk: int
    status: str  # done | failed
    n_tags: int
    attempt: int
    error: str | None
    finished_at: datetime


def has_run(session: Session, project_id: str, mapper: str, trace_pk: int) -> bool:
    """Whether ``mapper`` ran on the trace already (done or failed)."""
    stmt = select(MapperRun.trace_pk).where(
        MapperRun.project_id == project_id, MapperRun.mapper == mapper, MapperRun.trace_pk == trace_pk
    )
    return session.connection().execute(stmt).first() is not None


def ran_among(session: Session, project_id: str, mapper: str, trace_pks: Collection[int]) -> set[int]:
    """Which of ``trace_pks`` ``mapper`` ran on already (done or failed), in one query."""
    if not trace_pks:
        return set()
    stmt = select(MapperRun.trace_pk).where(
        MapperRun.project_id == project_id,
        MapperRun.mapper == mapper,
        MapperRun.trace_pk.in_(sorted(set(trace_pks))),
    )
    return {int(pk) for (pk,) in session.connection().execute(stmt)}


def record(
    session: Session,
    project_id: str,
    mapper: str,
    trace_pk: int,
    *,
    status: str,
    n_tags: int,
    attempt: int,
    error: str | None,
    finished_at: datetime,
) -> bool:
    """Record the run; ``False`` when another run of ``mapper`` on the trace was recorded first (write nothing then).

    On PostgreSQL a concurrent first run's uncommitted row makes this wait for that transaction,
    then answer ``False``; on SQLite writers take turns.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(MapperRun)
        .values(
            project_id=project_id,
            mapper=mapper,
            trace_pk=trace_pk,
            status=status,
            n_tags=n_tags,
            attempt=attempt,
            error=error,
            finished_at=finished_at,
        )
        .on_conflict_do_nothing(index_elements=["project_id", "mapper", "trace_pk"])
        .returning(MapperRun.trace_pk)
    )
    return session.connection().execute(stmt).first() is not None


def runs_of_trace(session: Session, project_id: str, trace_id: str) -> list[MapperRunRow]:
    """The mapper runs of a trace (by its id), by mapper name."""
    stmt = (
        select(
            MapperRun.mapper,
            MapperRun.trace_pk,
            MapperRun.status,
            MapperRun.n_tags,
            MapperRun.attempt,
            MapperRun.error,
            MapperRun.finished_at,
        )
        .join(Trace, Trace.id == MapperRun.trace_pk)
        .where(MapperRun.project_id == project_id, Trace.project_id == project_id, Trace.trace_id == trace_id)
        .order_by(MapperRun.mapper)
    )
    return [MapperRunRow._make(row) for row in session.execute(stmt)]
