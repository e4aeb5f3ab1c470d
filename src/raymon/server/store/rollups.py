"""Dashboard rollups: the windows' summaries pre-aggregated into buckets of 10 and 60 windows.

A dashboard over a week of 1-minute windows would read 10,080 summaries per slice to draw
charts of a few hundred points. ``reduce_rollups`` keeps, per (slice, bucket, summary layout),
what a chart needs of the bucket's windows for each value of the layout: the lowest, the
highest, the sum and count of the present values (the mean), how many windows alerted, and the
latest present value with its time (a table's "last"); plus the bucket's window count, tag and
alert counts, first window start and last window end. Aggregating buckets of these again gives
exactly what aggregating the windows gives (min of mins, max of maxes, sums of sums...), so a
week reads 1,008 rows of 10-window buckets, a month 720 rows of 60-window buckets.

Why rows written with the summaries rather than ``GROUP BY`` at read time: the summary values
are packed (``engine.profile_reducer.window_summary``: float32 in base64), which SQL cannot
aggregate; and the work is paid once per window written instead of once per page view.
``refresh`` runs in the transaction that writes the summaries (``reduce.save_windows``): it
recomputes each touched 10-window bucket from its summaries (at most 10 rows), then each
touched 60-window bucket from its 10-window buckets (at most 6 rows), replacing the rows
(a rewritten window may change its layout). A bucket is aligned on the epoch at a multiple of
its span (``level`` windows of the window's length), so every bucket lies inside one chart
bucket whose length is a multiple of it.

The ``stats`` column packs the arrays of one row, ``k`` values each (``k`` from its size):
min, max and last (float32: the summaries' own precision, so exact), the last value's offset
from the bucket start in seconds (uint32), count and alerts (uint16), and the sum (float64).
Rows of windows that retention deleted stay behind; ``services.dashboards`` reads no rollup
older than the slice's first window, and ``delete_before`` removes them.
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Table, delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from raymon.server.store import plain_sql
from raymon.server.store.models import ReduceRollup, ReduceSummary

_TABLE: Table = ReduceRollup.__table__  # type: ignore[assignment]
LEVELS = (10, 60)  # windows per rollup bucket; each level a multiple of the one before
_BYTES_PER_VALUE = 4 + 4 + 4 + 4 + 2 + 2 + 8
_CHUNK = 500


class RollupRow(NamedTuple):
    """One bucket's aggregate of one layout's windows (``stats`` packed, see the module docstring)."""

    start_s: float  # the bucket's start, epoch seconds
    first_s: float  # its first window's start
    end_s: float  # its last window's end
    n_windows: int
    n_tags: int
    n_alerts: int
    layout: str
    stats: bytes


@dataclass
class Stats:
    """Per (row, value): the aggregate of some windows' values; a row is a window, a bucket or a chart point.

    ``mins``/``maxs``/``lasts`` NaN, ``sums``/``counts``/``alerts`` 0 and ``last_at`` -inf where no
    window had the value.
    """

    mins: np.ndarray
    maxs: np.ndarray
    sums: np.ndarray
    counts: np.ndarray
    alerts: np.ndarray
    lasts: np.ndarray
    last_at: np.ndarray  # the time (epoch seconds) of the window ``lasts`` comes from

    @classmethod
    def empty(cls, n: int, k: int) -> Stats:
        nan = np.full((n, k), np.nan)
        return cls(
            nan,
            nan.copy(),
            np.zeros((n, k)),
            np.zeros((n, k), dtype=np.int64),
            np.zeros((n, k), dtype=np.int64),
            nan.copy(),
            np.full((n, k), -np.inf),
        )

    def __len__(self) -> int:
        return int(self.mins.shape[0])

    @property
    def means(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)

    def put(self, rows: Sequence[int] | np.ndarray, cols: Sequence[int], other: Stats) -> None:
        """Place ``other`` (one row per ``rows``, one value per ``cols``) into these rows and columns."""
        at = np.ix_(np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp))
        for name in _FIELDS:
            getattr(self, name)[at] = getattr(other, name)

    def combine(self, firsts: np.ndarray) -> Stats:
        """One row per group of consecutive rows (``firsts``: each group's first row, increasing)."""
        n = len(self)
        lengths = np.diff(np.r_[firsts, n])
        last_at = np.maximum.reduceat(self.last_at, firsts, axis=0)
        latest = (self.last_at == np.repeat(last_at, lengths, axis=0)) & np.isfinite(self.last_at)
        return Stats(
            np.fmin.reduceat(self.mins, firsts, axis=0),
            np.fmax.reduceat(self.maxs, firsts, axis=0),
            np.add.reduceat(self.sums, firsts, axis=0),
            np.add.reduceat(self.counts, firsts, axis=0),
            np.add.reduceat(self.alerts, firsts, axis=0),
            np.fmax.reduceat(np.where(latest, self.lasts, np.nan), firsts, axis=0),
            last_at,
        )


_FIELDS = ("mins", "maxs", "sums", "counts", "alerts", "lasts", "last_at")


def from_summaries(summaries: Sequence[str], starts: np.ndarray) -> Stats:
    """The windows' summaries (of one layout; ``starts`` their epoch seconds) as one row each.

    The arrays may share memory (a window's min, max and last are its value): read them only.
    """
    packed, flagged = zip(*(s.split(";", 1) for s in summaries), strict=True)
    raw = b"".join([base64.b64decode(p) for p in packed])
    n = len(summaries)
    values = np.frombuffer(raw, dtype="<f4").reshape(n, -1).astype(np.float64)
    alerts = np.zeros(values.shape, dtype=np.int64)
    rows: list[int] = []
    cols: list[int] = []
    for i, text in enumerate(flagged):
        if text:
            found = text.split(",")
            rows += [i] * len(found)
            cols += found
    if rows:
        alerts[rows, np.array(cols, dtype=np.intp)] = 1
    present = ~np.isnan(values)
    return Stats(
        values,
        values,
        np.where(present, values, 0.0),
        present.astype(np.int64),
        alerts,
        values,
        np.where(present, np.asarray(starts, dtype=np.float64)[:, None], -np.inf),
    )


def unpack(blobs: Sequence[bytes], starts: np.ndarray) -> Stats:
    """Rollup rows' ``stats`` (of one layout; ``starts`` the buckets' epoch seconds) as one row each."""
    n = len(blobs)
    raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(n, -1)
    k = raw.shape[1] // _BYTES_PER_VALUE
    parts = np.split(raw, np.cumsum([4 * k, 4 * k, 4 * k, 4 * k, 2 * k, 2 * k]), axis=1)

    def as_(part: np.ndarray, dtype: str) -> np.ndarray:
        return np.ascontiguousarray(part).view(dtype).reshape(n, k)

    counts = as_(parts[4], "<u2").astype(np.int64)
    offsets = as_(parts[3], "<u4").astype(np.float64)
    has = counts > 0
    return Stats(
        as_(parts[0], "<f4").astype(np.float64),
        as_(parts[1], "<f4").astype(np.float64),
        as_(parts[6], "<f8").astype(np.float64),
        counts,
        as_(parts[5], "<u2").astype(np.int64),
        as_(parts[2], "<f4").astype(np.float64),
        np.where(has, np.asarray(starts, dtype=np.float64)[:, None] + offsets, -np.inf),
    )


def pack(stats: Stats, row: int, start_s: float) -> bytes:
    """Row ``row`` of ``stats`` (a bucket starting at ``start_s``) as a ``stats`` column value."""
    has = stats.counts[row] > 0
    offsets = np.where(has, stats.last_at[row] - start_s, 0.0)
    return b"".join(
        (
            stats.mins[row].astype("<f4").tobytes(),
            stats.maxs[row].astype("<f4").tobytes(),
            stats.lasts[row].astype("<f4").tobytes(),
            np.round(offsets).astype("<u4").tobytes(),
            stats.counts[row].astype("<u2").tobytes(),
            stats.alerts[row].astype("<u2").tobytes(),
            stats.sums[row].astype("<f8").tobytes(),
        )
    )


# --- SQL -------------------------------------------------------------------------------------------


def _epoch(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0  # stored as sortable ISO text in UTC


def _moment(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _floor(epoch_s: float, span_s: int) -> float:
    return math.floor(epoch_s / span_s + 1e-9) * span_s


_ROLLUPS = (
    "SELECT {epoch[bucket_start]}, {epoch[first_start]}, {epoch[last_end]}, n_windows, n_tags, n_alerts, "
    "layout, stats FROM reduce_rollups WHERE project_id = {param[p]} AND reducer = {param[r]} "
    "AND slice = {param[s]} AND span_s = {param[n]} AND bucket_start >= {param[b]} "
    "AND bucket_start < {param[e]} ORDER BY bucket_start, layout"
)


def rollups(
    session: Session,
    project_id: str,
    reducer: str,
    slicestr: str,
    span_s: int,
    begin: datetime,
    end: datetime,
) -> list[RollupRow]:
    """The ``span_s`` buckets of one slice starting in ``[begin, end)``, oldest first (plain SQL: ``plain_sql``)."""
    params = {
        "p": project_id,
        "r": reducer,
        "s": slicestr,
        "n": span_s,
        "b": plain_sql.time_param(session, begin),
        "e": plain_sql.time_param(session, end),
    }
    return [
        RollupRow(
            round(float(a), 3),
            round(float(b), 3),
            round(float(c), 3),
            int(n),
            int(t),
            int(al),
            lay,
            bytes(st),
        )
        for a, b, c, n, t, al, lay, st in plain_sql.rows(session, plain_sql.sql(session, _ROLLUPS), params)
    ]


def refresh(
    session: Session, project_id: str, reducer: str, windows: Iterable[tuple[str, datetime, datetime]]
) -> None:
    """Recompute the buckets holding ``windows`` ((slice, start, end) whose summaries were just written)."""
    touched: dict[int, set[tuple[str, float]]] = defaultdict(set)  # window length -> (slice, start)
    for slicestr, start, end in windows:
        touched[round((end - start).total_seconds())].add((slicestr, start.timestamp()))
    for interval_s, found in touched.items():
        if interval_s <= 0:
            continue
        lower: set[tuple[str, float]] = found
        lower_span = 0  # 0: the summaries themselves
        for level in LEVELS:
            span_s = interval_s * level
            buckets = {(s, _floor(t, span_s)) for s, t in lower}
            _rebuild(session, project_id, reducer, span_s, lower_span, buckets)
            lower, lower_span = buckets, span_s


def _rebuild(
    session: Session,
    project_id: str,
    reducer: str,
    span_s: int,
    source_span: int,
    buckets: set[tuple[str, float]],
) -> None:
    """Replace the ``span_s`` rows of ``buckets`` ((slice, start)) by aggregates of their ``source_span`` rows.

    One read, one delete and one insert per run of nearby buckets: every bucket of the run's
    slices in its time range is rebuilt (those not touched come out as they were).
    """
    for run_start, run_end, slices in _runs(buckets, span_s):
        if source_span == 0:
            rows = _summary_rows(session, project_id, reducer, slices, run_start, run_end)
        else:
            rows = _rollup_rows(session, project_id, reducer, slices, source_span, run_start, run_end)
        session.execute(
            delete(ReduceRollup).where(
                ReduceRollup.project_id == project_id,
                ReduceRollup.reducer == reducer,
                ReduceRollup.slice.in_(slices),
                ReduceRollup.span_s == span_s,
                ReduceRollup.bucket_start >= _moment(run_start),
                ReduceRollup.bucket_start < _moment(run_end),
            )
        )
        values = _aggregate(project_id, reducer, span_s, rows, source_span)
        if values:
            session.execute(insert(_TABLE), values)  # Core executemany: no ORM bulk path


def _aggregate(
    project_id: str, reducer: str, span_s: int, rows: list[Any], source_span: int
) -> list[dict[str, Any]]:
    """The ``span_s`` bucket rows of ``rows`` (``_summary_rows`` or ``_rollup_rows``), one per (slice, bucket, layout)."""
    by_layout: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_layout[r[6]].append(r)
    out: list[dict[str, Any]] = []
    for layout, members in by_layout.items():
        members.sort(key=lambda r: (r[0], r[1]))
        starts = np.array([m[1] for m in members])
        payload = [m[7] for m in members]
        stats = from_summaries(payload, starts) if source_span == 0 else unpack(payload, starts)
        keys = [(m[0], _floor(m[1], span_s)) for m in members]
        firsts = [i for i in range(len(keys)) if i == 0 or keys[i] != keys[i - 1]]
        total = stats.combine(np.array(firsts))
        for g, (lo, hi) in enumerate(zip(firsts, [*firsts[1:], len(members)], strict=True)):
            group = members[lo:hi]
            slicestr, start = keys[lo]
            out.append(
                {
                    "project_id": project_id,
                    "reducer": reducer,
                    "slice": slicestr,
                    "span_s": span_s,
                    "bucket_start": _moment(start),
                    "layout": layout,
                    "first_start": _moment(min(m[2] for m in group)),
                    "last_end": _moment(max(m[3] for m in group)),
                    "n_windows": sum(m[8] for m in group),
                    "n_tags": sum(m[4] for m in group),
                    "n_alerts": sum(m[5] for m in group),
                    "stats": pack(total, g, start),
                }
            )
    return out


_GAP = 6  # untouched buckets between two touched ones that are read through rather than queried apart


def _runs(buckets: set[tuple[str, float]], span_s: int) -> list[tuple[float, float, list[str]]]:
    """The buckets' starts merged into runs (gaps of up to ``_GAP`` buckets), each with the slices touched in it."""
    by_start: dict[float, set[str]] = defaultdict(set)
    for s, t in buckets:
        by_start[t].add(s)
    runs: list[tuple[float, float, set[str]]] = []
    for t in sorted(by_start):
        if runs and t - runs[-1][1] <= _GAP * span_s + 1e-6:
            begin, _, slices = runs[-1]
            runs[-1] = (begin, t + span_s, slices | by_start[t])
        else:
            runs.append((t, t + span_s, set(by_start[t])))
    return [(a, b, sorted(s)) for a, b, s in runs]


def _summary_rows(
    session: Session, project_id: str, reducer: str, slices: list[str], begin: float, end: float
) -> list[Any]:
    """(slice, start, start, end, n_tags, n_alerts, layout, summary, 1) of the summaries in ``[begin, end)``."""
    start_s = _epoch(session, ReduceSummary.window_start)
    stmt = select(
        ReduceSummary.slice,
        start_s,
        _epoch(session, ReduceSummary.window_end),
        ReduceSummary.n_tags,
        ReduceSummary.n_alerts,
        ReduceSummary.layout,
        ReduceSummary.summary,
    ).where(
        ReduceSummary.project_id == project_id,
        ReduceSummary.reducer == reducer,
        ReduceSummary.slice.in_(slices),
        ReduceSummary.window_start >= _moment(begin),
        ReduceSummary.window_start < _moment(end),
    )
    out = []
    for s, t, e, n_tags, n_alerts, layout, summary in session.execute(stmt):
        t = round(float(t), 3)
        out.append((s, t, t, round(float(e), 3), int(n_tags), int(n_alerts), layout, summary, 1))
    return out


def _rollup_rows(
    session: Session, project_id: str, reducer: str, slices: list[str], span_s: int, begin: float, end: float
) -> list[Any]:
    """(slice, start, first, end, n_tags, n_alerts, layout, stats, n_windows) of ``span_s`` buckets in ``[begin, end)``."""
    stmt = select(
        ReduceRollup.slice,
        _epoch(session, ReduceRollup.bucket_start),
        _epoch(session, ReduceRollup.first_start),
        _epoch(session, ReduceRollup.last_end),
        ReduceRollup.n_tags,
        ReduceRollup.n_alerts,
        ReduceRollup.layout,
        ReduceRollup.stats,
        ReduceRollup.n_windows,
    ).where(
        ReduceRollup.project_id == project_id,
        ReduceRollup.reducer == reducer,
        ReduceRollup.slice.in_(slices),
        ReduceRollup.span_s == span_s,
        ReduceRollup.bucket_start >= _moment(begin),
        ReduceRollup.bucket_start < _moment(end),
    )
    return [
        (
            s,
            round(float(t), 3),
            round(float(f), 3),
            round(float(e), 3),
            int(nt),
            int(na),
            lay,
            bytes(b),
            int(nw),
        )
        for s, t, f, e, nt, na, lay, b, nw in session.execute(stmt)
    ]


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def rebuild_all(session: Session, batch: int = 5000) -> int:
    """Compute the rollups of every stored summary (migration 0019's backfill); answer the windows read."""
    done = 0
    keys = session.execute(
        select(ReduceSummary.project_id, ReduceSummary.reducer, ReduceSummary.slice).distinct()
    ).all()
    for project_id, reducer, slicestr in keys:
        after: datetime | None = None
        while True:
            stmt = select(ReduceSummary.window_start, ReduceSummary.window_end).where(
                ReduceSummary.project_id == project_id,
                ReduceSummary.reducer == reducer,
                ReduceSummary.slice == slicestr,
            )
            if after is not None:
                stmt = stmt.where(ReduceSummary.window_start > after)
            found = session.execute(stmt.order_by(ReduceSummary.window_start).limit(batch)).all()
            if not found:
                break
            refresh(session, project_id, reducer, [(slicestr, a, b) for a, b in found])
            done += len(found)
            after = found[-1][0]
    return done


def delete_before(session: Session, project_id: str, cutoff: datetime, limit: int) -> int:
    """Delete at most ``limit`` buckets whose last window ended before ``cutoff``; answer how many.

    Retention's part (``store.retention``): the windows of those buckets are gone. A bucket
    straddling the cutoff stays; the dashboard reads its kept windows' summaries instead of it.
    """
    key = (
        ReduceRollup.reducer,
        ReduceRollup.slice,
        ReduceRollup.span_s,
        ReduceRollup.bucket_start,
        ReduceRollup.layout,
    )
    found = session.execute(
        select(*key).where(ReduceRollup.project_id == project_id, ReduceRollup.last_end < cutoff).limit(limit)
    ).all()
    for chunk in _chunks(found):
        session.execute(
            delete(ReduceRollup).where(
                ReduceRollup.project_id == project_id, tuple_(*key).in_([tuple(row) for row in chunk])
            )
        )
    return len(found)
