"""Jobs: the SQL of the engine's work queue (the minimum the mappers need: ``enqueue``).

The jobs lane owns this module and replaces it at merge with the whole queue (claims, leases,
completion); this is only ``enqueue(session, specs) -> int`` with that lane's contract: insert
the specs in the caller's transaction, a key already present inserting nothing. It never
commits (the caller's write transaction does, with whatever made the work).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from raymon.server.engine.jobs import JobSpec
from raymon.server.store.coltypes import utcnow
from raymon.server.store.models import Job
from raymon.server.store.write_sqlite import sqlite_ts

_SQLITE_INSERT = (
    "INSERT INTO jobs (project_id, kind, key, payload, status, run_at, attempts, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
)


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
    if session.get_bind().dialect.name == "postgresql":
        # One statement with many parameter sets: compiled once and cached (a ``.values(rows)``
        # statement is compiled anew for every batch, at about 1 ms per row).
        stmt = pg_insert(Job).on_conflict_do_nothing(index_elements=["key"]).returning(Job.id)
        return len(session.execute(stmt, rows).all())
    # SQLite: the driver's executemany, as the ingest writer does (no per-row SQLAlchemy work).
    result = session.connection().exec_driver_sql(
        _SQLITE_INSERT,
        [
            (
                r["project_id"],
                r["kind"],
                r["key"],
                orjson.dumps(r["payload"]).decode(),
                r["status"],
                sqlite_ts(r["run_at"]),
                r["attempts"],
                sqlite_ts(r["created_at"]),
            )
            for r in rows
        ],
    )
    return int(result.rowcount)
