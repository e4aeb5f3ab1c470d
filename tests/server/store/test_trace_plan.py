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
from throwaway_databases import filled_database

from raymon.server.backend import Backend, build_backend
from raymon.server.services import traces
from raymon.server.services.tagfilter import evaluate, parse
from raymon.server.settings import Settings
from raymon.server.store import tag_terms, tagfilter_merge, tagfilter_sql
from raymon.server.store.db import Database
from raymon.server.store.models import Project, Tag, Trace
from raymon.server.store.tagfilter_sql import to_clause
from raymon.server.store.writes import numeric_reading

PROJECT = "p1"
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _trace_tags(i: int) -> dict[str, Any]:
    """120 traces: ``common`` on most, ``rare`` on a few, numbers and text mixed.

    ``a``, ``b`` and ``d`` are common and (nearly) independent, so that conjunctions of two
    to four ``==`` conditions match few traces or none: the merge plan's cases.
    """
    tags: dict[str, Any] = {"common": f"c{i % 2}", "n": i % 7, "a": f"a{i % 3}", "b": f"b{(i // 2) % 3}"}
    if i % 5:
        tags["d"] = f"d{(i // 6) % 2}"
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
    with filled_database(request, tmp_path_factory, "filterplan", _fill) as db:
        yield db


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    """A cap that the test data straddles: ``rare`` (3, 8 or 11 traces) is under it, ``common`` (60) over."""
    monkeypatch.setattr(tagfilter_sql, "MATCH_COUNT_CAP", 15)
    return 15


@pytest.fixture
def small_sample(monkeypatch: pytest.MonkeyPatch) -> int:
    """A density sample the test data can fill: the merge plan is planned for 120 traces as for millions."""
    monkeypatch.setattr(tagfilter_merge, "SAMPLE", 4)
    return 4


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


def _merge_plan(db: Database, expression: str) -> tagfilter_merge.MergePlan | None:
    with db.session() as session:
        return tagfilter_merge.plan_merge(session, PROJECT, parse(expression), "desc", None)


def test_common_equalities_get_a_merge_plan_and_others_none(filled_db: Database, small_sample: int) -> None:
    plan = _merge_plan(filled_db, "a==a1 && common==c0 && b==b2 && n>=3")
    assert plan is not None and len(plan.merged) >= 2
    assert set(plan.merged) <= {parse("a==a1"), parse("common==c0"), parse("b==b2")}
    assert _merge_plan(filled_db, "a==a1 && n>=3") is None  # one equality: nothing to merge
    assert _merge_plan(filled_db, "a==a1 || b==b2") is None  # an || is planned per operand
    assert _merge_plan(filled_db, "rare==r1 && a==a1") is None  # rare from here: driven, not merged


def test_the_merge_is_what_sqlite_runs(filled_db: Database, small_sample: int) -> None:
    """SQLite reads the merged ranges side by side (a merge, no sort) and stops after the page."""
    if filled_db.is_postgresql:
        pytest.skip("the SQLite plan")
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((statement, parameters))

    from sqlalchemy import event

    event.listen(filled_db.engine, "before_cursor_execute", record)
    try:
        _received_pages(filled_db, "a==a1 && b==b2 && common==c0", 3, "desc")
    finally:
        event.remove(filled_db.engine, "before_cursor_execute", record)
    page, parameters = next(s for s in statements if "INTERSECT" in s[0])
    with filled_db.engine.connect() as conn:
        plan = " / ".join(
            str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + page, parameters).all()
        )
    assert "MERGE (INTERSECT)" in plan and "TEMP B-TREE" not in plan, plan


def _received_pages(db: Database, expression: str, limit: int, order: str) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        page = traces.list_traces(
            _backend(db),
            PROJECT,
            traces.TraceFilter(expression=expression),
            order=order,  # type: ignore[arg-type]
            limit=limit,
            cursor=cursor,
            with_tags=False,
        )
        out += [t["trace_id"] for t in page["traces"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def _browse_both_ways(db: Database, expression: str, limit: int) -> tuple[list[str], list[str]]:
    """Every page newest first by ``next_cursor``, then back from the last page by ``previous_cursor``."""
    flt = traces.TraceFilter(expression=expression)
    pages: list[list[str]] = []
    page = traces.browse_traces(_backend(db), PROJECT, flt, limit=limit)
    while True:
        pages.append([t["trace_id"] for t in page.traces])
        if page.next_cursor is None:
            break
        page = traces.browse_traces(_backend(db), PROJECT, flt, limit=limit, after=page.next_cursor)
    back: list[list[str]] = [pages[-1]]
    while page.previous_cursor is not None:
        page = traces.browse_traces(_backend(db), PROJECT, flt, limit=limit, before=page.previous_cursor)
        back.insert(0, [t["trace_id"] for t in page.traces])
    return [t for p in pages for t in p], [t for p in back for t in p]


merge_conditions = st.sampled_from(
    [
        "a==a0",
        "a==a1",
        "b==b1",
        "b==b2",
        "d==d0",
        "d==d1",
        "common==c0",
        "common==c1",
        "a!=a2",
        "b!=b0",
        "rare==r2",
        "rare!=r1",  # rare and no ``==``: a received-order page reads it from its index (the hint)
        "rare",
        "n>=3",
        "n<2",
        "mid==m1",
        "d",
        "!mid",
    ]
)


@st.composite
def filters(draw: st.DrawFn) -> str:
    """Up to four conditions joined by ``&&`` / ``||`` (``&&`` binding tighter), sometimes grouped."""
    terms = draw(st.lists(merge_conditions, min_size=1, max_size=4))
    expression = terms[0]
    for term in terms[1:]:
        expression += draw(st.sampled_from([" && ", " && ", " || "])) + term
    if draw(st.booleans()) and len(terms) > 2:
        head, _, tail = expression.partition(" && ")
        if tail:
            expression = f"{head} && ({tail})"
    return expression


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expression=filters(), limit=st.sampled_from([1, 3, 7, 50]), terms=st.booleans())
def test_received_pages_hold_exactly_the_filters_traces_both_ways(
    filled_db: Database, small_sample: int, small_cap: int, expression: str, limit: int, terms: bool
) -> None:
    """Newest and oldest first by cursor, and back by the UI's previous cursor: the reference's traces, in order.

    On PostgreSQL, with ``terms`` the newest-first pages of common ``==`` conditions are read
    from the index of tag terms (every estimate here is under its threshold); without, by the merge.
    """
    tree = parse(expression)
    expected = [t for t, tags in TRACES.items() if evaluate(tree, tags)]  # received order: t000, t001, ...
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tag_terms, "MAX_ESTIMATE", tag_terms.MAX_ESTIMATE if terms else -1.0)
        assert _received_pages(filled_db, expression, limit, "desc") == expected[::-1]
        assert _received_pages(filled_db, expression, limit, "asc") == expected
        forward, back = _browse_both_ways(filled_db, expression, limit)
        assert forward == back == expected[::-1]
    assert set(_reference_order(filled_db, expression)) == set(expected)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expression=filters(), limit=st.sampled_from([1, 3, 50]), terms=st.booleans())
def test_time_ordered_pages_are_the_same_with_and_without_the_index_of_terms(
    filled_db: Database, small_sample: int, small_cap: int, expression: str, limit: int, terms: bool
) -> None:
    """On PostgreSQL, with ``terms`` a filter of common ``==`` conditions sorts the index's candidates by time."""
    expected = _reference_order(filled_db, expression)
    assert set(expected) == {t for t, tags in TRACES.items() if evaluate(parse(expression), tags)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tag_terms, "MAX_CANDIDATES", tag_terms.MAX_CANDIDATES if terms else 0)
        assert _all_pages(filled_db, expression, limit) == expected
