"""What the alert tests share until the jobs lane's worker lands: a JobContext over a real Backend,
a loop running the due jobs of the ``jobs`` table, HTTP receivers on 127.0.0.1 (real threads),
issue events, and a stored manifest row.

``run_due`` is the smallest honest worker: it claims each due pending job (attempt + 1), calls
its kind's handler, completes it (``finishing()`` is ``backend.writing()`` plus the job's
completion), moves it by ``RetryLater.after_s`` or parks it on ``PermanentFailure``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select, update

from raymon.server.backend import Backend
from raymon.server.engine.events import IssueEvent
from raymon.server.engine.jobs import ClaimedJob, PermanentFailure, RetryLater
from raymon.server.store.db import Session
from raymon.server.store.models import Job, Manifest

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves: ``backend.clock``."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)  # signatures carry it: receivers check it against theirs

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class AlertsJobContext:
    backend: Backend
    job: ClaimedJob
    finished: bool = False

    def heartbeat(self) -> None:
        pass

    @contextmanager
    def finishing(self) -> Iterator[Session]:
        with self.backend.writing() as session:
            yield session
            _complete(session, self.job.id, self.backend.clock())
        self.finished = True


def _complete(session: Session, job_id: int, now: datetime) -> None:
    session.execute(
        update(Job).where(Job.id == job_id).values(status="done", finished_at=now, lease_until=None)
    )


@dataclass
class Outcome:
    kind: str
    key: str | None
    result: str  # done, retry, parked
    error: str | None = None
    after_s: float | None = None


def run_due(backend: Backend, handlers: Mapping[str, Callable[..., None]]) -> list[Outcome]:
    """Run once every pending job of ``handlers``' kinds due at ``backend.clock()`` (oldest first)."""
    now = backend.clock()
    with backend.reading() as session:
        due = session.scalars(
            select(Job)
            .where(Job.status == "pending", Job.run_at <= now, Job.kind.in_(list(handlers)))
            .order_by(Job.id)
        ).all()
    outcomes = []
    for row in due:
        with backend.writing() as session:
            session.execute(
                update(Job).where(Job.id == row.id).values(attempt=row.attempt + 1, worker="test")
            )
        job = ClaimedJob(
            row.id, row.kind, row.key, row.project_id, dict(row.payload or {}), row.attempt + 1, "test", now
        )
        ctx = AlertsJobContext(backend, job)
        try:
            handlers[row.kind](ctx)
        except RetryLater as exc:
            after = exc.after_s if exc.after_s is not None else 5.0
            with backend.writing() as session:
                session.execute(
                    update(Job)
                    .where(Job.id == row.id)
                    .values(run_at=now + timedelta(seconds=after), last_error=exc.reason)
                )
            outcomes.append(Outcome(row.kind, row.key, "retry", exc.reason, after))
            continue
        except PermanentFailure as exc:
            with backend.writing() as session:
                session.execute(
                    update(Job).where(Job.id == row.id).values(status="parked", last_error=str(exc))
                )
            outcomes.append(Outcome(row.kind, row.key, "parked", str(exc)))
            continue
        if not ctx.finished:
            with backend.writing() as session:
                _complete(session, row.id, now)
        outcomes.append(Outcome(row.kind, row.key, "done"))
    return outcomes


def jobs(backend: Backend, kind: str | None = None) -> list[Job]:
    with backend.reading() as session:
        stmt = select(Job).order_by(Job.id)
        if kind is not None:
            stmt = stmt.where(Job.kind == kind)
        return list(session.scalars(stmt).all())


def store_manifest(backend: Backend, project_id: str, version: int, alert: Sequence[dict[str, Any]]) -> None:
    """A stored manifest (the manifest lane's table) with these ``actions.alert`` entries."""
    parsed = {"project_id": project_id, "actions": {"alert": list(alert)}}
    with backend.writing() as session:
        session.add(Manifest(project_id=project_id, version=version, source="# test", parsed=parsed))


def issue(issue_id: int | str, *, check: str = "drift", slice_: str = "", **more: Any) -> dict[str, Any]:
    """An issue as ``issues_ls`` shows it (the fields the alert channels read)."""
    return {
        "issue_id": issue_id,
        "slice": slice_,
        "reducer": "houseprices@1.0",
        "component": "LotArea",
        "check": check,
        "metric": "psi",
        "value": 0.31,
        "threshold": 0.2,
        "status": "open",
        "priority": 2,
        "opened_at": "2026-12-01T11:55:00Z",
        **more,
    }


def event(
    project_id: str, issue_json: dict[str, Any], type_: str = "opened", at: datetime = T0
) -> IssueEvent:
    return IssueEvent(
        event_id=f"{issue_json['issue_id']}:{type_}:{at.isoformat()}",
        type=type_,  # type: ignore[arg-type]
        project_id=project_id,
        issue=issue_json,
        at=at,
    )


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP receiver on 127.0.0.1 in a thread; answers the statuses of ``script`` in turn, then ``default``."""

    script: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    default: int = 200
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                answer = receiver.script.pop(0) if receiver.script else receiver.default
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
