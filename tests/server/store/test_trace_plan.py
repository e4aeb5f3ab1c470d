"""The planner (``store.tagfilter_sql``) steers the plan only: filtered trace pages are the same with and without it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from throwaway_databases import throwaway_postgres_database

from raymon.server.backend import Backend, build_backend
from raymon.server.services import traces
from raymon.server.services.tagfilter import evaluate, parse
from raymon.server.settings import Settings
from raymon.server.store import tagfilter_sql
from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.models import Base, Project, Tag, Trace
from raymon.server.store.tagfilter_sql import to_clause
from raymon.server.store.writes import numeric_reading

PROJECT = "p1"
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _trace_tags(i: int) -> dict[str, Any]:
    """120 traces: ``common`` on most, ``rare`` on a few, numbers and text mixed."""
    tags: dict[str, Any] = {"common": f"c{i % 2}", "n": i % 7}
    if i % 40 == 3:
        tags["rare"] = "r1"
    if i % 15 == 0:
        tags["rare"] = "r2"
    if i % 3:
        tags["mid"] = f"m{i % 4}"
    return tags


TRACES = {f"t{i:03d}": _trace_tags(i) for i in range(120)}


def _fill(db: Database) -> None:
    with db.session() as session:
        session.add(Project(id=PROJECT, name=PROJECT))
        session.flush()
        for i, (trace_id, tags) in enumerate(TRACES.items()):
            # Times out of id order, with ties, so the page order is not the id order.
            first = BASE + timedelta(seconds=(i * 37) % 50)
            trace = Trace(project_id=PROJECT, trace_id=trace_id, first_ts=first, last_ts=first)
            session.add(trace)
            session.flush()
            for name, value in tags.items():
                session.add(
                    Tag(
                        project_id=PROJECT,
                        trace_pk=trace.id,
                        name=name,
                        type="label",
                        value_num=numeric_reading(value),
                        value_text=value if isinstance(value, str) else None,
                        ts=first,
                    )
                )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def filled_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(sqlite_url(Path(tmp_path_factory.mktemp("filterplan")) / "raymon.db"))
        Base.metadata.create_all(db.engine)
        _fill(db)
        yield db
        db.dispose()
    else:
        with throwaway_postgres_database(
            request.getfixturevalue("postgres_url"), "raymon_filterplan"
        ) as db:  # the session server, or skip
            Base.metadata.create_all(db.engine)
            _fill(db)
            yield db


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    """A cap that the test data straddles: ``rare`` (3, 8 or 11 traces) is under it, ``common`` (60) over."""
    monkeypatch.setattr(tagfilter_sql, "MATCH_COUNT_CAP", 15)
    return 15


def _hint(db: Database, expression: str) -> list[Any]:
    with db.session() as session:
        return tagfilter_sql.rare_tag_hint(
            session, PROJECT, parse(expression), "C" if db.is_postgresql else None
        )


def test_a_rare_condition_gets_a_hint_and_a_common_one_none(filled_db: Database, small_cap: int) -> None:
    assert len(_hint(filled_db, "rare==r1 && common==c1")) == 1
    assert len(_hint(filled_db, "common==c1 && rare")) == 1
    assert _hint(filled_db, "common==c1 && mid==m1") == []
    assert _hint(filled_db, "rare==r1 || common==c1") == []  # no condition every match must meet
    assert _hint(filled_db, "!(rare==r1)") == []


def test_the_hint_picks_the_rarest_condition(filled_db: Database, small_cap: int) -> None:
    (clause,) = _hint(filled_db, "rare==r2 && rare==r1")
    with filled_db.session() as session:
        picked = set(session.scalars(select(Trace.trace_id).where(Trace.project_id == PROJECT, clause)))
    assert picked == {t for t, tags in TRACES.items() if tags.get("rare") == "r1"}


_BACKENDS: dict[int, Backend] = {}


def _backend(db: Database) -> Backend:
    """A backend on ``db`` (its object store in a temporary directory: these traces carry no objects)."""
    if id(db) not in _BACKENDS:
        _BACKENDS[id(db)] = build_backend(Settings(data_dir=Path(tempfile.mkdtemp())), database=db)
    return _BACKENDS[id(db)]


def _all_pages(db: Database, expression: str, limit: int) -> list[str]:
    pages: list[str] = []
    cursor = None
    while True:
        page = traces.list_traces(
            _backend(db),
            PROJECT,
            traces.TraceFilter(expression=expression),
            sort="time",  # the rare-tag hint steers the time-ordered walk
            limit=limit,
            cursor=cursor,
            with_tags=False,
        )
        pages += [t["trace_id"] for t in page["traces"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def _reference_order(db: Database, expression: str) -> list[str]:
    """The filter's traces newest first, by the unhinted clause (``to_clause``)."""
    stmt = (
        select(Trace.trace_id)
        .where(Trace.project_id == PROJECT, to_clause(parse(expression), PROJECT))
        .order_by(Trace.first_ts.desc(), Trace.id.desc())
    )
    with db.session() as session:
        return list(session.scalars(stmt))


conditions = st.sampled_from(
    ["rare==r1", "rare==r2", "rare", "common==c0", "common!=c0", "mid==m1", "mid", "n>=3", "n<2", "!mid"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(terms=st.lists(conditions, min_size=1, max_size=3), limit=st.sampled_from([1, 4, 50]))
def test_hinted_pages_hold_exactly_the_filters_traces_in_order(
    filled_db: Database, small_cap: int, terms: list[str], limit: int
) -> None:
    expression = " && ".join(terms)
    expected = [t for t in _reference_order(filled_db, expression)]
    assert {t for t in expected} == {t for t, tags in TRACES.items() if evaluate(parse(expression), tags)}
    assert _all_pages(filled_db, expression, limit) == expected
