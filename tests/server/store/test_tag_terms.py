"""The index of tag terms (PostgreSQL): triggers keep every trace's terms, and a page read from it is the filter's."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from raymon.server.backend import build_backend
from raymon.server.services import traces
from raymon.server.services.tagfilter import evaluate, parse
from raymon.server.settings import Settings
from raymon.server.store import retention, tag_terms, tagfilter_merge
from raymon.server.store.db import Database
from raymon.server.store.models import Project, Tag, Trace
from raymon.server.store.objects import LocalObjectStore
from raymon.server.store.writes import write_events

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

PID = "terms"
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def database(backend: str, postgres_databases: Any) -> Iterator[Database]:
    url = postgres_databases.create()
    db = Database(url)
    db.migrate()
    with db.session() as session:
        session.add(Project(id=PID, name=PID))
    yield db
    db.dispose()
    postgres_databases.drop(url)


def _tags_event(trace_id: str, second: int, tags: dict[str, Any]) -> dict[str, Any]:
    return {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "project_id": PID,
        "trace_id": trace_id,
        "ts": (BASE + timedelta(seconds=second)).isoformat(timespec="microseconds"),
        "kind": "tags",
        "tags": [{"name": n, "value": v, "type": "label", "group": None} for n, v in tags.items()],
    }


def _write(db: Database, tmp_path: Path, events: list[dict[str, Any]]) -> None:
    with db.write_session() as session:
        write_events(session, PID, events, LocalObjectStore(tmp_path / "objects"), 65536)


def _terms_of(db: Database, trace_id: str) -> set[int]:
    with db.session() as session:
        pk = session.scalar(select(Trace.id).where(Trace.project_id == PID, Trace.trace_id == trace_id))
        row = session.execute(text("SELECT terms FROM trace_terms WHERE trace_pk = :pk"), {"pk": pk}).first()
        return set(row[0]) if row else set()


def _hashes(db: Database, pairs: dict[str, str]) -> set[int]:
    with db.session() as session:
        return {
            int(session.scalar(text("SELECT hashtextextended(:t, 0)"), {"t": tag_terms.term(PID, n, v)}))
            for n, v in pairs.items()
        }


def _reset(db: Database) -> None:
    with db.session() as session:
        session.execute(delete(Tag))
        session.execute(delete(Trace))


def test_every_writer_path_gives_a_trace_the_terms_of_its_text_values(
    database: Database, tmp_path: Path
) -> None:
    """New traces (COPY), tags added to a stored trace (upsert), a changed value: the terms hold each one."""
    _reset(database)
    _write(database, tmp_path, [_tags_event("t1", 0, {"client": "c7", "app": "v2", "latency": 12})])
    assert _terms_of(database, "t1") == _hashes(database, {"client": "c7", "app": "v2"})  # no numbers
    _write(database, tmp_path, [_tags_event("t1", 5, {"region": "eu"})])  # a later batch, the same trace
    assert _terms_of(database, "t1") == _hashes(database, {"client": "c7", "app": "v2", "region": "eu"})
    _write(database, tmp_path, [_tags_event("t1", 9, {"client": "c8"})])  # last write wins: c8
    held = _terms_of(database, "t1")
    assert _hashes(database, {"client": "c8", "app": "v2", "region": "eu"}) <= held
    with database.session() as session:  # what the trace holds is c8; the stale c7 term may stay
        assert session.scalar(select(Tag.value_text).where(Tag.name == "client")) == "c8"


def test_deleting_traces_deletes_their_terms(database: Database, tmp_path: Path) -> None:
    _reset(database)
    _write(database, tmp_path, [_tags_event(f"t{i}", i, {"client": f"c{i}"}) for i in range(3)])
    with database.session() as session:
        session.execute(delete(Trace).where(Trace.trace_id.in_(["t0", "t1"])))
    with database.session() as session:
        left = session.execute(text("SELECT count(*) FROM trace_terms")).scalar_one()
    assert left == 1 and _terms_of(database, "t2")


def test_the_migration_fills_the_terms_of_tags_stored_before(database: Database, tmp_path: Path) -> None:
    _reset(database)
    _write(database, tmp_path, [_tags_event(f"t{i}", i, {"a": f"a{i % 2}", "b": "b"}) for i in range(4)])
    with database.engine.begin() as conn:
        tag_terms.drop(conn)
    database.engine.dispose()  # ``available`` is asked once per connection: new ones
    with database.session() as session:
        assert not tag_terms.available(session)
    with database.engine.begin() as conn:
        tag_terms.create(conn)
    database.engine.dispose()
    with database.session() as session:
        assert tag_terms.available(session)
    for i in range(4):
        assert _terms_of(database, f"t{i}") == _hashes(database, {"a": f"a{i % 2}", "b": "b"})


def _pages(db: Database, expression: str, limit: int) -> list[str]:
    backend = build_backend(Settings(data_dir=Path(tempfile.mkdtemp())), database=db)
    out: list[str] = []
    cursor = None
    while True:
        page = traces.list_traces(
            backend,
            PID,
            traces.TraceFilter(expression=expression),
            limit=limit,
            cursor=cursor,
            with_tags=False,
        )
        out += [t["trace_id"] for t in page["traces"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return out


TAGS = {f"t{i:03d}": {"a": f"a{i % 3}", "b": f"b{(i // 3) % 4}", "c": f"c{i % 5}"} for i in range(90)}


@pytest.fixture
def filled(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    """90 traces of three independent tags, and a density sample this small set fills."""
    _reset(database)
    _write(database, tmp_path, [_tags_event(t, i, tags) for i, (t, tags) in enumerate(TAGS.items())])
    monkeypatch.setattr(tagfilter_merge, "SAMPLE", 3)
    return database


def _expected(expression: str) -> list[str]:
    tree = parse(expression)
    return [t for t, tags in TAGS.items() if evaluate(tree, tags)][::-1]


def test_a_filter_of_common_equalities_is_read_from_the_terms(filled: Database) -> None:
    with filled.session() as session:
        plan = tag_terms.plan(session, PID, parse("a==a1 && b==b2 && c==c0"), "desc", None)
    assert plan is not None and [n.name for n in plan.nodes] == ["a", "b", "c"]
    for expression in ("a==a1 && b==b2", "a==a1 && b==b2 && c!=c0", "a==a0 && b==b9", "a==a2 && c==c4 && b"):
        assert _pages(filled, expression, 2) == _expected(expression), expression


def _stale_a1_on_b2(db: Database) -> None:
    """``a`` a1 -> a9 on the traces with ``b`` b2: their a1 term stays, and a1 stays common elsewhere."""
    with db.session() as session:
        on_b2 = select(Tag.trace_pk).where(Tag.name == "b", Tag.value_text == "b2")
        session.execute(
            update(Tag)
            .where(Tag.name == "a", Tag.value_text == "a1", Tag.trace_pk.in_(on_b2))
            .values(value_text="a9")
        )


def _stale_tags() -> dict[str, dict[str, str]]:
    return {
        t: {**tags, "a": "a9"} if tags["a"] == "a1" and tags["b"] == "b2" else tags
        for t, tags in TAGS.items()
    }


def test_a_stale_term_never_lets_a_trace_through(filled: Database) -> None:
    """A tag whose value changed keeps its old term: the trace is a candidate, and the filter's probes drop it."""
    _stale_a1_on_b2(filled)
    with filled.session() as session:
        plan = tag_terms.plan(session, PID, parse("a==a1 && b==b2"), "desc", None)
        assert plan is not None  # the terms plan is taken, and its candidates are the stale traces
        assert len(tag_terms.candidates(session, PID, plan) or []) == len(_expected("a==a1 && b==b2")) > 0
    assert _pages(filled, "a==a1 && b==b2", 3) == []
    tree = parse("a==a9 && b==b2")
    assert (
        _pages(filled, "a==a9 && b==b2", 3)
        == [t for t, tags in _stale_tags().items() if evaluate(tree, tags)][::-1]
    )


def test_too_many_candidates_fall_back_to_the_merge(
    filled: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tag_terms, "MAX_CANDIDATES", 2)
    with filled.session() as session:
        plan = tag_terms.plan(session, PID, parse("a==a1 && c==c2"), "desc", None)
        assert plan is not None and tag_terms.candidates(session, PID, plan) is None
    assert _pages(filled, "a==a1 && c==c2", 2) == _expected("a==a1 && c==c2")


def test_retention_deletes_the_terms_of_the_traces_it_deletes(filled: Database, tmp_path: Path) -> None:
    """Traces first received before the cut (their ``last_ts`` is the tag's ts: one second each) lose their terms."""
    cut = BASE + timedelta(seconds=30)
    while True:
        with filled.session() as session:
            batch = retention.delete_expired(session, LocalObjectStore(tmp_path / "objects"), PID, cut, 1000)
        if not batch.more:
            break
    with filled.session() as session:
        kept = set(session.execute(text("SELECT trace_pk FROM trace_terms")).scalars())
        assert kept == set(session.scalars(select(Trace.id)))
        assert len(kept) == 60


def _count(db: Database, expression: str) -> tuple[int, bool]:
    backend = build_backend(Settings(data_dir=Path(tempfile.mkdtemp())), database=db)
    found = traces.count_traces(backend, PID, traces.TraceFilter(expression=expression))
    return found.count, found.exact


def test_a_count_of_common_equalities_is_exact_from_the_terms(
    filled: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window of 10 candidates could only say "at least": the index's candidates hold every match."""
    monkeypatch.setattr(traces, "COUNT_WINDOW", 10)
    for expression in ("a==a1 && b==b2", "a==a1 && b==b2 && c!=c0", "a==a2 && c==c4 && b"):
        assert _count(filled, expression) == (len(_expected(expression)), True), expression
    _stale_a1_on_b2(filled)  # stale terms: the traces are candidates, not in the count
    assert _count(filled, "a==a1 && b==b2") == (0, True)
    monkeypatch.setattr(tag_terms, "MAX_CANDIDATES", 2)  # too many candidates: the bounded window again
    assert _count(filled, "a==a0 && b==b1")[1] is False
