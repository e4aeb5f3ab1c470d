"""Trace pages, in received order and in time order, hold exactly the filter's traces, in order, once each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from raymon.server.backend import Backend, build_backend
from raymon.server.services import traces
from raymon.server.services.paging import QueryError
from raymon.server.services.tagfilter import evaluate, parse
from raymon.server.settings import Settings
from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.models import Project, Tag, Trace
from raymon.server.store.writes import numeric_reading

PROJECT = "pages"
BASE = datetime(2026, 7, 1, tzinfo=UTC)
N = 60


def _tags(i: int) -> dict[str, Any]:
    tags: dict[str, Any] = {"common": f"c{i % 2}", "mid": f"m{i % 5}", "n": i % 7}
    if i % 13 == 0:
        tags["rare"] = "r1"
    return tags


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    tmp = Path(tmp_path_factory.mktemp("pages"))
    database = Database(sqlite_url(tmp / "raymon.sqlite3"))
    database.migrate()
    with database.session() as session:
        session.add(Project(id=PROJECT, name=PROJECT))
        session.add(Project(id="other", name="other"))
        session.flush()
        for i in range(N):
            # Received order (ids) is not time order: times jump around and tie.
            ts = BASE + timedelta(seconds=(i * 37) % 23)
            for project in (PROJECT, "other"):
                trace = Trace(project_id=project, trace_id=f"t{i:02d}", first_ts=ts, last_ts=ts)
                session.add(trace)
                session.flush()
                for name, value in _tags(i).items():
                    session.add(
                        Tag(
                            project_id=project,
                            trace_pk=trace.id,
                            name=name,
                            type="label",
                            value_num=numeric_reading(value),
                            value_text=value if isinstance(value, str) else None,
                            ts=ts,
                        )
                    )
    yield build_backend(Settings(data_dir=tmp), database=database)
    database.dispose()


def _pages(db: Backend, expression: str, sort: str, order: str, limit: int) -> list[str]:
    got: list[str] = []
    cursor = None
    for _ in range(2 * N + 2):  # more pages than traces: the cursor is stuck
        page = traces.list_traces(
            db,
            PROJECT,
            traces.TraceFilter(expression=expression),
            sort=sort,  # type: ignore[arg-type]
            order=order,  # type: ignore[arg-type]
            limit=limit,
            cursor=cursor,
            with_tags=False,
        )
        got += [t["trace_id"] for t in page["traces"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return got
    raise AssertionError(f"paging never ended: {got[:20]}...")


def _reference(db: Backend, expression: str, sort: str, order: str) -> list[str]:
    with db.reading() as session:
        rows = session.execute(
            select(Trace.id, Trace.trace_id, Trace.first_ts).where(Trace.project_id == PROJECT)
        ).all()
    tree = parse(expression) if expression.strip() else None
    matching = [r for r in rows if tree is None or evaluate(tree, _tags(int(r.trace_id[1:])))]
    key = (lambda r: r.id) if sort == "received" else (lambda r: (r.first_ts, r.id))
    return [r.trace_id for r in sorted(matching, key=key, reverse=order == "desc")]


conditions = st.sampled_from(
    ["rare==r1", "common==c0", "common!=c0", "mid==m1", "mid==m3", "n==3", "n>=3", "n<2", "!mid==m2", "rare"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    terms=st.lists(conditions, max_size=3),
    either=st.booleans(),
    sort=st.sampled_from(["received", "time"]),
    order=st.sampled_from(["desc", "asc"]),
    limit=st.sampled_from([1, 4, 50]),
)
def test_pages_hold_exactly_the_filters_traces_in_order(
    db: Backend, terms: list[str], either: bool, sort: str, order: str, limit: int
) -> None:
    expression = " && ".join(terms)
    if either and len(terms) > 1:
        expression = f"({terms[0]} || {terms[1]})" + "".join(f" && {t}" for t in terms[2:])
    assert _pages(db, expression, sort, order, limit) == _reference(db, expression, sort, order)


def test_a_time_cursor_is_refused_for_received_order(db: Backend) -> None:
    page = traces.list_traces(db, PROJECT, traces.TraceFilter(), sort="time", limit=2)
    with pytest.raises(QueryError, match="cursor"):
        traces.list_traces(db, PROJECT, traces.TraceFilter(), sort="received", cursor=page["next_cursor"])
