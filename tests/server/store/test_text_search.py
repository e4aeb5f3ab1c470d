"""The index of texts (migration 0021) changes how a text search finds its pages, never what it answers.

Every page sequence read with the index (``store.traces.page_in_window`` and
``count_in_window`` with the density probe, the index and the walk) must be the one
the plain LIKE walk reads, trace for trace, on SQLite and PostgreSQL: a property test
over random needles (LIKE's ``%``, ``_`` and ``\\`` among them, non-ASCII letters in
both cases) against a corpus of random texts, then common, rare and absent words
paged by cursor through the service, and the index kept by inserts and deletes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from throwaway_databases import throwaway_postgres_database

from raymon.server.backend import Backend, build_backend
from raymon.server.services import traces
from raymon.server.services.traces import TraceFilter
from raymon.server.settings import Settings
from raymon.server.store import text_search
from raymon.server.store import traces as trace_store
from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.models import Project, Tag, TextLine, Trace
from raymon.server.store.traces import TraceSelection

PROJECT = "p1"
OTHER = "p2"  # texts of another project: the index must never answer them
BASE = datetime(2026, 3, 1, tzinfo=UTC)
ALPHABET = "abcAB éÉσΣ%_\\x"
N_TRACES = 150


def _corpus() -> list[list[str]]:
    """Per trace 0-3 random texts over a small alphabet (so that short needles match some), seeded."""
    rng = random.Random(17)
    out = []
    for i in range(N_TRACES):
        texts = [
            "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 24))) for _ in range(rng.randint(0, 3))
        ]
        if i % 10 == 0:
            texts.append("common word here")
        if i in (7, 91):
            texts.append("a rare Needle in a haystack")
        if i == 120:
            texts.append("50% off_sale \\ now ünïcödé ÉCOLE")
        out.append(texts)
    return out


CORPUS = _corpus()


def _fill(db: Database) -> None:
    with db.session() as session:
        session.add_all([Project(id=PROJECT, name=PROJECT), Project(id=OTHER, name=OTHER)])
        session.flush()
        for i, texts in enumerate(CORPUS):
            ts = BASE + timedelta(seconds=i)
            trace = Trace(project_id=PROJECT, trace_id=f"t{i:03d}", first_ts=ts, last_ts=ts)
            other = Trace(project_id=OTHER, trace_id=f"o{i:03d}", first_ts=ts, last_ts=ts)
            session.add_all([trace, other])
            session.flush()
            session.add(
                Tag(
                    project_id=PROJECT,
                    trace_pk=trace.id,
                    name="app",
                    type="label",
                    value_text=f"v{i % 3}",
                    ts=ts,
                )
            )
            for message in texts:
                session.add(
                    TextLine(project_id=PROJECT, trace_pk=trace.id, ts=ts, level="info", message=message)
                )
                session.add(
                    TextLine(project_id=OTHER, trace_pk=other.id, ts=ts, level="info", message=message)
                )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(sqlite_url(Path(tmp_path_factory.mktemp("textsearch")) / "raymon.db"))
        database.migrate()
        _fill(database)
        yield database
        database.dispose()
    else:
        with throwaway_postgres_database(
            request.getfixturevalue("postgres_url"), "raymon_textsearch"
        ) as database:
            database.migrate()
            _fill(database)
            yield database


def _walk_pages(
    db: Database, sel: TraceSelection, limit: int, window: int, *, indexed: bool, probe: int, rare: int
) -> list[str]:
    """Every match, page after page by the cursor the store answers (its ``window_end`` or the last row)."""
    found: list[str] = []
    after = None
    for _ in range(1_000):
        with db.session() as session:
            if indexed:
                page = trace_store.page_in_window(
                    session, PROJECT, sel, limit, after, window, probe_window=probe, rare_texts=rare
                )
            else:
                page = trace_store._walk_window(session, PROJECT, sel, limit, after, window)
        found += [row.trace_id for row in page.rows]
        if page.window_end is not None:
            after = page.window_end
        elif len(page.rows) == limit:
            after = page.rows[-1].id
        else:
            return found
    raise AssertionError("the pages never ended")


def test_the_migration_made_the_index_and_it_holds_the_texts_stored(db: Database) -> None:
    with db.session() as session:
        assert text_search.available(session)
        assert text_search.matching_trace_pks(session, PROJECT, "Needle", 100) is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    needle=st.text(alphabet=ALPHABET, min_size=1, max_size=5),
    limit=st.integers(1, 12),
    probe=st.integers(1, 30),
    rare=st.sampled_from([0, 3, 40, 10_000]),
    tagged=st.booleans(),
)
def test_pages_with_the_index_are_the_like_walks_pages(
    db: Database, needle: str, limit: int, probe: int, rare: int, tagged: bool
) -> None:
    sel = TraceSelection(text=needle, tree=traces.parse_filter("app!=v1" if tagged else None))
    window = probe + 25
    reference = _walk_pages(db, sel, N_TRACES + 1, N_TRACES + 1, indexed=False, probe=0, rare=0)
    indexed = _walk_pages(db, sel, limit, window, indexed=True, probe=probe, rare=rare)
    assert indexed == reference
    with db.session() as session:
        plain = trace_store._count_window(session, PROJECT, sel, N_TRACES, N_TRACES + 1)
        counted = trace_store.count_in_window(
            session, PROJECT, sel, N_TRACES, window, probe_window=probe, rare_texts=rare
        )
    assert plain == (len(reference), True)
    assert counted[0] <= len(reference)
    if counted[1]:
        assert counted[0] == len(reference)


def test_the_reference_is_a_case_insensitive_substring_for_ascii(db: Database) -> None:
    """The LIKE walk itself (the reference above): ASCII case folded, metacharacters literal."""
    for needle in ("ab", "A%", "_b", "\\", "b a", "NEEDLE"):
        sel = TraceSelection(text=needle)
        got = _walk_pages(db, sel, N_TRACES + 1, N_TRACES + 1, indexed=False, probe=0, rare=0)
        expected = [
            f"t{i:03d}"
            for i in reversed(range(N_TRACES))
            if any(needle.lower() in t.lower() for t in CORPUS[i])
        ]
        assert got == expected, needle


@pytest.fixture(scope="module")
def backend(db: Database, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    return build_backend(Settings(data_dir=Path(tmp_path_factory.mktemp("textsearch-backend"))), database=db)


def _browse_all(backend: Backend, text: str, limit: int) -> tuple[list[str], int]:
    found: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = traces.browse_traces(backend, PROJECT, TraceFilter(text=text), limit=limit, after=cursor)
        found += [t["trace_id"] for t in page.traces]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return found, pages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("common word", [f"t{i:03d}" for i in reversed(range(0, N_TRACES, 10))]),  # common: the walk
        ("rare needle", ["t091", "t007"]),  # rare: the index, exact, without windows
        ("xylophone", []),  # absent: the index answers at once
        ("50% off_", ["t120"]),  # LIKE's metacharacters are literal
        ("_sale \\ now", ["t120"]),
        ("ünïcödé", ["t120"]),
    ],
)
def test_words_page_by_cursor_through_the_service(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str]
) -> None:
    monkeypatch.setattr(traces, "SEARCH_WINDOW", 40)
    monkeypatch.setattr(trace_store, "PROBE_WINDOW", 10)
    monkeypatch.setattr(trace_store, "RARE_TEXTS", 50)
    found, pages = _browse_all(backend, text, limit=4)
    assert found == expected
    if text in ("rare needle", "xylophone"):
        assert pages == 1  # found by the index: no window used up on the way
    counted = traces.count_traces(backend, PROJECT, TraceFilter(text=text))
    if text != "common word" and text.isascii():  # PostgreSQL looks up ASCII trigrams only: the rest walk
        assert counted.exact and counted.count == len(expected)


def test_non_ascii_case_follows_the_like_of_each_database(db: Database) -> None:
    """The index never widens the LIKE: SQLite folds ASCII only, PostgreSQL's ILIKE what its ctype folds."""
    for needle in ("école", "ÜNÏCÖDÉ", "σσ", "ΣΣ"):
        sel = TraceSelection(text=needle)
        reference = _walk_pages(db, sel, N_TRACES + 1, N_TRACES + 1, indexed=False, probe=0, rare=0)
        assert _walk_pages(db, sel, 2, 5, indexed=True, probe=1, rare=1_000) == reference, needle


def test_the_index_follows_inserts_and_deletes(db: Database) -> None:
    with db.session() as session:
        trace = session.scalars(
            select(Trace).where(Trace.project_id == PROJECT, Trace.trace_id == "t003")
        ).one()
        line = TextLine(
            project_id=PROJECT, trace_pk=trace.id, ts=BASE, level="info", message="zebra crossing"
        )
        session.add(line)
    with db.session() as session:
        assert text_search.matching_trace_pks(session, PROJECT, "ZEBRA", 10) == [trace.id]
        session.execute(delete(TextLine).where(TextLine.id == line.id))
    with db.session() as session:
        assert text_search.matching_trace_pks(session, PROJECT, "zebra", 10) == []


def test_a_store_without_the_index_searches_by_the_walk(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "old.sqlite3"))
    try:
        database.migrate("0019_dash_rollups")
        with database.session() as session:
            session.add(Project(id=PROJECT, name=PROJECT))
            session.flush()
            trace = Trace(project_id=PROJECT, trace_id="t", first_ts=BASE, last_ts=BASE)
            session.add(trace)
            session.flush()
            session.add(
                TextLine(project_id=PROJECT, trace_pk=trace.id, ts=BASE, level="info", message="old text")
            )
        with database.session() as session:
            assert not text_search.available(session)
            page = trace_store.page_in_window(
                session, PROJECT, TraceSelection(text="old"), 5, None, 10, probe_window=1
            )
            assert [row.trace_id for row in page.rows] == ["t"]
        database.migrate()  # 0021 indexes the texts stored before it
        with database.session() as session:
            assert text_search.matching_trace_pks(session, PROJECT, "OLD", 10) == [trace.id]
    finally:
        database.dispose()


def test_postgresql_probes_each_candidates_texts_and_never_joins_them_all(db: Database) -> None:
    """The walk's text probe stays a subplan run per candidate (``OFFSET 0``): at 10M traces PostgreSQL
    made it a merge join with every matching text of the project, read through the trigram index
    (bench/README.md, text search at 10M). Joins made dear here stand for the statistics there."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL plan")
    from sqlalchemy import event, text

    captured: list[tuple[str, object]] = []

    def grab(conn: object, cursor: object, statement: str, params: object, *_: object) -> None:
        if "texts" in statement:
            captured.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        with db.session() as session:
            session.execute(text("SET LOCAL enable_nestloop = off"))  # only a subplan probes per row now
            trace_store.page_in_window(session, PROJECT, TraceSelection(text="word"), 5, None, 100)
            raw = session.connection().connection.driver_connection
            assert raw is not None and captured
            for statement, params in captured:
                with raw.cursor() as cursor:
                    cursor.execute("EXPLAIN " + statement, params)
                    plan = "\n".join(line for (line,) in cursor.fetchall())
                assert "SubPlan" in plan and "Semi Join" not in plan, plan
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
