"""The trace list's bounded parts: the capped count, the text search's window, the CSV formula guard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from raymon.server.backend import Backend, build_backend
from raymon.server.services import exports, traces
from raymon.server.services.traces import TraceFilter
from raymon.server.settings import Settings
from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.models import Project, Tag, TextLine, Trace

PROJECT = "browse"
BASE = datetime(2026, 7, 1, tzinfo=UTC)
N = 60


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    tmp = Path(tmp_path_factory.mktemp("browse"))
    database = Database(sqlite_url(tmp / "raymon.sqlite3"))
    database.migrate()
    with database.session() as session:
        session.add(Project(id=PROJECT, name=PROJECT))
        session.flush()
        for i in range(N):  # t00 received first (the oldest)
            ts = BASE + timedelta(minutes=i)
            trace = Trace(project_id=PROJECT, trace_id=f"t{i:02d}", first_ts=ts, last_ts=ts)
            session.add(trace)
            session.flush()
            session.add(
                Tag(
                    project_id=PROJECT,
                    trace_pk=trace.id,
                    name="app",
                    type="label",
                    value_text=f"v{i % 2}",
                    ts=ts,
                )
            )
            message = "Disk FULL on node" if i < 5 else f"request {i} ok"
            session.add(TextLine(project_id=PROJECT, trace_pk=trace.id, ts=ts, level="info", message=message))
    yield build_backend(Settings(data_dir=tmp), database=database)
    database.dispose()


def test_the_count_stops_at_the_cap_and_says_so(db: Backend) -> None:
    capped = traces.count_traces(db, PROJECT, TraceFilter(), cap=5)
    exact = traces.count_traces(db, PROJECT, TraceFilter(expression="app==v1"))
    assert capped.over_cap and capped.count == 6 and not capped.exact
    assert exact.exact and exact.count == 30 and not exact.over_cap


def test_the_count_examines_only_its_window_and_then_is_a_lower_bound(
    db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(traces, "COUNT_WINDOW", 10)
    driven = traces.count_traces(db, PROJECT, TraceFilter(expression="app==v1"))
    walked = traces.count_traces(db, PROJECT, TraceFilter(expression="app!=v0"))
    assert driven.count == 10 and not driven.exact  # the newest 10 app==v1 index entries, all matching
    assert walked.count == 5 and not walked.exact  # no == condition: the newest 10 traces, half match


def test_a_text_search_reads_one_window_per_page_and_continues_where_it_ended(
    db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(traces, "SEARCH_WINDOW", 20)
    flt = TraceFilter(text="disk full")
    found: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = traces.browse_traces(db, PROJECT, flt, limit=3, after=cursor)
        found += [t["trace_id"] for t in page.traces]
        pages += 1
        if page.window_used_up:
            assert page.next_cursor is not None
        cursor = page.next_cursor
        if cursor is None:
            break
    assert found == ["t04", "t03", "t02", "t01", "t00"]
    assert pages >= 4  # 60 candidates, 20 per request: at least three empty windows before the matches


def test_previous_pages_read_back_the_same_traces(db: Backend) -> None:
    first = traces.browse_traces(db, PROJECT, TraceFilter(), limit=7)
    second = traces.browse_traces(db, PROJECT, TraceFilter(), limit=7, after=first.next_cursor)
    back = traces.browse_traces(db, PROJECT, TraceFilter(), limit=7, before=second.previous_cursor)
    assert first.previous_cursor is None and second.previous_cursor is not None
    assert [t["trace_id"] for t in back.traces] == [t["trace_id"] for t in first.traces]
    assert back.previous_cursor is None and back.next_cursor is not None


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain = text", "plain = text"),
        (-3.5, -3.5),
        (None, ""),
    ],
)
def test_a_csv_cell_that_a_spreadsheet_would_run_is_made_text(value: object, cell: object) -> None:
    assert exports.csv_cell(value) == cell
