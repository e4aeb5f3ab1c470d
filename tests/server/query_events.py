"""Helpers for the query API tests: a project of their own on the shared real server, and wire events.

Tests share C's session-wide ``server`` fixture (tests/server/conftest.py, a
real ``raymon server`` process on SQLite or PostgreSQL); each query test module
makes its own project there so the data it loads is all it sees.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from raymon.api import RaymonAPI
from raymon.wire import Event


@dataclass
class QueryProject:
    """A project on a real server, with its admin key."""

    server: Any  # conftest.RaymonServer
    project_id: str
    admin_key: str

    @classmethod
    def create(cls, server: Any, name: str) -> QueryProject:
        handle = server.new_project(f"{name} {uuid.uuid4().hex[:6]}")
        return cls(server, handle.project_id, handle.admin_key)

    @property
    def backend(self) -> str:
        return str(self.server.backend)

    def api(self, key: str | None = None) -> RaymonAPI:
        return RaymonAPI(self.server.url, self.admin_key if key is None else key)

    def new_key(self, scopes: str) -> str:
        return str(self.server.key(self.project_id_handle, scopes))

    @property
    def project_id_handle(self) -> Any:
        from conftest import ProjectHandle

        return ProjectHandle(self.project_id, self.admin_key)

    def ingest(self, events: list[Event]) -> None:
        with self.api() as api:
            for start in range(0, len(events), 2000):
                chunk = [{**e, "project_id": self.project_id} for e in events[start : start + 2000]]
                resp = api.ingest(self.project_id, chunk)
                assert resp.ok, resp.text
                body = resp.json()
                assert not body.get("rejected"), body


def event(trace_id: str, kind: str, ts: str, **fields: Any) -> Event:
    """A wire event with a fixed timestamp (so tests control trace order); the project is set at ingest."""
    return {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "project_id": "set-at-ingest",
        "trace_id": trace_id,
        "ts": ts,
        "kind": kind,
        **fields,
    }


def tags_event(trace_id: str, ts: str, tags: dict[str, Any], type_: str = "label") -> Event:
    return event(
        trace_id,
        "tags",
        ts,
        tags=[{"name": n, "value": v, "type": type_, "group": None} for n, v in tags.items()],
    )
