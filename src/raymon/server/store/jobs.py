"""The jobs table: enqueue, claim with a lease, and every fenced update of a claimed job.

The design is Solid Queue's: work is rows in our own schema, so it commits or rolls back
with the transaction that made it (``enqueue`` runs in the caller's transaction: the ingest
path enqueues map jobs with the events that made them). A job's ``key`` is unique, so
enqueueing the same work twice inserts one row (``INSERT ... ON CONFLICT (key) DO NOTHING``
on both databases; a ``None`` key never conflicts).

``claim`` takes due pending jobs and running jobs whose lease expired (their worker died),
sets them running under a new lease and adds one to ``attempt``. On PostgreSQL the rows are
picked with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent claimers never wait for
nor take each other's rows; on SQLite the claim must run in a write session
(``Database.write_session``: ``BEGIN IMMEDIATE``, one writer at a time), which makes the
read-then-update atomic. Every later update of a running job (``heartbeat``, ``complete``,
``retry``, ``park``, ``release``) is fenced by (id, worker, attempt, status running): a
worker whose lease was taken over changes no row and gets ``LeaseLost``.

Done jobs are kept for a while (their key keeps a re-sent input from redoing the work) and
deleted in bounded batches by ``delete_done``. This module decides no policy (backoff,
attempts, which kinds run): the worker does (``engine.worker``). It never logs payloads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from raymon.server.engine.jobs import ClaimedJob, JobSpec, LeaseLost
from raymon.server.store.coltypes import utcnow
from raymon.server.store.models import Job

PENDING, RUNNING, DONE, PARKED = "pending", "running", "done", "parked"
STATUSES = (PENDING, RUNNING, DONE, PARKED)
ERROR_MAX_CHARS = 4000  # a stored error is cut to this many characters
_INSERT_CHUNK = 500  # rows per INSERT statement (SQLite's limit on bound parameters)


class JobRow(NamedTuple):
    """A job as listed (no payload: payloads may hold secrets, e.g. a webhook's settings)."""

    id: int
    project_id: str | None
    kind: str
    key: str | None
    status: str
    attempt: int
    tries: int  # attempts that count against the kind's max_attempts
    last_error: str | None
    run_at: datetime
    lease_until: datetime | None
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _row(job: Any) -> JobRow:
    return JobRow(
        job.id,
        job.project_id,
        job.kind,
        job.key,
        job.status,
        job.attempt,
        job.attempt - job.forgiven,
        job.last_error,
        job.run_at,
        job.lease_until,
        job.worker,
        job.created_at,
        job.started_at,
        job.finished_at,
    )


_ROW_COLUMNS = (
    Job.id,
    Job.project_id,
    Job.kind,
    Job.key,
    Job.status,
    Job.attempt,
    Job.forgiven,
    Job.last_error,
    Job.run_at,
    Job.lease_until,
    Job.worker,
    Job.created_at,
    Job.started_at,
    Job.finished_at,
)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _error_text(error: str | None) -> str | None:
    if error is None:
        return None
    return error if len(error) <= ERROR_MAX_CHARS else error[: ERROR_MAX_CHARS - 1] + "…"


# --- enqueue ------------------------------------------------------------------------------------

# One statement per dialect, built once: executed with a list of rows it is an executemany, which
# SQLAlchemy 2 sends as batched multi-row INSERTs ("insertmanyvalues") from one cached compilation
# and whose RETURNING answers only the rows inserted (a conflicting key answers nothing, on SQLite
# and on PostgreSQL alike). A statement built with ``.values(rows)`` instead is compiled anew for
# every call (each row's values are part of the statement): that cost ingest half its time when
# every event was a mapper's input (bench/README.md, "Engine").
_ENQUEUE = {
    name: dialect.insert(Job.__table__)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(Job.__table__.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _enqueue_statement(session: Session) -> Any:
    return _ENQUEUE["postgresql" if _is_postgresql(session) else "sqlite"]


def enqueue(session: Session, specs: Sequence[JobSpec], *, now: datetime | None = None) -> int:
    """Insert the jobs in the caller's transaction; answer how many rows were new.

    A spec whose ``key`` is already in the table (or twice in ``specs``) inserts nothing:
    ``ON CONFLICT (key) DO NOTHING``. Rows go in key order, so two transactions enqueueing
    overlapping keys lock them in the same order (no deadlock on PostgreSQL).
    """
    if not specs:
        return 0
    now = now or utcnow()
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for spec in sorted(specs, key=lambda s: (s.key is None, s.key or "")):
        if spec.key is not None:
            if spec.key in seen:
                continue
            seen.add(spec.key)
        rows.append(
            {
                "project_id": spec.project_id,
                "kind": spec.kind,
                "key": spec.key,
                "payload": dict(spec.payload),
                "status": PENDING,
                "run_at": spec.run_at or now,
                "attempt": 0,
                "forgiven": 0,
                "created_at": now,
            }
        )
    stmt = _enqueue_statement(session)
    inserted = 0
    for start in range(0, len(rows), _INSERT_CHUNK):
        inserted += len(session.execute(stmt, rows[start : start + _INSERT_CHUNK]).all())
    return inserted


# --- claim ----------------------------------------------------------------------------------------


def _due(kinds: Sequence[str], now: datetime) -> Any:
    return and_(
        Job.kind.in_(list(kinds)),
        or_(
            and_(Job.status == PENDING, Job.run_at <= now),
            and_(Job.status == RUNNING, Job.lease_until < now),
        ),
    )


def has_due(session: Session, kinds: Sequence[str], now: datetime) -> bool:
    """Whether any job of ``kinds`` could be claimed now (a cheap read before a write transaction)."""
    if not kinds:
        return False
    return bool(session.scalar(select(exists().where(_due(kinds, now)))))


def claim(
    session: Session,
    kinds: Sequence[str],
    worker: str,
    now: datetime,
    lease_s: float | Mapping[str, float],
    limit: int,
) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs of ``kinds`` for ``worker``: running, leased, ``attempt + 1``.

    Due: pending with ``run_at <= now``, or running with an expired lease (taken over; the
    previous attempt is fenced out). ``lease_s`` is one duration or one per kind. Oldest
    ``run_at`` first. On SQLite ``session`` must be a write session (``BEGIN IMMEDIATE``).
    """
    if not kinds or limit <= 0:
        return []
    postgres = _is_postgresql(session)
    if not postgres:
        begin = session.connection().get_execution_options().get("raymon_begin")
        if begin != "IMMEDIATE":
            raise RuntimeError("store.jobs.claim on SQLite needs a write session (BEGIN IMMEDIATE)")
    # Pending jobs and expired leases are picked by two queries, each walking its own index in
    # (run_at, id) order and stopping after ``limit`` rows, and merged here: one query with the OR
    # of both read every due job and sorted them all (O(backlog) per claim, under SQLite's write
    # lock: 8 ms with 4,000 pending map jobs). The merged first ``limit`` are the same jobs.
    candidates: list[tuple[Any, int, str]] = []
    for due in (
        and_(Job.status == PENDING, Job.run_at <= now),
        and_(Job.status == RUNNING, Job.lease_until < now),
    ):
        picked = (
            select(Job.run_at, Job.id, Job.kind)
            .where(due, Job.kind.in_(list(kinds)))
            .order_by(Job.run_at, Job.id)
            .limit(limit)
        )
        if postgres:
            picked = picked.with_for_update(skip_locked=True)
        candidates += [(run_at, int(i), str(k)) for run_at, i, k in session.execute(picked)]
    candidates.sort(key=lambda c: (c[0], c[1]))
    kinds_of: dict[int, str] = {i: k for _, i, k in candidates[:limit]}
    if not kinds_of:
        return []
    leases = lease_s if isinstance(lease_s, Mapping) else dict.fromkeys(kinds, float(lease_s))
    claimed: list[ClaimedJob] = []
    # One UPDATE per kind (each kind has its own lease). The picked rows are locked (PostgreSQL)
    # or the whole database is (SQLite), so they are still due.
    for kind in sorted(set(kinds_of.values())):
        lease_until = now + timedelta(seconds=leases[kind])
        stmt = (
            update(Job)
            .where(Job.id.in_([i for i, k in kinds_of.items() if k == kind]))
            .values(
                status=RUNNING,
                worker=worker,
                attempt=Job.attempt + 1,
                lease_until=lease_until,
                started_at=now,
            )
            .returning(
                Job.id, Job.kind, Job.key, Job.project_id, Job.payload, Job.attempt, Job.forgiven, Job.run_at
            )
        )
        for row in session.execute(stmt):
            claimed.append(
                ClaimedJob(
                    id=row.id,
                    kind=row.kind,
                    key=row.key,
                    project_id=row.project_id,
                    payload=row.payload or {},
                    attempt=row.attempt,
                    worker=worker,
                    lease_until=lease_until,
                    tries=row.attempt - row.forgiven,
                )
            )
    claimed.sort(key=lambda job: job.id)
    return claimed


# --- fenced updates of a claimed job ----------------------------------------------------------------


def _fenced(session: Session, job: ClaimedJob, what: str, **values: Any) -> None:
    stmt = (
        update(Job)
        .where(
            Job.id == job.id,
            Job.worker == job.worker,
            Job.attempt == job.attempt,
            Job.status == RUNNING,
        )
        .values(**values)
    )
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"job {job.id} ({job.kind}) attempt {job.attempt} of {job.worker}: cannot {what}")


def heartbeat(session: Session, job: ClaimedJob, now: datetime, lease_s: float) -> datetime:
    """Extend the lease to ``now + lease_s`` and answer it; ``LeaseLost`` if this attempt lost the job."""
    lease_until = now + timedelta(seconds=lease_s)
    _fenced(session, job, "extend its lease", lease_until=lease_until)
    return lease_until


def complete(session: Session, job: ClaimedJob, now: datetime) -> None:
    """Mark the job done (in the caller's transaction: with the job's own writes); ``LeaseLost`` if fenced out."""
    _fenced(session, job, "complete it", status=DONE, finished_at=now, lease_until=None, last_error=None)


def retry(session: Session, job: ClaimedJob, now: datetime, run_at: datetime, error: str | None) -> None:
    """Make the job pending again from ``run_at``, keeping ``error``; ``LeaseLost`` if fenced out."""
    _fenced(
        session,
        job,
        "retry it",
        status=PENDING,
        run_at=run_at,
        lease_until=None,
        last_error=_error_text(error),
    )


def park(session: Session, job: ClaimedJob, now: datetime, error: str) -> None:
    """Park the job with ``error`` (no more runs until re-queued); ``LeaseLost`` if fenced out."""
    _fenced(
        session,
        job,
        "park it",
        status=PARKED,
        finished_at=now,
        lease_until=None,
        last_error=_error_text(error),
    )


def release(session: Session, job: ClaimedJob, now: datetime) -> None:
    """Give the job back unfinished (a worker shutting down): pending now, this attempt not counted."""
    _fenced(
        session, job, "release it", status=PENDING, run_at=now, lease_until=None, forgiven=Job.forgiven + 1
    )


# --- operators: list and re-queue -----------------------------------------------------------------


def list_jobs(
    session: Session,
    project_id: str,
    status: str | None = None,
    *,
    limit: int = 100,
    before_id: int | None = None,
) -> list[JobRow]:
    """The project's jobs (of ``status``, or all), newest first; ``before_id`` pages on."""
    stmt = select(*_ROW_COLUMNS).where(Job.project_id == project_id)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if before_id is not None:
        stmt = stmt.where(Job.id < before_id)
    return [_row(r) for r in session.execute(stmt.order_by(Job.id.desc()).limit(limit))]


def get_job(session: Session, job_id: int, project_id: str | None = None) -> JobRow | None:
    """One job by id (of ``project_id`` when given), or ``None``."""
    stmt = select(*_ROW_COLUMNS).where(Job.id == job_id)
    if project_id is not None:
        stmt = stmt.where(Job.project_id == project_id)
    row = session.execute(stmt).first()
    return None if row is None else _row(row)


def job_payload(session: Session, job_id: int) -> dict[str, Any] | None:
    """A job's payload (for the engine and tests; never answered over the API)."""
    return session.scalar(select(Job.payload).where(Job.id == job_id))


def requeue(session: Session, job_id: int, now: datetime, project_id: str | None = None) -> JobRow | None:
    """Make a parked job pending now with a fresh budget of attempts; ``None`` if it is not parked (or not there).

    ``attempt`` keeps growing (it is the fence); the attempts made so far are forgiven.
    """
    stmt = update(Job).where(Job.id == job_id, Job.status == PARKED)
    if project_id is not None:
        stmt = stmt.where(Job.project_id == project_id)
    changed = session.execute(
        stmt.values(status=PENDING, run_at=now, finished_at=None, lease_until=None, forgiven=Job.attempt)
    ).rowcount  # type: ignore[attr-defined]
    return get_job(session, job_id) if changed else None


def count_by_status(session: Session, kind: str | None = None) -> dict[str, int]:
    """How many jobs (of ``kind``, or all) are in each status."""
    stmt = select(Job.status, func.count()).group_by(Job.status)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    return {status: int(n) for status, n in session.execute(stmt)}


def delete_done(session: Session, finished_before: datetime, limit: int) -> int:
    """Delete at most ``limit`` done jobs finished before ``finished_before``; answer how many."""
    ids = list(
        session.scalars(
            select(Job.id)
            .where(Job.status == DONE, Job.finished_at < finished_before)
            .order_by(Job.finished_at)
            .limit(limit)
        )
    )
    if not ids:
        return 0
    return int(session.execute(delete(Job).where(Job.id.in_(ids))).rowcount)  # type: ignore[attr-defined]
