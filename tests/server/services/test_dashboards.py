"""services.dashboards on a real database (SQLite and PostgreSQL): windows into buckets, the worst value kept.

Windows are written through ``store.reduce.save_windows`` as a reduce pass writes them, with
summaries made by ``engine.profile_reducer.window_summary`` from contrast-like rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jobs_backend import migrated_backend

from raymon.server.backend import Backend
from raymon.server.engine.profile_reducer import window_summary
from raymon.server.services import dashboards
from raymon.server.store import reduce as reduce_store

PROJECT, REDUCER = "dash", "prices@1.0.0"
T0 = datetime(2026, 7, 1, tzinfo=UTC)
INFO = dashboards.ReducerInfo(REDUCER, 60)


@pytest.fixture
def backend_(backend: str, postgres_databases: Any, tmp_path: Path) -> Iterator[Backend]:
    with migrated_backend(backend, postgres_databases, tmp_path, projects=(PROJECT,)) as instance:
        yield instance


def rows(ks: float | None, missing: float, alert: bool = False) -> list[dict[str, Any]]:
    return [
        {
            "component": "area",
            "check": "drift",
            "metric": "ks_statistic",
            "value": ks,
            "threshold": 0.1,
            "alert": alert,
        },
        {
            "component": "area",
            "check": "drift",
            "metric": "psi",
            "value": 0.5,
            "threshold": None,
            "alert": False,
        },
        {
            "component": "area",
            "check": "integrity",
            "metric": "missing_rate",
            "value": missing,
            "threshold": 0.05,
            "alert": False,
        },
    ]


def write(
    backend: Backend, slicestr: str, values: list[tuple[float | None, float, bool]], mae: float = 3.0
) -> None:
    writes = [
        reduce_store.WindowWrite(
            None,
            slicestr,
            T0 + timedelta(minutes=i),
            T0 + timedelta(minutes=i + 1),
            None,
            None,
            10,
            int(alert),
            window_summary(rows(ks, missing, alert), {"mae": mae + i}),
        )
        for i, (ks, missing, alert) in enumerate(values)
    ]
    with backend.writing() as session:
        reduce_store.save_windows(session, PROJECT, REDUCER, writes, 1, T0)


def test_a_spike_in_one_window_is_the_value_of_its_bucket_and_scores_are_averaged(backend_: Backend) -> None:
    values = [(0.01, 0.0, False)] * 60
    values[37] = (0.9, 0.0, True)  # one bad minute
    write(backend_, "client==a", values)
    board = dashboards.dashboard(
        backend_, PROJECT, INFO, "client==a", T0, T0 + timedelta(hours=1), max_points=6
    )
    assert board.bucket_s == 600 and board.n_windows == 60 and len(board.starts) == 6
    assert board.ends[-1] == T0 + timedelta(hours=1)
    drift = next(c for c in board.charts if c.check == "drift")
    assert [s.metric for s in drift.series] == ["ks_statistic"]  # psi has no threshold: not summarised
    ks = drift.series[0]
    assert ks.values == [0.01, 0.01, 0.01, 0.9, 0.01, 0.01]
    assert ks.alert_windows == 1 and ks.peak == 0.9 and ks.last == 0.01 and ks.threshold == 0.1
    scores = next(c for c in board.charts if c.check == "score").series[0]
    assert scores.values[0] == pytest.approx(3.0 + 4.5)  # the mean of windows 0..9
    assert board.n_alerts[3] == 1 and sum(board.n_tags) == 600


def test_a_window_without_enough_data_has_no_value_and_other_slices_stay_apart(backend_: Backend) -> None:
    write(backend_, "", [(None, 0.0, False), (0.2, 0.01, True)])
    write(backend_, "client==b", [(0.05, 0.0, False)])
    board = dashboards.dashboard(backend_, PROJECT, INFO, "", T0, T0 + timedelta(minutes=2))
    ks = next(c for c in board.charts if c.check == "drift").series[0]
    assert ks.values == [None, 0.2] and ks.alert_windows == 1
    assert board.slices == ["", "client==b"]
    assert (
        dashboards.dashboard(backend_, PROJECT, INFO, "client==c", T0, T0 + timedelta(hours=1)).n_windows == 0
    )


def test_a_window_reduced_again_replaces_its_summary(backend_: Backend) -> None:
    write(backend_, "", [(0.05, 0.0, False)])
    with backend_.reading() as session:
        stored = reduce_store.lock_windows(session, PROJECT, REDUCER, [T0])[("", T0)]
    again = reduce_store.WindowWrite(
        stored.id,
        "",
        T0,
        T0 + timedelta(minutes=1),
        None,
        None,
        20,
        1,
        window_summary(rows(0.4, 0.0, True), {}),
    )
    with backend_.writing() as session:
        reduce_store.save_windows(session, PROJECT, REDUCER, [again], 2, T0)
    board = dashboards.dashboard(backend_, PROJECT, INFO, "", T0, T0 + timedelta(minutes=1))
    assert next(c for c in board.charts if c.check == "drift").series[0].values == [0.4]
    assert board.n_tags == [20]


def test_the_range_comes_from_the_query_or_a_preset_up_to_now() -> None:
    now = datetime(2026, 7, 2, 10, 30, 15, tzinfo=UTC)
    assert dashboards.time_range(None, None, None, now) == (
        datetime(2026, 7, 1, 10, 31, tzinfo=UTC),
        datetime(2026, 7, 2, 10, 31, tzinfo=UTC),
    )
    begin, end = dashboards.time_range("2026-07-01T00:00:00Z", "2026-07-01T06:00:00", None, now)
    assert end - begin == timedelta(hours=6) and end.tzinfo is not None
    with pytest.raises(dashboards.InvalidInputError, match="range='2y' is not a preset"):
        dashboards.time_range(None, None, "2y", now)
    assert dashboards.bucket_seconds(T0, T0 + timedelta(days=7), 60) == 28 * 60  # 360 points at most
