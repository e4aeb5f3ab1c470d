"""The jobs table and the worker, on real SQLite and PostgreSQL databases.

Exactly once under concurrent claimers, a crashed worker's job taken over when its lease
expires, a zombie's late completion changing nothing, retries with backoff, parking and
re-queueing, release at shutdown, and no secret in a stored error.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from jobs_backend import MovableClock, effects, engine_backend, job_ids, record_effect
from sqlalchemy import text

from raymon.server.backend import Backend
from raymon.server.engine.jobs import JobKind, JobSpec, LeaseLost, PermanentFailure, RetryLater
from raymon.server.engine.worker import Worker, backoff_s, redact
from raymon.server.store import jobs as job_store


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def db(backend: str, postgres_databases: Any, tmp_path: Path, clock: MovableClock) -> Any:
    with engine_backend(backend, postgres_databases, tmp_path, clock) as instance:
        yield instance


def _enqueue(backend: Backend, *specs: JobSpec) -> int:
    with backend.writing() as session:
        return job_store.enqueue(session, list(specs), now=backend.clock())


def _status(backend: Backend, job_id: int) -> job_store.JobRow:
    with backend.reading() as session:
        row = job_store.get_job(session, job_id)
    assert row is not None
    return row


def test_enqueueing_a_key_twice_inserts_one_job_and_a_rolled_back_enqueue_none(db: Backend) -> None:
    assert _enqueue(db, JobSpec("t", "a"), JobSpec("t", "a"), JobSpec("t", "b"), JobSpec("t", None)) == 3
    assert _enqueue(db, JobSpec("t", "a"), JobSpec("t", None)) == 1  # a None key never conflicts
    with pytest.raises(RuntimeError), db.writing() as session:
        job_store.enqueue(session, [JobSpec("t", "c")])
        raise RuntimeError("the ingest transaction fails")
    with db.reading() as session:
        assert job_store.count_by_status(session) == {"pending": 4}


def test_claim_on_sqlite_outside_a_write_session_is_refused(backend: str, db: Backend) -> None:
    if backend != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    _enqueue(db, JobSpec("t", "a"))
    with pytest.raises(RuntimeError, match="BEGIN IMMEDIATE"), db.reading() as session:
        job_store.claim(session, ["t"], "w", db.clock(), 60, 1)


def test_many_claimers_at_once_run_every_job_exactly_once(db: Backend) -> None:
    total = 120
    _enqueue(db, *[JobSpec("effect", f"job-{i}") for i in range(total)])
    kinds = [JobKind("effect", record_effect, lease_s=60)]
    workers = [Worker(db, kinds, [], f"w{i}", concurrency=3, poll_interval_s=0.02) for i in range(4)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and sum(effects(db).values()) < total:
        time.sleep(0.1)
    for worker in workers:
        worker.stop()
    counted = effects(db)
    assert sorted(counted) == job_ids(db) and set(counted.values()) == {1}
    assert sum(w.stats.done for w in workers) == total
    assert sum(1 for w in workers if w.stats.done) >= 2  # the work was really shared
    with db.reading() as session:
        assert job_store.count_by_status(session) == {"done": total}


def test_a_job_whose_lease_expired_is_taken_over_and_the_first_attempt_is_fenced_out(
    db: Backend, clock: MovableClock
) -> None:
    _enqueue(db, JobSpec("effect", "only"))
    with db.writing() as session:
        (first,) = job_store.claim(session, ["effect"], "A", clock(), 30, 5)
    with db.writing() as session:  # A holds a live lease: nobody else gets the job
        assert job_store.claim(session, ["effect"], "B", clock(), 30, 5) == []
    clock.advance(31)
    with db.writing() as session:
        (second,) = job_store.claim(session, ["effect"], "B", clock(), 30, 5)
    assert (first.attempt, second.attempt, second.id) == (1, 2, first.id)
    for late in (job_store.heartbeat, job_store.complete):
        with pytest.raises(LeaseLost), db.writing() as session:
            late(session, first, clock(), 30) if late is job_store.heartbeat else late(
                session, first, clock()
            )
    with db.writing() as session:
        job_store.heartbeat(session, second, clock(), 30)
        job_store.complete(session, second, clock())
    row = _status(db, first.id)
    assert (row.status, row.worker, row.attempt) == ("done", "B", 2)


def test_a_zombies_late_finishing_block_commits_nothing(db: Backend, clock: MovableClock) -> None:
    _enqueue(db, JobSpec("effect", "z"))
    zombie = Worker(db, [JobKind("effect", record_effect, lease_s=10)], [], "zombie")
    (job,) = zombie.claim(1)
    clock.advance(11)
    taker = Worker(db, [JobKind("effect", record_effect, lease_s=10)], [], "taker")
    (taken,) = taker.claim(1)
    taker.run_job(taken)
    zombie.run_job(job)  # runs the handler late: its INSERT is rolled back with the fenced completion
    assert effects(db) == {job.id: 1}
    assert zombie.stats.lost == 1 and zombie.stats.done == 0 and taker.stats.done == 1
    with db.reading() as session:
        assert session.scalar(text("SELECT worker FROM effects")) == "taker"


def test_a_failing_job_is_retried_with_growing_backoff_then_parked_with_its_error(
    db: Backend, clock: MovableClock
) -> None:
    calls: list[int] = []

    def failing(ctx: Any) -> None:
        calls.append(ctx.job.attempt)
        raise ValueError("cannot reach https://user:pw@hooks.example.com/T000/B000/secret?token=x now")

    kind = JobKind("flaky", failing, max_attempts=4, backoff_s=10, backoff_max_s=25)
    worker = Worker(db, [kind], [], "w", rng=random.Random(1))
    (job_id,) = [_enqueue(db, JobSpec("flaky", "f")) and job_ids(db)[0]]
    delays = []
    for _ in range(3):
        assert worker.run_due() == 1
        row = _status(db, job_id)
        assert row.status == "pending"
        delays.append((row.run_at - clock()).total_seconds())
        assert worker.run_due() == 0  # not due yet
        clock.advance(delays[-1])
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 12.5 <= delays[2] <= 25  # doubled, capped
    assert worker.run_due() == 1
    row = _status(db, job_id)
    assert (row.status, row.attempt, calls) == ("parked", 4, [1, 2, 3, 4])
    assert (
        row.last_error is not None and "ValueError" in row.last_error and "(attempt 4 of 4)" in row.last_error
    )
    assert (
        "secret" not in row.last_error
        and "pw" not in row.last_error
        and "hooks.example.com" in row.last_error
    )
    clock.advance(3600)
    assert worker.run_due() == 0  # parked: never run again by itself

    with db.writing() as session:
        requeued = job_store.requeue(session, job_id, clock())
    assert requeued is not None and (requeued.status, requeued.tries) == ("pending", 0)
    assert worker.run_due() == 1
    row = _status(db, job_id)
    assert (row.status, row.attempt, row.tries) == ("pending", 5, 1)  # a fresh budget, the fence still grows


def test_retry_later_is_honoured_exactly_and_a_permanent_failure_parks_at_once(
    db: Backend, clock: MovableClock
) -> None:
    def later(ctx: Any) -> None:
        raise RetryLater("the actual is not there yet", after_s=7)

    def broken(ctx: Any) -> None:
        raise PermanentFailure("the mapper was removed from the manifest")

    worker = Worker(db, [JobKind("later", later), JobKind("broken", broken)], [], "w")
    _enqueue(db, JobSpec("later", "l"), JobSpec("broken", "b"))
    assert worker.run_due() == 2
    with db.reading() as session:
        rows = {row.kind: row for row in job_store.list_jobs(session, "p") + _no_project(session)}
    assert (rows["later"].run_at - clock()).total_seconds() == 7
    assert rows["broken"].status == "parked"
    assert rows["broken"].last_error == "PermanentFailure: the mapper was removed from the manifest"


def _no_project(session: Any) -> list[job_store.JobRow]:
    ids = [int(i) for i in session.scalars(text("SELECT id FROM jobs WHERE project_id IS NULL"))]
    return [row for i in ids if (row := job_store.get_job(session, i)) is not None]


def test_a_job_whose_last_attempt_never_finished_is_parked_not_run_again(
    db: Backend, clock: MovableClock
) -> None:
    ran: list[int] = []
    kind = JobKind("crashy", lambda ctx: ran.append(ctx.job.attempt), max_attempts=2, lease_s=5)
    _enqueue(db, JobSpec("crashy", "c"))
    for name in ("dies-1", "dies-2"):  # two workers claim it and die (never finish)
        Worker(db, [kind], [], name).claim(1)
        clock.advance(6)
    survivor = Worker(db, [kind], [], "survivor")
    assert survivor.run_due() == 1
    (row,) = [_status(db, i) for i in job_ids(db)]
    assert ran == [] and row.status == "parked" and row.last_error is not None
    assert "never finished" in row.last_error


def test_stopping_a_worker_releases_its_unfinished_job_without_counting_the_attempt(db: Backend) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(ctx: Any) -> None:
        started.set()
        release.wait(30)
        record_effect(ctx)

    _enqueue(db, JobSpec("slow", "s"))
    worker = Worker(db, [JobKind("slow", slow)], [], "leaving", poll_interval_s=0.02, shutdown_grace_s=0.2)
    worker.start()
    assert started.wait(30)
    worker.stop()
    (row,) = [_status(db, i) for i in job_ids(db)]
    assert (row.status, row.attempt, row.tries) == ("pending", 1, 0) and worker.stats.released == 1
    release.set()  # the abandoned thread finishes late: fenced out
    time.sleep(0.3)
    assert effects(db) == {}
    other = Worker(db, [JobKind("slow", record_effect)], [], "next")
    assert other.run_due() == 1 and effects(db) == {row.id: 1}


def test_a_claim_takes_a_batch_per_thread_runs_each_once_and_a_stop_releases_the_queued_ones(
    db: Backend,
) -> None:
    started, release = threading.Event(), threading.Event()

    def first_waits(ctx: Any) -> None:
        if ctx.job.key == "b0":
            started.set()
            release.wait(30)
        record_effect(ctx)

    _enqueue(db, *[JobSpec("batched", f"b{i}") for i in range(5)])
    kinds = [JobKind("batched", first_waits)]
    worker = Worker(
        db, kinds, [], "batcher", concurrency=1, claim_batch=4, poll_interval_s=0.02, shutdown_grace_s=0.2
    )
    worker.start()
    assert started.wait(30)
    assert (
        worker.stats.claimed == 4 and len(worker.running_jobs) == 4
    )  # one claim, four jobs queued on one thread
    worker.stop()  # b0 still running, b1-b3 queued behind it: all released, no attempt counted
    rows = sorted((_status(db, i) for i in job_ids(db)), key=lambda r: r.key or "")
    assert [(r.key, r.status, r.tries) for r in rows] == [(f"b{i}", "pending", 0) for i in range(5)]
    release.set()
    time.sleep(0.3)
    assert effects(db) == {}  # b0's late completion is fenced out
    other = Worker(db, kinds, [], "next", concurrency=2, claim_batch=3, poll_interval_s=0.02).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(effects(db)) < 5:
        time.sleep(0.05)
    other.stop()
    assert sorted(effects(db)) == job_ids(db) and set(effects(db).values()) == {1}


def test_a_long_job_keeps_its_lease_with_heartbeats(db: Backend, clock: MovableClock) -> None:
    beats: list[Any] = []

    def long(ctx: Any) -> None:
        for _ in range(3):
            clock.advance(4)  # each step takes most of the 5 s lease
            ctx.heartbeat()
            with db.reading() as session:
                beats.append(job_store.get_job(session, ctx.job.id).lease_until)  # type: ignore[union-attr]
        record_effect(ctx)

    _enqueue(db, JobSpec("long", "l"))
    worker = Worker(db, [JobKind("long", long, lease_s=5)], [], "w")
    (job,) = worker.claim(1)
    worker.run_job(job)
    assert effects(db) == {job.id: 1} and beats == sorted(beats) and len(set(beats)) == 3


def test_schedulers_of_many_workers_enqueue_each_key_once(db: Backend) -> None:
    def every_minute(backend: Backend, now: Any) -> list[JobSpec]:
        return [JobSpec("effect", f"tick:{now:%Y-%m-%dT%H:%M}", "p")]

    workers = [Worker(db, [JobKind("effect", record_effect)], [every_minute], f"w{i}") for i in range(3)]
    assert [w.schedule() for w in workers] == [1, 0, 0]
    assert sum(w.run_due() for w in workers) == 1


def test_backoff_doubles_from_the_first_delay_and_stays_under_the_cap() -> None:
    kind = JobKind("k", lambda ctx: None, backoff_s=2, backoff_max_s=30)
    rng = random.Random(7)
    for tries, (low, high) in {1: (1, 2), 2: (2, 4), 3: (4, 8), 10: (15, 30)}.items():
        assert all(low <= backoff_s(kind, tries, rng) <= high for _ in range(50))


def test_redaction_cuts_urls_to_their_host() -> None:
    assert (
        redact("POST https://a:b@hooks.slack.com/services/T/B/X failed")
        == "POST https://hooks.slack.com/… failed"
    )
    assert redact("no url here") == "no url here"
