"""Properties of ``write_events`` on real stores (SQLite, and PostgreSQL when configured): order and
re-sends never change what is stored."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.models import IngestedEvent, Project, Tag, TextLine, Trace
from raymon.server.store.objects import LocalObjectStore
from raymon.server.store.writes import numeric_reading, write_events

BASE = datetime(2026, 1, 1, tzinfo=UTC)
PID = "p"

_TMP = Path(tempfile.mkdtemp(prefix="raymon-writes-"))
OBJECTS = LocalObjectStore(_TMP / "objects")


@pytest.fixture(scope="module")
def database(backend: str, postgres_databases: Any) -> Iterator[Database]:
    """A migrated store of the backend with project ``p``; module-scoped, so hypothesis reuses it."""
    url = postgres_databases.create() if backend == "postgresql" else sqlite_url(_TMP / "w.sqlite3")
    db = Database(url)
    db.migrate()
    with db.session() as session:
        session.add(Project(id=PID, name="p"))
    yield db
    db.dispose()
    if backend == "postgresql":
        postgres_databases.drop(url)


def _event(trace: int, second: int, kind: str, value: int) -> dict[str, object]:
    event: dict[str, object] = {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "project_id": PID,
        "trace_id": f"t{trace}",
        "ts": (BASE + timedelta(seconds=second)).isoformat(timespec="microseconds"),
        "kind": kind,
    }
    if kind == "tags":
        event["tags"] = [{"name": "score", "value": value, "type": "metric", "group": None}]
    else:
        event["level"], event["message"] = "info", str(value)
    return event


events_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(["tags", "text"]), st.integers(-50, 50)),
    min_size=1,
    max_size=25,
).map(lambda specs: [_event(t, i, kind, v) for i, (t, kind, v) in enumerate(specs)])  # distinct ts


def _reset(database: Database) -> None:
    with database.session() as session:
        for model in (Tag, TextLine, Trace, IngestedEvent):
            session.execute(delete(model))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=events_strategy, data=st.data())
def test_any_order_and_any_resends_store_the_same_rows(
    database: Database, events: list[dict[str, object]], data: st.DataObject
) -> None:
    _reset(database)
    resent = events + data.draw(st.lists(st.sampled_from(events), max_size=10))
    shuffled = data.draw(st.permutations(resent))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(shuffled)), max_size=4)))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    accepted = duplicates = 0
    for batch in batches:
        with database.write_session() as session:
            result = write_events(session, PID, batch, OBJECTS, 65536)
        accepted += result.accepted
        duplicates += result.duplicates
    assert (accepted, duplicates) == (len(events), len(resent) - len(events))

    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(IngestedEvent)) == len(events)
        texts = sorted(session.scalars(select(TextLine.message)))
        traces = {t.trace_id: (t.first_ts, t.last_ts) for t in session.scalars(select(Trace))}
        scores = dict(
            session.execute(select(Trace.trace_id, Tag.value_num).join(Tag, Tag.trace_pk == Trace.id)).all()
        )
    assert texts == sorted(str(e["message"]) for e in events if e["kind"] == "text")
    for trace_id in {str(e["trace_id"]) for e in events}:
        times = [datetime.fromisoformat(str(e["ts"])) for e in events if e["trace_id"] == trace_id]
        assert traces[trace_id] == (min(times), max(times))
        tagged = [e for e in events if e["trace_id"] == trace_id and e["kind"] == "tags"]
        if tagged:
            latest = max(tagged, key=lambda e: str(e["ts"]))
            assert scores[trace_id] == latest["tags"][0]["value"]  # type: ignore[index]


def test_numeric_reading_of_tag_values() -> None:
    assert numeric_reading(3) == 3.0 and numeric_reading(-2.5) == -2.5
    assert numeric_reading("120") == 120.0 and numeric_reading("-1e3") == -1000.0
    assert (
        numeric_reading("abc") is None and numeric_reading("nan") is None and numeric_reading("inf") is None
    )
    assert numeric_reading("") is None and numeric_reading(True) is None


def test_a_rolled_back_write_leaves_nothing_and_the_same_events_store_later(database: Database) -> None:
    """PostgreSQL stages rows in temporary tables: a failed transaction must not leave them for the next."""
    _reset(database)
    events = [_event(0, 0, "tags", 1), _event(0, 1, "text", 2), _event(1, 2, "tags", 3)]
    with pytest.raises(RuntimeError), database.write_session() as session:
        write_events(session, PID, events, OBJECTS, 65536)
        raise RuntimeError("the commit never happens")
    with database.write_session() as session:
        result = write_events(session, PID, events, OBJECTS, 65536)
    assert (result.accepted, result.duplicates) == (3, 0)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 2
        assert session.scalar(select(func.count()).select_from(Trace)) == 2
        assert list(session.scalars(select(TextLine.message))) == ["2"]


def test_two_writes_in_one_transaction_each_store_their_own_events(database: Database) -> None:
    """Nothing of the first write's staged rows may reach the second (same trace, same tag name)."""
    _reset(database)
    first, second = [_event(0, 0, "tags", 1)], [_event(0, 1, "tags", 2), _event(0, 2, "text", 3)]
    with database.write_session() as session:
        results = [write_events(session, PID, batch, OBJECTS, 65536) for batch in (first, second, first)]
    assert [(r.accepted, r.duplicates) for r in results] == [(1, 0), (2, 0), (0, 1)]
    with database.session() as session:
        assert list(session.scalars(select(Tag.value_num))) == [2.0]
        assert session.scalar(select(func.count()).select_from(IngestedEvent)) == 3
        trace = session.scalars(select(Trace)).one()
        assert (trace.first_ts, trace.last_ts) == (BASE, BASE + timedelta(seconds=2))


def test_a_writer_racing_another_for_the_same_events_and_trace_stores_each_once(database: Database) -> None:
    """PostgreSQL copies new ledger rows and new traces' tags straight in: a concurrent transaction
    holding the same event and trace must turn that into the upsert path, not an error or a twin."""
    import threading

    _reset(database)
    shared = _event(0, 0, "tags", 1)
    first = [shared, _event(0, 1, "text", 2)]
    second = [shared, _event(0, 2, "tags", 3), _event(1, 3, "tags", 4)]
    results: list[Any] = []
    errors: list[BaseException] = []

    def write_second() -> None:
        try:
            with database.write_session() as session:
                results.append(write_events(session, PID, second, OBJECTS, 65536))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with database.write_session() as session:
        assert write_events(session, PID, first, OBJECTS, 65536).accepted == 2
        racer = threading.Thread(target=write_second)
        racer.start()
        racer.join(0.5)  # PostgreSQL: blocked on the uncommitted ledger row; SQLite: on the write lock
    racer.join(30)
    assert not racer.is_alive() and not errors, errors
    assert (results[0].accepted, results[0].duplicates) == (2, 1)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(IngestedEvent)) == 4
        scores = dict(
            session.execute(select(Trace.trace_id, Tag.value_num).join(Tag, Tag.trace_pk == Trace.id)).all()
        )
        trace = session.scalars(select(Trace).where(Trace.trace_id == "t0")).one()
    assert scores == {"t0": 3.0, "t1": 4.0}
    assert (trace.first_ts, trace.last_ts) == (BASE, BASE + timedelta(seconds=2))
