"""Mapper runs: that a mapper ran on a trace, one row per (project, mapper, trace); every SQL statement about them.

The row is inserted (on conflict do nothing) in the transaction that writes the mapper's tags,
so of two runs of one mapper on one trace (two inputs' jobs, two workers) only the first
writes: ``record_many`` leaves the others out of the traces it answers, which then write
nothing. Functions take the caller's session first and answer typed rows; they never commit.
They run on the session's connection (Core, no ORM unit of work): a batch of runs is one
statement per ``RECORD_CHUNK`` traces.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
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


# Rows per statement: 8 parameters each stay well under SQLite's 32,766 bound parameters.
RECORD_CHUNK = 1000


class NewRun(NamedTuple):
    """One run to record: its trace, how it ended and how many tags it wrote."""

    trace_pk: int
    status: str  # done | failed
    n_tags: int
    error: str | None


def record_many(
    session: Session,
    project_id: str,
    mapper: str,
    runs: Sequence[NewRun],
    *,
    attempt: int,
    finished_at: datetime,
) -> set[int]:
    """Record a batch's runs in one statement per ``RECORD_CHUNK``; answers the traces whose run was first.

    The others were recorded before (another job or worker): their tags stand, write none.
    Rows go in trace order, so two batches over the same traces (two workers) lock in the
    same order: on PostgreSQL one waits for the other's commit instead of deadlocking.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    ordered = sorted(runs, key=lambda run: run.trace_pk)
    first: set[int] = set()
    for start in range(0, len(ordered), RECORD_CHUNK):
        rows = [
            {
                "project_id": project_id,
                "mapper": mapper,
                "trace_pk": run.trace_pk,
                "status": run.status,
                "n_tags": run.n_tags,
                "attempt": attempt,
                "error": run.error,
                "finished_at": finished_at,
            }
            for run in ordered[start : start + RECORD_CHUNK]
        ]
        stmt = (
            insert(MapperRun)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["project_id", "mapper", "trace_pk"])
            .returning(MapperRun.trace_pk)
        )
        first.update(int(pk) for (pk,) in session.connection().execute(stmt))
    return first


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
