"""Dashboards: a profile reducer's drift, integrity and performance over time, one slice at a time.

``profile_reducers`` lists the current manifest's profile reducers (what a dashboard can
show); ``dashboard`` answers one reducer's slice over ``[begin, end)`` as charts of at most
``MAX_POINTS`` points each, whatever the range: windows are grouped into buckets of whole
windows, a bucket showing the worst value of its windows (the highest drift, integrity or
worsening; a score's mean), so a spike in one 1-minute window of a week still shows. It reads
the windows' summaries (``store.reduce.summaries``: a few kilobytes per window, never the
states or every contrast row), so a week of 1-minute windows stays well under a second to
answer and a megabyte to send. This module never parses HTTP and runs no SQL.
"""

from __future__ import annotations

import base64
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from raymon.server.engine.profile_reducer import SCORE_CHECK
from raymon.server.engine.reduce_jobs import PROFILE_REDUCER
from raymon.server.services import manifests
from raymon.server.services.errors import InvalidInputError, NotFoundError
from raymon.server.services.time_text import parse_time
from raymon.server.store import reduce as reduce_store

if TYPE_CHECKING:
    from raymon.server.backend import Backend

MAX_POINTS = 360  # points per chart line (buckets); the range decides how many windows each holds
TOP_SERIES = 8  # lines per chart; the table beside it lists every series
CHECKS: tuple[tuple[str, str, str], ...] = (
    ("drift", "Drift", "Distance of each component's production distribution from the reference"),
    ("integrity", "Integrity", "Increase of missing values and errors over the reference"),
    ("performance", "Performance change", "Relative worsening of evaluations and scores"),
    (SCORE_CHECK, "Scores", "The production scores (mean per point)"),
)


@dataclass(frozen=True)
class ReducerInfo:
    name: str  # the profile's name@version
    interval_s: int


@dataclass
class Series:
    check: str
    metric: str
    component: str
    values: list[float | None]  # one per bucket
    threshold: float | None
    alert_windows: int  # windows of the range in which this check alerted
    peak: float | None
    last: float | None

    @property
    def cells(self) -> list[str]:
        """The values as a table shows them (4 significant digits; "–" for none)."""
        return ["–" if v is None else f"{v:.4g}" for v in self.values]

    @property
    def label(self) -> str:
        if self.check == SCORE_CHECK:
            return self.component
        if self.check == "integrity":
            return f"{self.component} · {self.metric.replace('_', ' ')}"
        return self.component


@dataclass
class Chart:
    check: str
    title: str
    description: str
    series: list[Series]  # every series, the most striking first
    shown: list[Series] = field(default_factory=list)  # the lines drawn (TOP_SERIES)

    def data(self) -> dict[str, Any]:
        """What app.js draws: the lines' labels, values and thresholds."""
        return {
            "check": self.check,
            "title": self.title,
            "series": [{"label": s.label, "values": s.values, "threshold": s.threshold} for s in self.shown],
        }


@dataclass
class Dashboard:
    reducer: ReducerInfo
    slice: str
    slices: list[str]
    begin: datetime
    end: datetime
    bucket_s: int
    starts: list[datetime]  # each bucket's first window start
    ends: list[datetime]  # each bucket's last window end
    n_tags: list[int]
    n_alerts: list[int]
    n_windows: int
    charts: list[Chart]

    def data(self) -> dict[str, Any]:
        """The chart data for ``<script type="application/json">`` (times as epoch seconds)."""
        return {
            "begin": int(self.begin.timestamp()),  # the x axis shows the range asked for, whatever the points
            "end": int(self.end.timestamp()),
            "x": [int(t.timestamp()) for t in self.starts],
            "ends": [int(t.timestamp()) for t in self.ends],
            "charts": [c.data() for c in self.charts if c.shown],
        }


def profile_reducers(backend: Backend, project_id: str) -> list[ReducerInfo] | None:
    """The current manifest's profile reducers (None: the project has no manifest)."""
    manifest = manifests.current(backend, project_id)
    if manifest is None:
        return None
    default_s = manifest.settings.default_interval_s()
    return [
        ReducerInfo(action.name, action.interval_s(default_s))
        for action in manifest.actions.reduce
        if action.reducer_type == PROFILE_REDUCER
    ]


def find_reducer(backend: Backend, project_id: str, name: str) -> ReducerInfo:
    """The manifest's profile reducer ``name``, or ``NotFoundError`` naming the ones there are."""
    found = profile_reducers(backend, project_id) or []
    for info in found:
        if info.name == name:
            return info
    known = ", ".join(i.name for i in found) or "none"
    raise NotFoundError(f"the manifest of {project_id!r} has no profile reducer {name!r} (it has: {known})")


def slices(backend: Backend, project_id: str, reducer: str) -> list[str]:
    """The slices the reducer has results of, the global one (``""``) first."""
    with backend.reading() as session:
        found = reduce_store.summary_slices(session, project_id, reducer)
    return sorted(found, key=lambda s: (s != "", s))


def span(backend: Backend, project_id: str, reducer: str) -> tuple[datetime | None, datetime | None]:
    """When the reducer's first window starts and its last one ends (Nones: no window yet)."""
    with backend.reading() as session:
        return reduce_store.summary_span(session, project_id, reducer)


def clip_to_first_window(
    backend: Backend, project_id: str, reducer: str, begin: datetime, end: datetime
) -> datetime:
    """``begin``, or the reducer's first window start when that is later (and before ``end``).

    A young project (the demo, minutes old) then fills its charts instead of one point at the
    right edge of a day.
    """
    first, _ = span(backend, project_id, reducer)
    if first is None or not begin < first < end:
        return begin
    return first


def bucket_seconds(begin: datetime, end: datetime, interval_s: int, max_points: int = MAX_POINTS) -> int:
    """The bucket length: whole windows, so that ``[begin, end)`` makes at most ``max_points`` buckets."""
    windows = max(1, math.ceil((end - begin).total_seconds() / interval_s))
    return interval_s * max(1, math.ceil(windows / max_points))


def dashboard(
    backend: Backend,
    project_id: str,
    reducer: ReducerInfo,
    slicestr: str,
    begin: datetime,
    end: datetime,
    max_points: int = MAX_POINTS,
) -> Dashboard:
    """One reducer's slice over windows starting in ``[begin, end)``, in at most ``max_points`` buckets."""
    if end <= begin:
        raise InvalidInputError(f"the range ends ({end.isoformat()}) before it begins ({begin.isoformat()})")
    with backend.reading() as session:
        rows = reduce_store.summaries(session, project_id, reducer.name, slicestr, begin, end)
        known = reduce_store.summary_slices(session, project_id, reducer.name)
        layouts = reduce_store.summary_layouts(session, project_id, reducer.name) if rows else {}
    bucket_s = bucket_seconds(begin, end, reducer.interval_s, max_points)
    board = Dashboard(
        reducer=reducer,
        slice=slicestr,
        slices=sorted(known, key=lambda s: (s != "", s)),
        begin=begin,
        end=end,
        bucket_s=bucket_s,
        starts=[],
        ends=[],
        n_tags=[],
        n_alerts=[],
        n_windows=len(rows),
        charts=[],
    )
    if rows:
        _fill(board, rows, layouts)
    return board


def _fill(board: Dashboard, rows: Sequence[reduce_store.SummaryRow], layouts: dict[str, str]) -> None:
    columns: dict[str, int] = {}  # "check\tmetric\tcomponent" -> column
    thresholds_of: dict[str, float | None] = {}
    placed: dict[str, list[int]] = {}  # layout -> the columns of its values
    for name, text in layouts.items():
        layout = orjson.loads(text)
        keys = layout["keys"].split("|") if layout["keys"] else []
        placed[name] = [columns.setdefault(k, len(columns)) for k in keys]
        for key, threshold in zip(keys, layout["thresholds"], strict=True):
            if threshold is not None or key not in thresholds_of:
                thresholds_of[key] = threshold
    n = len(rows)
    values = np.full((n, len(columns)), np.nan)
    alerts = np.zeros((n, len(columns)), dtype=np.int64)
    thresholds: list[float | None] = [thresholds_of.get(k) for k in columns]
    for layout, cols in placed.items():
        at = [i for i, r in enumerate(rows) if r.layout == layout]
        if not at or not cols:
            continue
        packed, flagged = zip(*(rows[i].summary.split(";", 1) for i in at), strict=True)
        raw = b"".join(base64.b64decode(p) for p in packed)
        values[np.ix_(at, cols)] = np.frombuffer(raw, dtype="<f4").reshape(len(at), len(cols))
        for i, text in zip(at, flagged, strict=True):
            if text:
                for k in text.split(","):
                    alerts[i, cols[int(k)]] = 1
    epoch = np.array([r.start_s for r in rows])
    bucket = np.floor_divide(epoch, board.bucket_s).astype(np.int64)
    firsts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    lasts = np.r_[firsts[1:], n] - 1
    interval = timedelta(seconds=board.reducer.interval_s)
    board.starts = [_moment(rows[int(i)].start_s) for i in firsts]
    board.ends = [_moment(rows[int(i)].start_s) + interval for i in lasts]
    board.n_tags = [int(x) for x in np.add.reduceat(np.array([r.n_tags for r in rows]), firsts)]
    board.n_alerts = [int(x) for x in np.add.reduceat(np.array([r.n_alerts for r in rows]), firsts)]
    present = ~np.isnan(values)
    if len(columns):
        with np.errstate(invalid="ignore", divide="ignore"):
            worst = np.fmax.reduceat(values, firsts, axis=0)
            sums = np.add.reduceat(np.where(present, values, 0.0), firsts, axis=0)
            counts = np.add.reduceat(present.astype(np.int64), firsts, axis=0)
            means = sums / counts
    else:
        worst = means = values
    alert_windows = alerts.sum(axis=0)
    any_value = present.any(axis=0)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: their peak is None
        peaks = np.nanmax(values, axis=0) if n else np.full(len(columns), np.nan)
    last_at = n - 1 - np.argmax(present[::-1], axis=0) if n else np.zeros(len(columns), dtype=int)
    by_check: dict[str, list[Series]] = {}
    for key, col in columns.items():
        check, metric, component = key.split("\t")
        line = means[:, col] if check == SCORE_CHECK else worst[:, col]
        shown = [None if v != v else float(f"{v:.6g}") for v in line.tolist()]
        has = bool(any_value[col])
        by_check.setdefault(check, []).append(
            Series(
                check=check,
                metric=metric,
                component=component,
                values=shown,
                threshold=thresholds[col],
                alert_windows=int(alert_windows[col]),
                peak=_rounded(peaks[col]) if has else None,
                last=_rounded(values[last_at[col], col]) if has else None,
            )
        )
    for check, title, description in CHECKS:
        found = by_check.get(check, [])
        found.sort(key=lambda s: (-s.alert_windows, -(s.peak if s.peak is not None else -math.inf), s.label))
        board.charts.append(Chart(check, title, description, found, found[:TOP_SERIES]))


def _rounded(value: Any) -> float:
    """A stored value (float32) to the 6 significant digits it was stored with."""
    return float(f"{float(value):.6g}")


def _moment(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(round(epoch_s, 6), UTC)


# --- the range of a page -------------------------------------------------------------------------

PRESETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_PRESET = "24h"


def time_range(
    begin: str | None, end: str | None, preset: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """``[begin, end)`` from the query string: absolute times, else the preset (default 24 h) up to now."""
    if preset and preset not in PRESETS:
        raise InvalidInputError(f"range={preset!r} is not a preset; use one of {', '.join(PRESETS)}")
    until = parse_time("end", end) or _ceil_minute(now)
    since = parse_time("begin", begin) or until - PRESETS[preset or DEFAULT_PRESET]
    if until <= since:
        raise InvalidInputError(f"end ({until.isoformat()}) must be after begin ({since.isoformat()})")
    return since, until


def _ceil_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)
