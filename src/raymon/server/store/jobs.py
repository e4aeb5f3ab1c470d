"""Jobs: the SQL of the engine's work queue (the minimum the mappers need: ``enqueue``).

The jobs lane owns this module and replaces it at merge with the whole queue (claims, leases,
completion); this is only ``enqueue(session, specs) -> int`` with that lane's contract: insert
the specs in the caller's transaction, a key already present inserting nothing. It never
commits (the caller's write transaction does, with whatever made the work).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from raymon.server.engine.jobs import JobSpec
from raymon.server.store.coltypes import utcnow
from raymon.server.store.models import Job


def enqueue(session: Session, specs: Sequence[JobSpec]) -> int:
    """Insert ``specs`` as pending jobs; a key already present (or twice in ``specs``): nothing. Answers how many rows."""
    if not specs:
        return 0
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "project_id": spec.project_id,
            "kind": spec.kind,
            "key": spec.key,
            "payload": dict(spec.payload),
            "status": "pending",
            "run_at": spec.run_at or now,
            "attempts": 0,
            "created_at": now,
        }
        for spec in sorted(specs, key=lambda s: s.key or "")  # key order: concurrent writers lock alike
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Job).values(rows).on_conflict_do_nothing(index_elements=["key"]).returning(Job.id)
    return len(session.execute(stmt).all())
