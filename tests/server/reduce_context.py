"""A real Backend for the reduce lane's tests, and a JobContext over it until the jobs lane's worker is merged.

``ReduceContext.finishing()`` is ``backend.writing()``: one write transaction, as the
worker's (which also marks the job done) will be.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from raymon.server.backend import Backend, build_backend
from raymon.server.engine.jobs import ClaimedJob, JobSpec
from raymon.server.settings import Settings
from raymon.server.store import accounts
from raymon.server.store.db import Database, Session

_IDS = itertools.count(1)


@dataclass
class ReduceContext:
    backend: Backend
    job: ClaimedJob
    heartbeats: list[datetime] = field(default_factory=list)

    def heartbeat(self) -> None:
        self.heartbeats.append(datetime.now(UTC))

    def finishing(self) -> AbstractContextManager[Session]:
        return self.backend.writing()


def context_for(backend: Backend, spec: JobSpec) -> ReduceContext:
    job = ClaimedJob(
        id=next(_IDS),
        kind=spec.kind,
        key=spec.key,
        project_id=spec.project_id,
        payload=dict(spec.payload),
        attempt=1,
        worker="test",
        lease_until=datetime.now(UTC) + timedelta(minutes=5),
    )
    return ReduceContext(backend, job)


def make_backend(url: str) -> Backend:
    database = Database(url)
    backend = build_backend(
        Settings(data_dir=Path(tempfile.mkdtemp(prefix="raymon-reduce-"))), database=database
    )
    database.migrate()
    return backend


def add_project(backend: Backend, project_id: str) -> None:
    with backend.writing() as session:
        accounts.insert_project(session, project_id, project_id, datetime.now(UTC))


def tag_event(project_id: str, trace_id: str, ts: datetime, tags: list[Mapping[str, Any]]) -> dict[str, Any]:
    from raymon.wire import tags_event

    event = tags_event(project_id, trace_id, [dict(t) for t in tags])
    event["ts"] = ts.isoformat(timespec="microseconds")
    return event


def chunks(items: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
