"""The minimum of ``store.jobs`` the reduce lane needs before the jobs lane is merged: ``enqueue``.

The jobs lane owns this module (its version replaces this one at merge). ``enqueue``
inserts jobs by key in the caller's transaction; a key already present inserts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from raymon.server.engine.jobs import JobSpec
from raymon.server.store.coltypes import utcnow
from raymon.server.store.models import Job


def enqueue(session: Session, specs: Sequence[JobSpec]) -> int:
    """Insert ``specs`` (on conflict on key: nothing); answers how many rows were inserted."""
    if not specs:
        return 0
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    inserted = 0
    for spec in specs:
        result = session.execute(
            dialect_insert(Job)
            .values(
                kind=spec.kind,
                key=spec.key,
                project_id=spec.project_id,
                payload=dict(spec.payload),
                status="pending",
                run_at=spec.run_at or now,
                attempts=0,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
        inserted += result.rowcount or 0  # type: ignore[attr-defined]
    return inserted
