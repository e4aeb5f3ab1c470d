"""Retention cleanup on SQLite and PostgreSQL: old traces go with their tags, texts, objects and files, in batches.

Data is ingested through the ingest service with a clock the test moves (so the events
ledger's ``received_at`` is old too); objects are over the inline limit, so their bodies
are files of the object store. A trace still active after the cutoff is kept whole, and
another project's data is untouched.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jobs_backend import MovableClock, engine_backend
from query_events import event, tags_event
from sqlalchemy import text

import raymon.types as rt
from raymon.server.backend import Backend
from raymon.server.engine import cleanup
from raymon.server.engine.worker import Worker
from raymon.server.services.ingest import ingest_records
from raymon.server.store import jobs as job_store
from raymon.server.store import retention as retention_store
from raymon.server.store.models import Project

OLD = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _ingest(backend: Backend, project_id: str, records: list[dict[str, Any]]) -> None:
    for record in records:
        record["project_id"] = project_id
    result = ingest_records(backend, project_id, records)
    assert result.accepted == len(records), result.rejected


def _trace(trace_id: str, ts: datetime) -> list[dict[str, Any]]:
    stamp = ts.isoformat()
    body = rt.Native(list(range(40))).to_jcr()  # over the 64-byte inline limit: a file in the object store
    return [
        tags_event(trace_id, stamp, {"client": "a", "n": 1}),
        event(trace_id, "text", stamp, level="info", message=f"request {trace_id}"),
        event(trace_id, "object", stamp, ref="features", data=body),
    ]


def _store_files(backend: Backend) -> set[str]:
    root = backend.settings.objects_dir
    return {str(p.relative_to(root)) for p in root.rglob("*.json")}


@pytest.fixture
def filled(backend: str, postgres_databases: Any, tmp_path: Path) -> Any:
    clock = MovableClock(OLD)
    with engine_backend(
        backend, postgres_databases, tmp_path, clock, inline_object_max_bytes=64, cleanup_batch_rows=7
    ) as instance:
        with instance.writing() as session:
            session.add(Project(id="q", name="q"))
        for project in ("p", "q"):
            _ingest(instance, project, [e for i in range(12) for e in _trace(f"old-{i}", OLD)])
        _ingest(instance, "p", _trace("long-lived", OLD))  # its actual comes late: kept
        clock.now = NOW
        records = [e for i in range(3) for e in _trace(f"new-{i}", NOW)]
        records.append(tags_event("long-lived", (NOW - timedelta(days=1)).isoformat(), {"actual": 3}))
        _ingest(instance, "p", records)
        with instance.writing() as session:
            for end in (OLD, NOW):
                session.execute(
                    text(
                        "INSERT INTO reduce_results (project_id, reducer, slice, window_start, window_end, created_at) "
                        "VALUES ('p', 'r', '', :s, :e, :e)"
                    ),
                    {"s": end - timedelta(minutes=1), "e": end},
                )
        yield instance, clock


def _counts(backend: Backend, project_id: str) -> dict[str, int]:
    with backend.reading() as session:
        return retention_store.count_older(session, project_id, NOW + timedelta(days=3650))


def test_a_retention_run_deletes_at_most_the_batch_per_table(filled: Any) -> None:
    backend, _clock = filled
    batch = cleanup.retention_cleanup(backend, "p", 30, NOW, batch_rows=5)
    assert batch.more and all(n <= 5 for n in batch.deleted.values())
    assert batch.deleted["objects"] == batch.deleted["tags"] == batch.deleted["texts"] == 5
    with pytest.raises(ValueError, match="retention_days"):
        cleanup.retention_cleanup(backend, "p", 0, NOW)


def test_the_daily_retention_job_deletes_old_data_files_included_and_keeps_the_rest(filled: Any) -> None:
    backend, clock = filled
    before_q = _counts(backend, "q")
    files_before = _store_files(backend)
    worker = Worker(
        backend,
        cleanup.cleanup_kinds(),
        [cleanup.retention_scheduler(lambda pid: 30 if pid == "p" else None)],
        "w",
    )
    ran = worker.run_due()
    assert ran >= 3  # 12 old traces, 7 rows per table per run: the job re-enqueued itself
    cutoff = NOW - timedelta(days=30)
    with backend.reading() as session:
        assert retention_store.count_older(session, "p", cutoff) == dict.fromkeys(
            ("objects", "tags", "texts", "traces", "events", "results", "cells", "summaries", "rollups"), 0
        )
        kept = sorted(session.scalars(text("SELECT trace_id FROM traces WHERE project_id = 'p'")))
        kept_objects = session.scalar(text("SELECT COUNT(*) FROM objects WHERE project_id = 'p'"))
        kept_tags = session.scalar(
            text(
                "SELECT COUNT(*) FROM tags t JOIN traces r ON r.id = t.trace_pk WHERE r.trace_id = 'long-lived'"
            )
        )
        results = list(session.scalars(text("SELECT window_end FROM reduce_results WHERE project_id = 'p'")))
        statuses = job_store.count_by_status(session, cleanup.RETENTION)
    assert kept == ["long-lived", "new-0", "new-1", "new-2"] and kept_objects == 4 and kept_tags == 3
    assert len(results) == 1
    assert statuses == {"done": ran}
    assert _counts(backend, "q") == before_q  # another project's data is untouched
    gone = files_before - _store_files(backend)
    assert len(gone) == 12 and all(name.startswith("p/") for name in gone)
    for trace_id in ("new-0", "long-lived"):  # the kept objects' bodies still load
        with backend.reading() as session:
            key = session.scalar(
                text(
                    "SELECT o.store_key FROM objects o JOIN traces t ON t.id = o.trace_pk WHERE t.trace_id = :t "
                    "AND t.project_id = 'p'"
                ),
                {"t": trace_id},
            )
        assert backend.object_store.get(key)

    clock.advance(3600)
    assert worker.run_due() == 0  # once a day per project
    clock.advance(86400)
    assert worker.run_due() == 1  # the next day's run, nothing left to delete


def test_retention_deletes_the_reduce_queue_rows_of_the_grouped_tags_it_deletes(filled: Any) -> None:
    from raymon.server.store import reduce as reduce_store

    backend, _clock = filled
    grouped = [
        {"name": f"x{i}", "value": float(i), "type": "profile-input", "group": "g@1"} for i in range(3)
    ]
    _ingest(
        backend,
        "p",
        [
            event("g-old", "tags", OLD.isoformat(), tags=grouped),
            event("g-new", "tags", NOW.isoformat(), tags=grouped),
        ],
    )
    with backend.reading() as session:
        assert reduce_store.count_unclaimed(session, "p", "g@1") == 6
    while cleanup.retention_cleanup(backend, "p", 30, NOW, batch_rows=5).more:
        pass
    with backend.reading() as session:
        queued = session.execute(
            text(
                "SELECT t.name, r.trace_id FROM reduce_queue q LEFT JOIN tags t ON t.id = q.tag_id "
                "LEFT JOIN traces r ON r.id = t.trace_pk ORDER BY t.name"
            )  # fmt: skip
        ).all()
    assert [tuple(row) for row in queued] == [("x0", "g-new"), ("x1", "g-new"), ("x2", "g-new")]


def test_old_done_jobs_are_deleted_in_batches_and_parked_ones_kept(filled: Any) -> None:
    backend, clock = filled
    from raymon.server.engine.jobs import JobKind, JobSpec

    def fail(ctx: Any) -> None:
        raise RuntimeError("no")

    worker = Worker(
        backend, [JobKind("noop", lambda ctx: None), JobKind("bad", fail, max_attempts=1)], [], "w"
    )
    with backend.writing() as session:
        job_store.enqueue(
            session,
            [JobSpec("noop", f"n{i}", "p") for i in range(16)] + [JobSpec("bad", "b", "p")],
            now=clock(),
        )
    assert worker.run_due() == 17
    clock.advance(8 * 86400)  # past RAYMON_JOBS_KEEP_DONE_HOURS (a week)
    cleaner = Worker(backend, cleanup.cleanup_kinds(), [cleanup.jobs_cleanup_scheduler()], "c")
    assert cleaner.run_due() == 3  # 16 done jobs, 7 per batch
    with backend.reading() as session:
        assert job_store.count_by_status(session, "noop") == {}
        assert job_store.count_by_status(session, "bad") == {"parked": 1}
