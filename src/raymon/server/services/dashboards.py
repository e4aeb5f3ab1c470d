"""Dashboards: a profile reducer's drift, integrity and performance over time, one slice at a time.

``profile_reducers`` lists the current manifest's profile reducers (what a dashboard can
show); ``dashboard`` answers one reducer's slice over ``[begin, end)`` as charts of at most
``MAX_POINTS`` points each, whatever the range: windows are grouped into buckets of whole
windows, a bucket showing the highest value of its windows (the worst drift, integrity or
worsening; a score's mean) and the band from their lowest to their highest, so a spike in one
1-minute window of a week still shows. A point of 10 windows or more is read from the rollups
(``store.rollups``: buckets of 10 and 60 windows written with the summaries), the range's ragged
edges from the windows' summaries (``store.reduce.summaries``), never the states or contrast
rows: a week of 1-minute windows reads ~1,000 rows instead of 10,080. This module never parses
HTTP and runs no SQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from raymon.server.engine.profile_reducer import SCORE_CHECK
from raymon.server.engine.reduce_jobs import PROFILE_REDUCER
from raymon.server.services import manifests
from raymon.server.services.errors import InvalidInputError, NotFoundError
from raymon.server.services.time_text import parse_time
from raymon.server.store import reduce as reduce_store
from raymon.server.store import rollups

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
    """One (check, metric, component) over the range: per point its headline value, lowest and highest.

    The headline is the highest of the point's windows (the worst drift, integrity or worsening)
    or, for a score, their mean. The arrays are float64 with NaN where no window had a value;
    the lists (``values``, ``lows``, ``highs``) are what a page carries, made for drawn series only.
    """

    check: str
    metric: str
    component: str
    line: np.ndarray  # one per bucket
    threshold: float | None
    alert_windows: int  # windows of the range in which this check alerted
    peak: float | None
    last: float | None
    low: np.ndarray | None = None  # per bucket: the lowest of its windows
    high: np.ndarray | None = None  # and the highest

    @cached_property
    def values(self) -> list[float | None]:
        return significant(self.line, 6)

    @cached_property
    def lows(self) -> list[float | None]:
        return significant(self.line if self.low is None else self.low, 6)

    @cached_property
    def highs(self) -> list[float | None]:
        return significant(self.line if self.high is None else self.high, 6)

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

    def data(self, band: bool) -> dict[str, Any]:
        """What app.js draws: the lines' labels, values and thresholds; ``band``: each point's lowest and highest too.

        Chart values carry 4 significant digits (what the tables show; a canvas needs no more).
        """
        out = []
        for s in self.shown:
            line: dict[str, Any] = {"label": s.label, "values": _short(s.values), "threshold": s.threshold}
            if band:
                line["band"] = [_short(s.lows), _short(s.highs)]
            out.append(line)
        return {"check": self.check, "title": self.title, "series": out}


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
            "charts": [c.data(self.bucket_s > self.reducer.interval_s) for c in self.charts if c.shown],
        }

    @property
    def windows_per_point(self) -> int:
        return max(1, self.bucket_s // self.reducer.interval_s)


def _short(values: list[float | None]) -> list[float | None]:
    return significant(np.array([np.nan if v is None else v for v in values], dtype=np.float64), 4)


def significant(values: np.ndarray, digits: int) -> list[float | None]:
    """``values`` rounded to ``digits`` significant digits, None for NaN (vectorised: a week's chart
    has tens of thousands of values and ``float(f"{v:.6g}")`` costs a microsecond each)."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    safe = np.where(finite & (v != 0), np.abs(v), 1.0)
    decimals = (digits - 1 - np.floor(np.log10(safe))).astype(np.int64)
    up = 10.0 ** np.clip(decimals, 0, 300)
    down = 10.0 ** np.clip(-decimals, 0, 300)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.where(decimals >= 0, np.round(np.where(finite, v, 0.0) * up) / up, np.round(v / down) * down)
    return [x if f else None for x, f in zip(out.tolist(), finite.tolist(), strict=True)]


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


def rollup_level(windows_per_point: int) -> int | None:
    """The rollup buckets a chart of ``windows_per_point`` windows a point reads (``store.rollups.LEVELS``).

    The coarsest level that is no coarser than a point, so a point holds whole rollup buckets
    and the count of points stays within a factor of the level ratio of ``MAX_POINTS``; None:
    read the windows' own summaries (a range of fewer than 10 windows a point).
    """
    found = [level for level in rollups.LEVELS if level <= windows_per_point]
    return max(found) if found else None


@dataclass
class _Units:
    """What a chart's points are made of, oldest first: windows' summaries and rollup buckets."""

    start_s: list[float] = field(default_factory=list)  # a window's or a bucket's start
    first_s: list[float] = field(default_factory=list)  # its first window's start
    end_s: list[float] = field(default_factory=list)  # its last window's end
    n_windows: list[int] = field(default_factory=list)
    n_tags: list[int] = field(default_factory=list)
    n_alerts: list[int] = field(default_factory=list)
    layout: list[str] = field(default_factory=list)
    payload: list[Any] = field(default_factory=list)  # a summary's text, or a rollup's packed stats
    rolled: list[bool] = field(default_factory=list)

    def add_windows(self, rows: Sequence[reduce_store.SummaryRow], interval_s: int) -> None:
        if not rows:
            return
        start_s, n_tags, n_alerts, layout, summary = zip(*rows, strict=True)
        self.start_s += start_s
        self.first_s += start_s
        self.end_s += [t + interval_s for t in start_s]
        self.n_windows += [1] * len(rows)
        self.n_tags += n_tags
        self.n_alerts += n_alerts
        self.layout += layout
        self.payload += summary
        self.rolled += [False] * len(rows)

    def add_rollups(self, rows: Sequence[rollups.RollupRow]) -> None:
        if not rows:
            return
        start_s, first_s, end_s, n_windows, n_tags, n_alerts, layout, stats = zip(*rows, strict=True)
        self.start_s += start_s
        self.first_s += first_s
        self.end_s += end_s
        self.n_windows += n_windows
        self.n_tags += n_tags
        self.n_alerts += n_alerts
        self.layout += layout
        self.payload += stats
        self.rolled += [True] * len(rows)


def dashboard(
    backend: Backend,
    project_id: str,
    reducer: ReducerInfo,
    slicestr: str,
    begin: datetime,
    end: datetime,
    max_points: int = MAX_POINTS,
    use_rollups: bool = True,
) -> Dashboard:
    """One reducer's slice over windows starting in ``[begin, end)``, in at most ``max_points`` buckets.

    A point of 10 windows or more is made of rollup buckets (``store.rollups``) where the range
    holds whole ones, and of the windows themselves at the range's ragged edges: the same numbers
    as from the windows alone (``use_rollups=False``, for tests and the benchmark's baseline),
    read from a tenth or a sixtieth of the rows.
    """
    if end <= begin:
        raise InvalidInputError(f"the range ends ({end.isoformat()}) before it begins ({begin.isoformat()})")
    interval_s = reducer.interval_s
    bucket_s = bucket_seconds(begin, end, interval_s, max_points)
    level = rollup_level(bucket_s // interval_s) if use_rollups else None
    if level is not None:
        bucket_s = interval_s * level * math.ceil(bucket_s / (interval_s * level))
    units = _Units()
    with backend.reading() as session:
        known = reduce_store.summary_slices(session, project_id, reducer.name)
        if level is None:
            units.add_windows(
                reduce_store.summaries(session, project_id, reducer.name, slicestr, begin, end), interval_s
            )
        else:
            _read_with_rollups(session, units, project_id, reducer, slicestr, begin, end, interval_s * level)
        layouts = reduce_store.summary_layouts(session, project_id, reducer.name) if units.layout else {}
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
        n_windows=sum(units.n_windows),
        charts=[],
    )
    if units.layout:
        _fill(board, units, layouts)
    return board


def _read_with_rollups(
    session: Any,
    units: _Units,
    project_id: str,
    reducer: ReducerInfo,
    slicestr: str,
    begin: datetime,
    end: datetime,
    span_s: int,
) -> None:
    """The range's whole ``span_s`` rollup buckets, and the windows before and after them.

    No bucket before the slice's first window is read: retention may have deleted some of a
    bucket's windows, never the ones after them.
    """
    first = reduce_store.summary_first(session, project_id, reducer.name, slicestr)
    if first is None or first >= end:
        return
    since = max(begin, first)
    inner_begin = _moment(math.ceil(since.timestamp() / span_s) * span_s)
    inner_end = _moment(math.floor(end.timestamp() / span_s) * span_s)
    if inner_begin >= inner_end:
        units.add_windows(
            reduce_store.summaries(session, project_id, reducer.name, slicestr, begin, end),
            reducer.interval_s,
        )
        return
    name = reducer.name
    units.add_windows(
        reduce_store.summaries(session, project_id, name, slicestr, begin, inner_begin), reducer.interval_s
    )
    units.add_rollups(rollups.rollups(session, project_id, name, slicestr, span_s, inner_begin, inner_end))
    units.add_windows(
        reduce_store.summaries(session, project_id, name, slicestr, inner_end, end), reducer.interval_s
    )


def _fill(board: Dashboard, units: _Units, layouts: dict[str, str]) -> None:
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
    n = len(units.layout)
    stats = rollups.Stats.empty(n, len(columns))
    thresholds: list[float | None] = [thresholds_of.get(k) for k in columns]
    starts = np.array(units.start_s)
    for (layout, rolled), at in _groups(units).items():
        cols = placed.get(layout)
        if not cols:
            continue
        payload = [units.payload[i] for i in at]
        made = rollups.unpack(payload, starts[at]) if rolled else rollups.from_summaries(payload, starts[at])
        stats.put(at, cols, made)
    bucket = np.floor_divide(starts + 1e-6, board.bucket_s).astype(np.int64)
    firsts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    board.starts = [_moment(x) for x in np.minimum.reduceat(np.array(units.first_s), firsts).tolist()]
    board.ends = [_moment(x) for x in np.maximum.reduceat(np.array(units.end_s), firsts).tolist()]
    board.n_tags = [int(x) for x in np.add.reduceat(np.array(units.n_tags), firsts)]
    board.n_alerts = [int(x) for x in np.add.reduceat(np.array(units.n_alerts), firsts)]
    points = stats.combine(firsts)
    whole = points.combine(np.array([0]))
    means, lows, highs = points.means, points.mins, points.maxs
    by_check: dict[str, list[Series]] = {}
    for key, col in columns.items():
        check, metric, component = key.split("\t")
        line = means[:, col] if check == SCORE_CHECK else highs[:, col]
        has = bool(whole.counts[0, col] > 0)
        by_check.setdefault(check, []).append(
            Series(
                check=check,
                metric=metric,
                component=component,
                line=line,
                threshold=thresholds[col],
                alert_windows=int(whole.alerts[0, col]),
                peak=_rounded(whole.maxs[0, col]) if has else None,
                last=_rounded(whole.lasts[0, col]) if has else None,
                low=lows[:, col],
                high=highs[:, col],
            )
        )
    for check, title, description in CHECKS:
        found = by_check.get(check, [])
        found.sort(key=lambda s: (-s.alert_windows, -(s.peak if s.peak is not None else -math.inf), s.label))
        board.charts.append(Chart(check, title, description, found, found[:TOP_SERIES]))


def _groups(units: _Units) -> dict[tuple[str, bool], np.ndarray]:
    """The units' positions by (layout, rollup or window)."""
    found: dict[tuple[str, bool], list[int]] = {}
    for i, key in enumerate(zip(units.layout, units.rolled, strict=True)):
        found.setdefault(key, []).append(i)
    return {k: np.array(v, dtype=np.intp) for k, v in found.items()}


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
