"""Reduce windows: fixed intervals of trace time, the unit a reducer keeps state for.

A window is ``[start, start + interval)`` with ``start = floor(t / interval) * interval``
seconds since the Unix epoch (UTC), so every process computes the same windows
without talking to another, and two reducers with the same interval share them.
``t`` is the trace's ``first_ts`` (the time of its first event, normally the
request), not the tag's own time: the eval tags a mapper writes when a late
actual arrives then land in the window of the prediction they judge, which is
what a production profile of that window must describe.

This module only computes times; it never reads the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class Window:
    """``[start, end)`` of trace time (aware UTC datetimes)."""

    start: datetime
    end: datetime


def window_start(ts: datetime, interval_s: int) -> datetime:
    """The start of the window of length ``interval_s`` seconds that holds ``ts``."""
    if interval_s < 1:
        raise ValueError(f"a window interval must be at least 1 second, got {interval_s!r}")
    if ts.tzinfo is None:
        raise ValueError(f"window times must be aware (UTC), got the naive datetime {ts.isoformat()}")
    seconds = (ts - EPOCH).total_seconds()
    return EPOCH + timedelta(seconds=math.floor(seconds / interval_s) * interval_s)


def window_of(ts: datetime, interval_s: int) -> Window:
    """The window of length ``interval_s`` seconds that holds ``ts``."""
    start = window_start(ts, interval_s)
    return Window(start, start + timedelta(seconds=interval_s))


def tick_of(now: datetime, interval_s: float) -> int:
    """The number of the interval ``now`` is in (windows since the epoch): the reduce job's schedule key."""
    return math.floor((now - EPOCH).total_seconds() / interval_s)
