"""Reduce passes against a real database (SQLite and PostgreSQL): claims, windows, slices, results, the job."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reduce_context import add_project, context_for, make_backend, tag_event
from reduce_profiles import reference_profile, sample_tags
from sqlalchemy import text

from raymon.server.backend import Backend
from raymon.server.engine.manifest import Manifest
from raymon.server.engine.profile_reducer import production_from_tags
from raymon.server.engine.reduce_jobs import (
    commit_prepared,
    load_reducer,
    prepare_pass,
    reduce_handler,
    reduce_scheduler,
    run_pass,
)
from raymon.server.services.ingest import store_events
from raymon.server.services.profiles import create_profile
from raymon.server.store import reduce as reduce_store
from raymon.server.store.db import sqlite_url

PID = "shop"
REFERENCE = reference_profile()
GROUP = REFERENCE.group_idfr
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
MANIFEST = Manifest.model_validate(
    {
        "project_id": PID,
        "actions": {"reduce": [{"name": GROUP, "reducer_type": "profile_reducer", "reducer_interval_m": 10}]},
        "slices": [{"slicestr": "client==Zillow"}, {"space": [{"tag": "client"}]}],
    }
)


@pytest.fixture
def reducing(backend: str, postgres_databases: Any) -> Iterator[Backend]:
    """A migrated store of the parametrised database with project ``shop`` and its reference profile."""
    url = (
        postgres_databases.create()
        if backend == "postgresql"
        else sqlite_url(Path(tempfile.mkdtemp(prefix="raymon-reduce-")) / "r.sqlite3")
    )
    b = make_backend(url)
    add_project(b, PID)
    create_profile(b, PID, REFERENCE.to_jcr())
    yield b
    b.close()
    if backend == "postgresql":
        postgres_databases.drop(url)


def _traffic(
    backend: Backend, n: int, start: datetime, client: str, seed: int, shift: float = 0.0
) -> list[dict]:
    """``n`` traces from ``client``: inputs and output at ``start + i s``, no actual (actuals come later)."""
    rng = np.random.default_rng(seed)
    events, sent = [], []
    for i in range(n):
        tags = [
            t for t in sample_tags(REFERENCE, rng, shift) if not t["name"].startswith(("actual", "abs_error"))
        ]
        trace = f"{client}-{seed}-{i}"
        ts = start + timedelta(seconds=i)
        events.append(
            tag_event(PID, trace, ts, [*tags, {"name": "client", "value": client, "type": "label"}])
        )
        sent += tags
    store_events(backend, PID, events)
    return sent


def _pass(backend: Backend, results: list | None = None, **kw: Any) -> None:
    hook = (
        (lambda s, p, r, sl, ws, we, rows: results.append((sl, ws, we, rows)))
        if results is not None
        else None
    )
    handler = reduce_handler(lambda b, p: MANIFEST, **({"on_results": hook} if hook else {}), **kw)
    (spec,) = reduce_scheduler(lambda b, p: MANIFEST, lambda b: [PID])(backend, T0)
    handler(context_for(backend, spec))


def _windows(backend: Backend, slicestr: str | None = None) -> list[reduce_store.WindowRow]:
    with backend.reading() as session:
        return reduce_store.windows(session, PID, GROUP, slicestr, with_state=True)


def test_a_pass_reduces_the_new_tags_into_windows_of_trace_time_and_slices(reducing: Backend) -> None:
    backend = reducing
    zillow = _traffic(backend, 40, T0, "Zillow", 1)
    remax = _traffic(backend, 30, T0 + timedelta(minutes=10), "Remax", 2)
    results: list[Any] = []
    _pass(backend, results)
    got = {(w.slice, w.window_start): w.n_tags for w in _windows(backend)}
    w0, w1 = T0, T0 + timedelta(minutes=10)
    assert got == {
        ("", w0): len(zillow),
        ("", w1): len(remax),
        ("client==Zillow", w0): len(zillow),
        ("client==Remax", w1): len(remax),
    }
    assert sorted((r[0], r[1]) for r in results) == sorted(got)
    assert all(r[2] - r[1] == timedelta(minutes=10) for r in results)
    rows = next(r[3] for r in results if r[0] == "client==Zillow")
    assert {r["check"] for r in rows} >= {"drift", "integrity"} and all("n" in r for r in rows)
    with backend.reading() as session:
        assert reduce_store.count_unclaimed(session, PID, GROUP) == 0
    # a second pass with nothing new changes nothing and tells nobody
    before = {(w.slice, w.window_start): w.last_pass for w in _windows(backend)}
    again: list[Any] = []
    _pass(backend, again)
    assert again == [] and {(w.slice, w.window_start): w.last_pass for w in _windows(backend)} == before


def test_after_pass_is_told_once_a_pass_has_told_every_window_in_the_same_transaction(
    reducing: Backend,
) -> None:
    backend = reducing
    _traffic(backend, 20, T0, "Zillow", 5)
    _traffic(backend, 20, T0 + timedelta(minutes=10), "Remax", 6)
    told: list[tuple[str, Any]] = []

    def on_results(session: Any, p: str, r: str, sl: str, ws: datetime, we: datetime, rows: Any) -> None:
        told.append(("window", session))

    def after_pass(session: Any, p: str, r: str) -> None:
        told.append(("pass", session))

    _pass(backend, on_results=on_results, after_pass=after_pass)
    assert [k for k, _ in told] == ["window"] * 4 + ["pass"]  # 2 windows, each global + its client
    assert len({id(s) for _, s in told}) == 1


def test_a_late_actual_updates_its_predictions_window_and_passes_sum_to_the_profile_built_at_once(
    reducing: Backend,
) -> None:
    backend = reducing
    sent = _traffic(backend, 50, T0, "Zillow", 3)
    _pass(backend, batch_tags=7)  # many small claims in one pass
    rng = np.random.default_rng(4)
    late, actual_tags = [], []
    for i in range(50):  # actuals and their evaluations, logged a day later
        tags = [t for t in sample_tags(REFERENCE, rng) if t["name"].startswith(("actual", "abs_error"))]
        late.append(tag_event(PID, f"Zillow-3-{i}", T0 + timedelta(days=1), tags))
        actual_tags += tags
    store_events(backend, PID, late)
    _pass(backend, max_tags=60, batch_tags=25)  # stops at 60 tags: a follow-up job takes the rest
    _pass(backend)
    (window,) = _windows(backend, "")
    assert window.window_start == T0 and window.n_tags == len(sent) + len(actual_tags)
    from raymon.server.engine.profile_reducer import ProfileReducer, WindowState

    production = ProfileReducer(REFERENCE).production_profile(WindowState.from_jcr(window.state))
    expected = production_from_tags(REFERENCE, sent + actual_tags)
    for name, component in expected.components.items():
        assert production.components[name].stats.count == component.stats.count, name
    assert production.scores["mae"].result == pytest.approx(expected.scores["mae"].result)


def test_a_tag_committed_late_with_a_lower_id_is_claimed_by_the_next_pass_exactly_once(
    reducing: Backend,
) -> None:
    backend = reducing
    if backend.database.dialect != "postgresql":
        pytest.skip("SQLite's writers take turns: no transaction commits a lower id after a higher one")
    from sqlalchemy.orm import Session

    from raymon.server.store.writes import write_trace_tags

    slow = Session(backend.database.engine)  # a slower writer: takes its ids first, commits last
    pk = slow.execute(
        text(
            "INSERT INTO traces (project_id, trace_id, first_ts, last_ts) VALUES (:p, 'slow', :t, :t) RETURNING id"
        ),
        {"p": PID, "t": T0},
    ).scalar_one()
    write_trace_tags(
        slow, PID, pk, [{"name": "f0", "value": 10.0, "type": "profile-input", "group": GROUP}], T0
    )
    (slow_id,) = slow.execute(text("SELECT id FROM tags WHERE trace_pk = :pk"), {"pk": pk}).scalars()
    fast = _traffic(backend, 5, T0, "Zillow", 6)  # the same ingest path, committed first
    with backend.reading() as session:
        assert session.execute(text("SELECT min(id) FROM tags")).scalar_one() > slow_id
    _pass(backend)
    assert _windows(backend, "")[0].n_tags == len(fast)
    slow.commit()
    slow.close()
    _pass(backend)
    assert _windows(backend, "")[0].n_tags == len(fast) + 1
    _pass(backend)  # taken once: a third pass finds nothing
    assert _windows(backend, "")[0].n_tags == len(fast) + 1
    with backend.reading() as session:
        assert reduce_store.count_unclaimed(session, PID, GROUP) == 0


def test_locking_a_new_reducers_position_makes_its_row_so_a_second_pass_waits_for_the_first(
    reducing: Backend,
) -> None:
    backend = reducing
    if backend.database.dialect != "postgresql":
        pytest.skip("SQLite's write transactions take the whole database: no row locks to order")
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    first, second = Session(backend.database.engine), Session(backend.database.engine)
    try:
        # the reducer has no row yet (no pass ran): the lock must still exclude a second pass, which
        # otherwise locks queue rows first and deadlocks with the first once that has the row
        assert reduce_store.reducer_position(first, PID, "fresh", lock=True, now=T0).pass_no == 0
        second.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            reduce_store.reducer_position(second, PID, "fresh", lock=True, now=T0)
        second.rollback()
        first.commit()
        assert reduce_store.reducer_position(second, PID, "fresh", lock=True, now=T0).pass_no == 0
        assert reduce_store.begin_pass(second, PID, "fresh", T0).pass_no == 1
        second.commit()
    finally:
        first.close()
        second.close()


def test_a_replaced_tag_is_not_counted_again_and_a_deleted_one_is_skipped(reducing: Backend) -> None:
    backend = reducing
    sent = _traffic(backend, 10, T0, "Zillow", 7)
    _pass(backend)
    _traffic(backend, 10, T0, "Zillow", 7)  # new events of the same traces and tags, same ts: upserts
    with backend.writing() as session:  # a queued tag whose row is gone (deleted while queued)
        session.execute(
            text("INSERT INTO reduce_queue (project_id, grp, tag_id) VALUES (:p, :g, :id)"),
            {"p": PID, "g": GROUP, "id": 10**12},
        )
    _pass(backend)
    assert _windows(backend, "")[0].n_tags == len(sent)
    with backend.reading() as session:
        assert session.execute(text("SELECT count(*) FROM reduce_queue")).scalar_one() == 0


def test_the_scheduler_answers_one_job_per_reducer_and_tick(reducing: Backend) -> None:
    backend = reducing
    schedule = reduce_scheduler(lambda b, p: MANIFEST if p == PID else None, lambda b: [PID, "other"])
    a = list(schedule(backend, T0 + timedelta(seconds=5)))
    b = list(schedule(backend, T0 + timedelta(seconds=595)))
    c = list(schedule(backend, T0 + timedelta(seconds=600)))
    assert [s.key for s in a] == [s.key for s in b] == [f"reduce:{PID}:{GROUP}:{int(T0.timestamp()) // 600}"]
    assert c[0].key != a[0].key and c[0].payload == {"reducer": GROUP, "tick": int(T0.timestamp()) // 600 + 1}


def test_profile_of_a_reducer_not_stored_parks_the_job(reducing: Backend) -> None:
    backend = reducing
    from raymon.server.engine.jobs import PermanentFailure

    manifest = MANIFEST.model_copy(
        update={
            "actions": Manifest.model_validate(
                {
                    "project_id": PID,
                    "actions": {"reduce": [{"name": "gone@1.0.0", "reducer_type": "profile_reducer"}]},
                }
            ).actions
        }
    )
    (spec,) = reduce_scheduler(lambda b, p: manifest, lambda b: [PID])(backend, T0)
    with pytest.raises(PermanentFailure, match="gone@1.0.0"):
        reduce_handler(lambda b, p: manifest)(context_for(backend, spec))


def _prepare(backend: Backend) -> Any:
    action = MANIFEST.actions.reduce[0]
    with backend.reading() as session:
        reducer = load_reducer(backend, session, PID, GROUP)
        return prepare_pass(session, backend, PID, MANIFEST, action, reducer)


def test_a_pass_prepared_outside_the_write_lock_writes_what_a_pass_inside_it_writes(
    reducing: Backend,
) -> None:
    backend = reducing
    _traffic(backend, 40, T0, "Zillow", 1)
    _traffic(backend, 30, T0 + timedelta(minutes=10), "Remax", 2)
    prepared = _prepare(backend)
    with backend.reading() as session:  # reading took nothing
        assert reduce_store.count_unclaimed(session, PID, GROUP) == len(prepared.tag_ids) > 0
    with backend.writing() as session:
        report = commit_prepared(session, PID, MANIFEST.actions.reduce[0], prepared, T0)
    assert report is not None and report.pass_no == 1 and len(report.windows) == 4
    committed = {(w.slice, w.window_start): (w.n_tags, w.result) for w in _windows(backend)}
    with backend.reading() as session:
        assert reduce_store.count_unclaimed(session, PID, GROUP) == 0
    # the same tags through run_pass, inside the write transaction, on a second store: the same windows
    with backend.writing() as session:
        session.execute(
            text(
                "INSERT INTO reduce_queue (project_id, grp, tag_id) SELECT project_id, grp, id FROM tags "
                "WHERE grp IS NOT NULL"
            )  # fmt: skip
        )
        session.execute(text("DELETE FROM reduce_results"))
    action = MANIFEST.actions.reduce[0]
    with backend.writing() as session:
        reducer = load_reducer(backend, session, PID, GROUP)
        run_pass(session, backend, PID, MANIFEST, action, reducer, T0)
    assert {(w.slice, w.window_start): (w.n_tags, w.result) for w in _windows(backend)} == committed


def test_a_prepared_pass_overtaken_by_another_pass_or_new_window_state_writes_nothing(
    reducing: Backend,
) -> None:
    backend = reducing
    action = MANIFEST.actions.reduce[0]
    _traffic(backend, 20, T0, "Zillow", 1)
    stale = _prepare(backend)
    _pass(backend)  # another worker's pass took the tags and wrote the windows meanwhile
    before = {(w.slice, w.window_start): (w.last_pass, w.n_tags) for w in _windows(backend)}
    with backend.writing() as session:
        assert commit_prepared(session, PID, action, stale, T0) is None
    assert {(w.slice, w.window_start): (w.last_pass, w.n_tags) for w in _windows(backend)} == before
    # new tags of a window written after the prepare: refused too (its state moved), then redone whole
    _traffic(backend, 10, T0 + timedelta(seconds=30), "Zillow", 2)
    prepared = _prepare(backend)
    _traffic(backend, 10, T0 + timedelta(seconds=60), "Zillow", 3)
    _pass(backend)
    with backend.writing() as session:
        assert commit_prepared(session, PID, action, prepared, T0) is None
    assert {w.slice: w.n_tags for w in _windows(backend)}["client==Zillow"] == before[("client==Zillow", T0)][
        1
    ] * 2


def test_a_categorical_drift_names_the_grown_category_and_its_issue_shows_traces_with_it(
    reducing: Backend,
) -> None:
    from raymon.server.engine.manifest import IssueSettings
    from raymon.server.engine.profile_reducer import EXAMPLE_VALUE
    from raymon.server.services import issues as issue_service

    backend = reducing
    rng = np.random.default_rng(7)
    events = []
    for i in range(
        80
    ):  # three in four of Zillow's requests say "c" (a third of the reference's), the rest "a"
        tags = [t for t in sample_tags(REFERENCE, rng) if not t["name"].startswith(("actual", "abs_error"))]
        tags = [{**t, "value": "c" if i % 4 else "a"} if t["name"] == "f2" else t for t in tags]
        client = {"name": "client", "value": "Zillow", "type": "label"}
        events.append(tag_event(PID, f"z{i}", T0 + timedelta(seconds=i), [*tags, client]))
    store_events(backend, PID, events)
    results: list[Any] = []
    _pass(backend, results)
    slicestr, start, end, rows = next(r for r in results if r[0] == "client==Zillow")
    drift = [r for r in rows if r["component"] == "f2" and r["check"] == "drift"]
    assert any(r["alert"] for r in drift) and {r[EXAMPLE_VALUE] for r in drift} == {"c"}
    assert all(EXAMPLE_VALUE not in r for r in rows if r["component"] != "f2" or r["check"] != "drift")
    with backend.writing() as session:
        issue_service.observe(
            session, backend, PID, GROUP, slicestr, "Zillow", start, end, rows, IssueSettings()
        )
    listed = issue_service.list_issues(backend, PID, slicestr=slicestr)["issues"]
    (issue,) = [i for i in listed if i["component"] == "f2" and i["check"] == "drift"]
    saying_c = {f"z{i}" for i in range(80) if i % 4}
    assert issue["example_trace_ids"] == ["z1", "z2", "z3", "z5", "z6"]  # the earliest saying "c"
    assert set(issue["example_trace_ids"]) <= saying_c
