"""When an API key was last used: one write per key a minute, never a write per request (both databases).

A real Backend on SQLite and PostgreSQL; the statements reaching the database are counted
with SQLAlchemy's cursor events, and the minute is a clock the test moves.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from reduce_context import add_project, make_backend
from sqlalchemy import event

from raymon.server.backend import Backend
from raymon.server.services import auth
from raymon.server.services.key_usage import KeyUsage
from raymon.server.store.db import sqlite_url


@pytest.fixture
def backend_with_key(backend: str, postgres_databases: Any) -> Iterator[tuple[Backend, str, list[str]]]:
    url = (
        postgres_databases.create()
        if backend == "postgresql"
        else sqlite_url(Path(tempfile.mkdtemp(prefix="raymon-keys-")) / "k.sqlite3")
    )
    b = make_backend(url)
    add_project(b, "shop")
    row, key = auth.add_key(b, "shop", "ingest,read", name="logger")
    updates: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            updates.append(statement)

    event.listen(b.database.engine, "before_cursor_execute", count)
    yield b, key, updates
    b.close()
    if backend == "postgresql":
        postgres_databases.drop(url)


class Clock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


def _last_used(b: Backend) -> datetime | None:
    (row,) = auth.keys(b, "shop")
    return row.last_used_at


def test_a_use_is_written_once_a_minute_whatever_the_requests(backend_with_key: Any) -> None:
    b, key, updates = backend_with_key
    clock = Clock()
    b.clock = lambda: clock.wall
    b.key_usage = usage = KeyUsage(monotonic=lambda: clock.mono)
    principal = auth.principal_for_key(b, key)
    assert principal is not None and _last_used(b) is None
    first = clock.wall
    assert usage.seen(b, principal.id) is True
    usage.close(b)  # waits for the background writer
    assert _last_used(b) == first and len(updates) == 1
    for _ in range(50):  # fifty requests within the minute: no write, not even queued
        clock.advance(1)
        assert usage.seen(b, principal.id) is False
    usage.close(b)
    assert _last_used(b) == first and len(updates) == 1 and usage.writes == 1
    clock.advance(11)  # 61 s after the first write
    assert usage.seen(b, principal.id) is True
    usage.close(b)
    assert _last_used(b) == first + timedelta(seconds=61) and len(updates) == 2


def test_a_time_never_moves_back_and_the_api_answer_carries_it(backend_with_key: Any) -> None:
    b, key, updates = backend_with_key
    principal = auth.principal_for_key(b, key)
    assert principal is not None
    later = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    b.clock = lambda: later
    b.key_usage.seen(b, principal.id)
    b.key_usage.close(b)
    other = KeyUsage()  # another process, whose clock says earlier
    b.clock = lambda: later - timedelta(minutes=5)
    other.seen(b, principal.id)
    other.close(b)
    assert _last_used(b) == later
    (row,) = auth.keys(b, "shop")
    assert auth.key_json(row)["last_used_at"] == later.isoformat()
