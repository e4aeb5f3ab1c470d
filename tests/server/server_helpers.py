"""Small builders shared by the server tests: wire events with chosen timestamps, and row counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from raymon.server.store.models import DataObject, IngestedEvent, Tag, TextLine, Trace
from raymon.wire import Event

BASE_TS = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def ts(seconds: float = 0) -> str:
    return (BASE_TS + timedelta(seconds=seconds)).isoformat()


def text(project_id: str, trace_id: str, message: str = "hello", at: float = 0, level: str = "info") -> Event:
    return {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "project_id": project_id,
        "trace_id": trace_id,
        "ts": ts(at),
        "kind": "text",
        "level": level,
        "message": message,
    }


def tags(
    project_id: str, trace_id: str, values: dict[str, Any], at: float = 0, type_: str = "label"
) -> Event:
    return {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "project_id": project_id,
        "trace_id": trace_id,
        "ts": ts(at),
        "kind": "tags",
        "tags": [{"name": k, "value": v, "type": type_, "group": None} for k, v in values.items()],
    }


def obj(project_id: str, trace_id: str, ref: str, data: Any, at: float = 0) -> Event:
    return {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "project_id": project_id,
        "trace_id": trace_id,
        "ts": ts(at),
        "kind": "object",
        "ref": ref,
        "data": {"type": "raymon.types.Native", "params": {"data": data}},
    }


def counts(server: Any, project_id: str) -> dict[str, int]:
    """Rows per core table for one project, read straight from the server's database."""
    database = server.database()
    try:
        with database.session() as session:
            return {
                name: int(
                    session.scalar(
                        select(func.count()).select_from(model).where(model.project_id == project_id)
                    )
                    or 0
                )
                for name, model in (
                    ("events", IngestedEvent),
                    ("traces", Trace),
                    ("tags", Tag),
                    ("texts", TextLine),
                    ("objects", DataObject),
                )
            }
    finally:
        database.dispose()
