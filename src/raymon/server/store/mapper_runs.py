"""Mapper runs: that a mapper ran on a trace, one row per (project, mapper, trace); every SQL statement about them.

The row is inserted (on conflict do nothing) in the transaction that writes the mapper's tags,
so of two runs of one mapper on one trace (two inputs' jobs, two workers) only the first
writes: ``record_many`` leaves the others out of the traces it answers, which then write
nothing. Functions take the caller's session first and answer typed rows; they never commit.
They run on the session's connection (Core, no ORM unit of work): a batch of runs is one
statement (its rows as arrays or one JSON text).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from raymon.server.store.models import MapperRun, Trace
from raymon.server.store.write_sqlite import sqlite_ts


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


class NewRun(NamedTuple):
    """One run to record: its trace, how it ended and how many tags it wrote."""

    trace_pk: int
    status: str  # done | failed
    n_tags: int
    error: str | None


# One constant statement per database, the rows as arrays (PostgreSQL) or one JSON text (SQLite):
# a batch's multi-row ``INSERT ... VALUES`` was a new statement for SQLAlchemy to compile on every
# call, most of a mapper batch's CPU. In trace order, so two batches over the same traces (two
# workers) lock in the same order: on PostgreSQL one waits for the other's commit instead of
# deadlocking.
_RECORD_PG = (
    "INSERT INTO mapper_runs (project_id, mapper, trace_pk, status, n_tags, attempt, error, finished_at) "
    "SELECT %s, %s, run.trace_pk, run.status, run.n_tags, %s, run.error, %s "
    "FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::text[]) "
    "AS run (trace_pk, status, n_tags, error) ORDER BY run.trace_pk "
    "ON CONFLICT (project_id, mapper, trace_pk) DO NOTHING RETURNING trace_pk"
)
# ``WHERE true``: SQLite's parser needs it between ``INSERT ... SELECT`` and ``ON CONFLICT``.
_RECORD_SQLITE = (
    "INSERT INTO mapper_runs (project_id, mapper, trace_pk, status, n_tags, attempt, error, finished_at) "
    "SELECT ?, ?, value ->> 0, value ->> 1, value ->> 2, ?, value ->> 3, ? FROM json_each(?) WHERE true "
    "ON CONFLICT (project_id, mapper, trace_pk) DO NOTHING RETURNING trace_pk"
)


def record_many(
    session: Session,
    project_id: str,
    mapper: str,
    runs: Sequence[NewRun],
    *,
    attempt: int,
    finished_at: datetime,
) -> set[int]:
    """Record a batch's runs in one statement; answers the traces whose run was the first.

    The others were recorded before (another job or worker): their tags stand, write none. On
    PostgreSQL a concurrent first run's uncommitted row makes this wait for that transaction,
    then leave the trace out; on SQLite writers take turns.
    """
    if not runs:
        return set()
    ordered = sorted(runs, key=lambda run: run.trace_pk)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        params: tuple[Any, ...] = (
            project_id,
            mapper,
            attempt,
            finished_at,
            [run.trace_pk for run in ordered],
            [run.status for run in ordered],
            [run.n_tags for run in ordered],
            [run.error for run in ordered],
        )
        result = conn.exec_driver_sql(_RECORD_PG, params)
    else:
        rows = orjson.dumps([[run.trace_pk, run.status, run.n_tags, run.error] for run in ordered]).decode()
        result = conn.exec_driver_sql(
            _RECORD_SQLITE, (project_id, mapper, attempt, sqlite_ts(finished_at), rows)
        )
    return {int(pk) for (pk,) in result}


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
