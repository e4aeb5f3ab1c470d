"""The jobs table's SQL: enqueue (the minimum the alerts lane needs; the jobs lane's module replaces it).

``enqueue`` inserts each spec in the caller's transaction; a key already present inserts
nothing (on conflict do nothing), so enqueueing the same work twice makes one row. It never
claims, leases or completes a job (``engine.worker`` and the jobs lane's store do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from raymon.server.engine.jobs import JobSpec
from raymon.server.store.coltypes import utcnow
from raymon.server.store.models import Job


def enqueue(session: Session, specs: Sequence[JobSpec]) -> int:
    """Insert the jobs whose key is not present yet; answer how many rows were inserted."""
    inserted = 0
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for spec in specs:
        now = utcnow()
        stmt = insert(Job).values(
            kind=spec.kind,
            key=spec.key,
            project_id=spec.project_id,
            payload=dict(spec.payload),
            status="pending",
            run_at=spec.run_at or now,
            attempts=0,
            created_at=now,
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=["key"]).returning(Job.id)
        inserted += session.execute(stmt).first() is not None
    return inserted
