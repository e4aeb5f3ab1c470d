"""Ingest listeners (the engine's hook) hear of each newly stored event once, after commit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from raymon.server.backend import build_backend
from raymon.server.services import auth
from raymon.server.services.ingest import ingest_records
from raymon.server.settings import Settings
from raymon.wire import Event, text_event


def test_listeners_get_only_new_events_and_a_failing_one_loses_nothing(tmp_path: Path) -> None:
    backend = build_backend(Settings(data_dir=tmp_path))
    backend.database.migrate()
    with backend.writing() as session:
        auth.create_project(session, "p", "p")
    heard: list[tuple[str, list[str]]] = []

    def record(project_id: str, events: Sequence[Event]) -> None:
        heard.append((project_id, [e["event_id"] for e in events]))

    def broken(project_id: str, events: Sequence[Event]) -> None:
        raise RuntimeError("listener bug")

    first, second = text_event("p", "t", "info", "a"), text_event("p", "t", "info", "b")
    backend.ingest_listeners[:] = [broken, record]
    result = ingest_records(backend, "p", [first, first])
    assert result.accepted == 1 and heard == [("p", [first["event_id"]])]
    backend.ingest_listeners[:] = [record]
    ingest_records(backend, "p", [first, second])
    assert heard[1] == ("p", [second["event_id"]])
    ingest_records(backend, "p", [first, second])
    assert len(heard) == 2  # nothing new: nobody is told
    backend.close()
