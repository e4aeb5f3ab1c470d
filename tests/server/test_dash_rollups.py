"""Dashboard rollups give the numbers of the windows themselves: min, max and mean per point, on both databases.

Windows of two slices with random values (some missing, some alerting), two summary layouts
and gaps are written through ``store.reduce.save_windows`` in shuffled batches, a tenth of them
rewritten later (some with another layout); then dashboards of random ranges (ragged and
aligned, a few hours to the whole span, 30 to 360 points) are compared point by point with the
same aggregation done here in plain Python over the windows as last written: the bucket
starts and ends, window and tag counts, each series' highest, lowest and mean per point, its
alerting windows, peak and last value. The windows-only path (``use_rollups=False``) is held
to the same oracle, and a long range is shown to read the rollups (few summary rows).
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reduce_context import add_project, make_backend

from raymon.server.backend import Backend
from raymon.server.engine.profile_reducer import window_summary
from raymon.server.services import dashboards
from raymon.server.store import reduce as reduce_store
from raymon.server.store import retention, rollups
from raymon.server.store.db import sqlite_url

PID = "dash"
REDUCER = "shop@1"
INTERVAL = 60
SLICES = ("", "client==a")
START = datetime(2026, 3, 1, 5, 17, tzinfo=UTC)  # not on an hour: the rollups' edges are ragged
MINUTES = 2 * 1440 + 77


@pytest.fixture
def store(backend: str, postgres_databases: Any) -> Iterator[Backend]:
    url = (
        postgres_databases.create()
        if backend == "postgresql"
        else sqlite_url(Path(tempfile.mkdtemp(prefix="raymon-rollups-")) / "r.sqlite3")
    )
    b = make_backend(url)
    add_project(b, PID)
    yield b
    b.close()
    if backend == "postgresql":
        postgres_databases.drop(url)


@dataclass
class Window:
    keys: list[str]  # "check\tmetric\tcomponent"
    values: list[float | None]
    alerts: set[int]
    n_tags: int


LAYOUT_A = [
    ("drift", "ks_statistic", "area"),
    ("drift", "ks_statistic", "rooms"),
    ("integrity", "missing_rate", "area"),
]
LAYOUT_B = [("drift", "ks_statistic", "area"), ("drift", "total_variation", "colour")]


def make_window(rng: random.Random) -> tuple[Window, Any]:
    """A window of layout A (with score ``mae``) or B, its values random, a few missing, a few alerting."""
    layout = LAYOUT_A if rng.random() < 0.8 else LAYOUT_B
    rows = []
    for check, metric, component in layout:
        value = (
            None if rng.random() < 0.1 else rng.choice([rng.random(), rng.random() * 50, 1e-4 * rng.random()])
        )
        rows.append(
            {
                "check": check,
                "metric": metric,
                "component": component,
                "value": value,
                "threshold": 0.5,
                "alert": value is not None and value > 0.5 and rng.random() < 0.5,
            }
        )
    scores = {"mae": None if rng.random() < 0.1 else rng.random() * 10} if layout is LAYOUT_A else {}
    summary = window_summary(rows, scores)
    keys = [f"{c}\t{m}\t{k}" for c, m, k in layout] + [f"score\t{n}\t{n}" for n in scores]
    compact = [None if r["value"] is None else float(np.float32(float(f"{r['value']:.6g}"))) for r in rows]
    compact += [None if v is None else float(np.float32(float(f"{v:.6g}"))) for v in scores.values()]
    alerts = {i for i, r in enumerate(rows) if r["alert"]}
    return Window(keys, compact, alerts, rng.randint(0, 90)), summary


def write(backend: Backend, seed: int) -> dict[tuple[str, datetime], Window]:
    """Windows with gaps for both slices, written in shuffled batches, a tenth rewritten after; what they are now."""
    rng = random.Random(seed)
    kept: dict[tuple[str, datetime], Window] = {}
    pending = []
    for minute in range(MINUTES):
        if rng.random() < 0.15:
            continue  # a gap: no traffic that minute
        at = START + timedelta(minutes=minute)
        for s in SLICES:
            window, summary = make_window(rng)
            kept[(s, at)] = window
            pending.append(
                reduce_store.WindowWrite(
                    None,
                    s,
                    at,
                    at + timedelta(seconds=INTERVAL),
                    None,
                    None,
                    window.n_tags,
                    len(window.alerts),
                    summary,
                )
            )
    rng.shuffle(pending)
    now = datetime.now(UTC)
    for i in range(0, len(pending), 700):
        with backend.writing() as session:
            reduce_store.save_windows(session, PID, REDUCER, pending[i : i + 700], 1, now)
    with backend.reading() as session:
        ids = {(w.slice, w.window_start): w.id for w in reduce_store.windows(session, PID, REDUCER)}
    again = rng.sample(sorted(kept), len(kept) // 10)
    for i in range(0, len(again), 300):
        writes = []
        for s, at in again[i : i + 300]:
            window, summary = make_window(rng)
            kept[(s, at)] = window
            writes.append(
                reduce_store.WindowWrite(
                    ids[(s, at)],
                    s,
                    at,
                    at + timedelta(seconds=INTERVAL),
                    None,
                    None,
                    window.n_tags,
                    len(window.alerts),
                    summary,
                )
            )
        with backend.writing() as session:
            reduce_store.save_windows(session, PID, REDUCER, writes, 2, now)
    return kept


def sig(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def expect(
    kept: dict[tuple[str, datetime], Window], slicestr: str, begin: datetime, end: datetime, bucket_s: int
) -> dict[str, Any]:
    """The dashboard's numbers computed from the windows, in plain Python."""
    buckets: dict[int, list[tuple[datetime, Window]]] = {}
    for (s, at), window in sorted(kept.items(), key=lambda kv: kv[0][1]):
        if s == slicestr and begin <= at < end:
            buckets.setdefault(math.floor(at.timestamp() / bucket_s), []).append((at, window))
    order = sorted(buckets)
    series: dict[str, dict[str, list[Any]]] = {}
    totals: dict[str, dict[str, Any]] = {}
    for b_no, b in enumerate(order):
        for _at, window in buckets[b]:
            for i, (key, value) in enumerate(zip(window.keys, window.values, strict=True)):
                line = series.setdefault(key, {"values": [[] for _ in order]})
                total = totals.setdefault(key, {"alerts": 0, "all": [], "last": None})
                total["alerts"] += i in window.alerts
                if value is not None:
                    line["values"][b_no].append(value)
                    total["all"].append(value)
                    total["last"] = value
    lines = {}
    for key, line in series.items():
        score = key.startswith("score\t")
        per = line["values"]
        lines[key] = {
            "highs": [sig(max(v)) if v else None for v in per],
            "lows": [sig(min(v)) if v else None for v in per],
            "means": [sig(sum(v) / len(v)) if v else None for v in per],
            "values": [(sig(sum(v) / len(v)) if score else sig(max(v))) if v else None for v in per],
            "alert_windows": totals[key]["alerts"],
            "peak": sig(max(totals[key]["all"])) if totals[key]["all"] else None,
            "last": sig(totals[key]["last"]),
        }
    return {
        "starts": [buckets[b][0][0] for b in order],
        "ends": [buckets[b][-1][0] + timedelta(seconds=INTERVAL) for b in order],
        "n_tags": [sum(w.n_tags for _, w in buckets[b]) for b in order],
        "n_windows": sum(len(buckets[b]) for b in order),
        "lines": lines,
    }


def assert_same(board: dashboards.Dashboard, want: dict[str, Any], where: str) -> None:
    assert board.starts == want["starts"], where
    assert board.ends == want["ends"], where
    assert board.n_tags == want["n_tags"], where
    assert board.n_windows == want["n_windows"], where
    got = {f"{s.check}\t{s.metric}\t{s.component}": s for chart in board.charts for s in chart.series}
    assert set(got) == set(want["lines"]), where
    for key, line in want["lines"].items():
        s = got[key]
        assert s.highs == line["highs"], (where, key, "highest")
        assert s.lows == line["lows"], (where, key, "lowest")
        if key.startswith("score\t"):
            assert s.values == pytest.approx(line["means"], rel=2e-6), (where, key, "mean")
        else:
            assert s.values == line["values"], (where, key, "headline")
        assert (s.alert_windows, s.peak, s.last) == (line["alert_windows"], line["peak"], line["last"]), (
            where,
            key,
        )


def random_ranges(rng: random.Random) -> Iterator[tuple[datetime, datetime, int]]:
    end_all = START + timedelta(minutes=MINUTES)
    yield START - timedelta(hours=3), end_all + timedelta(hours=1), 100  # everything
    yield START - timedelta(hours=3), end_all + timedelta(hours=1), 30  # 60-window rollups
    yield (
        START.replace(minute=0) + timedelta(hours=5),
        START.replace(minute=0) + timedelta(days=2, hours=5),
        100,
    )
    for _ in range(14):
        length = timedelta(minutes=rng.choice([90, 600, 1440, 2000, 3000, MINUTES]) + rng.randint(-30, 30))
        begin = START + timedelta(minutes=rng.randint(-60, MINUTES), seconds=rng.choice([0, 0, 17]))
        yield begin, begin + length, rng.choice([30, 100, 360])


@pytest.mark.timeout(900)
def test_bucketed_points_equal_the_windows_min_max_and_mean(store: Backend) -> None:
    kept = write(store, seed=7)
    info = dashboards.ReducerInfo(REDUCER, INTERVAL)
    rng = random.Random(11)
    levels_seen = set()
    for begin, end, points in random_ranges(rng):
        for slicestr in SLICES:
            board = dashboards.dashboard(store, PID, info, slicestr, begin, end, max_points=points)
            where = (
                f"{slicestr!r} {begin.isoformat()}..{end.isoformat()} max {points}: {board.bucket_s} s points"
            )
            assert len(board.starts) <= points, where
            levels_seen.add(dashboards.rollup_level(board.windows_per_point))
            assert_same(board, expect(kept, slicestr, begin, end, board.bucket_s), where)
            raw = dashboards.dashboard(
                store, PID, info, slicestr, begin, end, max_points=points, use_rollups=False
            )
            assert_same(raw, expect(kept, slicestr, begin, end, raw.bucket_s), "windows only: " + where)
    assert levels_seen >= {None, 10, 60}, levels_seen  # every path ran


def test_a_long_range_reads_the_rollups_not_every_window(
    store: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = write(store, seed=3)
    read: list[int] = []
    summaries = reduce_store.summaries

    def counting(*args: Any, **kwargs: Any) -> list[reduce_store.SummaryRow]:
        rows = summaries(*args, **kwargs)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(reduce_store, "summaries", counting)
    info = dashboards.ReducerInfo(REDUCER, INTERVAL)
    begin, end = START, START + timedelta(minutes=MINUTES)
    board = dashboards.dashboard(store, PID, info, "", begin, end, max_points=100)
    assert board.windows_per_point >= 10 and board.n_windows == sum(1 for s, _ in kept if s == "")
    assert sum(read) < 2 * 60, read  # the ragged edges only
    with store.reading() as session:
        spans = {r.layout for r in rollups.rollups(session, PID, REDUCER, "", 600, begin, end)}
    assert len(spans) == 2  # both layouts have their own rows


def test_after_retention_the_points_hold_only_the_windows_kept(store: Backend) -> None:
    kept = write(store, seed=5)
    cutoff = START + timedelta(minutes=1000, seconds=30)  # inside a 10- and a 60-window bucket
    with store.reading() as session:
        before = retention.count_older(session, PID, cutoff)
    assert before["rollups"] > 0 and before["summaries"] > 0
    with store.writing() as session:  # small batches: the rollups go a bounded number at a time too
        while retention.delete_expired(session, store.object_store, PID, cutoff, 50).more:
            pass
    with store.reading() as session:
        after = retention.count_older(session, PID, cutoff)
        straddling = rollups.rollups(
            session, PID, REDUCER, "client==a", 3600, cutoff - timedelta(hours=1), cutoff
        )
    assert after["rollups"] == after["summaries"] == after["results"] == 0, after
    assert straddling and straddling[0].first_s < cutoff.timestamp()  # kept: it holds windows kept
    left = {k: w for k, w in kept.items() if k[1] + timedelta(seconds=INTERVAL) >= cutoff}
    info = dashboards.ReducerInfo(REDUCER, INTERVAL)
    begin, end = START - timedelta(days=1), START + timedelta(minutes=MINUTES)
    for points in (30, 100):
        board = dashboards.dashboard(store, PID, info, "client==a", begin, end, max_points=points)
        assert board.windows_per_point >= 10
        want = expect(left, "client==a", begin, end, board.bucket_s)
        assert_same(board, want, f"max {points}")
