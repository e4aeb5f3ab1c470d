"""Ingest listeners (the engine's hook) hear of each newly stored event once, after commit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from raymon.server.services import auth
from raymon.server.services.ingest import ingest_records
from raymon.server.settings import Settings
from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.objects import LocalObjectStore
from raymon.wire import Event, text_event


def test_listeners_get_only_new_events_and_a_failing_one_loses_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    database = Database(sqlite_url(tmp_path / "db.sqlite3"))
    database.migrate()
    with database.write_session() as session:
        auth.create_project(session, "p", "p")
    store = LocalObjectStore(tmp_path / "objects")
    heard: list[tuple[str, list[str]]] = []

    def record(project_id: str, events: Sequence[Event]) -> None:
        heard.append((project_id, [e["event_id"] for e in events]))

    def broken(project_id: str, events: Sequence[Event]) -> None:
        raise RuntimeError("listener bug")

    first, second = text_event("p", "t", "info", "a"), text_event("p", "t", "info", "b")
    result = ingest_records(database, store, settings, "p", [first, first], [broken, record])
    assert result.accepted == 1 and heard == [("p", [first["event_id"]])]
    ingest_records(database, store, settings, "p", [first, second], [record])
    assert heard[1] == ("p", [second["event_id"]])
    ingest_records(database, store, settings, "p", [first, second], [record])
    assert len(heard) == 2  # nothing new: nobody is told
    database.dispose()
