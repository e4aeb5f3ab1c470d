"""Tags as the API shows them: a trace's tags as JSON, stored values as logged, and tag statistics.

It never parses HTTP and runs no SQL (``store.tags`` does).
"""

from __future__ import annotations

import heapq
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from raymon.server.services.paging import MAX_PAGE, QueryError, iso
from raymon.server.store import tags as tag_store
from raymon.server.store import traces as trace_store
from raymon.server.store.db import Session
from raymon.server.store.tags import TagRow

if TYPE_CHECKING:
    from raymon.server.backend import Backend

DEFAULT_STATS_SAMPLE = 10_000
MAX_STATS_SAMPLE = 1_000_000


def tag_value(value_num: float | None, value_text: str | None) -> str | int | float | None:
    """A stored tag value as the user logged it: text, or a number (whole numbers as int)."""
    if value_text is not None:
        return value_text
    if value_num is not None and value_num.is_integer() and abs(value_num) < 2**53:
        return int(value_num)
    return value_num


def tag_json(row: TagRow) -> dict[str, Any]:
    """``{"name", "value", "type", "group"}`` (and ``"ts"`` when the row carries it)."""
    tag: dict[str, Any] = {
        "name": row.name,
        "value": tag_value(row.value_num, row.value_text),
        "type": row.type,
        "group": row.group,
    }
    if row.ts is not None:
        tag["ts"] = iso(row.ts)
    return tag


def tags_json_by_trace(
    session: Session, project_id: str, trace_pks: Sequence[int], with_ts: bool = False
) -> dict[int, list[dict[str, Any]]]:
    """The tags of several traces as JSON, by trace surrogate key (a step of a caller's transaction)."""
    rows = tag_store.tags_by_trace(session, project_id, trace_pks, with_ts)
    if with_ts:
        return {pk: [tag_json(row) for row in tags] for pk, tags in rows.items()}
    # The trace list's hot loop (hundreds of traces, ~10 tags each): no call per tag.
    return {
        pk: [
            {"name": t.name, "value": tag_value(t.value_num, t.value_text), "type": t.type, "group": t.group}
            for t in tags
        ]
        for pk, tags in rows.items()
    }


def _check_query(values: int, sample: int) -> None:
    """Refuse a bad ``values`` or ``sample`` (``QueryError`` naming it)."""
    if values < 0 or values > MAX_PAGE:
        raise QueryError("values", f"must be between 0 and {MAX_PAGE}, got {values}")
    if sample < 0 or sample > MAX_STATS_SAMPLE:
        raise QueryError("sample", f"must be between 0 (every trace) and {MAX_STATS_SAMPLE}, got {sample}")


def tag_stats(
    backend: Backend,
    project_id: str,
    name: str | None = None,
    values: int = 20,
    sample: int = DEFAULT_STATS_SAMPLE,
) -> list[dict[str, Any]]:
    """Every tag name with its types, how many traces carry it, numeric range and its most common values.

    ``[{"name", "types": {type: count}, "count", "numeric": {"count", "min", "max"} | None,
    "values": [{"value", "count"}], "distinct_values", "sample_traces"}]``: what a filter
    box needs to suggest. Counted over the ``sample`` most recently received traces (0:
    every trace, exact but a full scan), in one pass over their tags, so the answer
    costs the same at 10k and at 10M traces.
    """
    _check_query(values, sample)
    with backend.reading() as session:
        first_pk, sample_traces = (None, None)
        if sample:
            first_pk, sample_traces = trace_store.latest_received(session, project_id, sample)
        rows = tag_store.value_counts(session, project_id, name, first_pk)
    by_name: dict[str, list[tag_store.TagValueCount]] = {}
    for row in rows:
        group = by_name.get(row[0])
        if group is None:
            by_name[row[0]] = [row]
        else:
            group.append(row)
    return [_name_stats(n, by_name[n], values, sample_traces) for n in sorted(by_name)]


def _top_key(kv: tuple[tuple[str | None, float | None], int]) -> tuple[int, str, float]:
    """Most common first; ties by text, then number."""
    return (-kv[1], kv[0][0] or "", kv[0][1] or 0.0)


def _name_stats(
    tag_name: str, rows: Sequence[tag_store.TagValueCount], values: int, sample_traces: int | None
) -> dict[str, Any]:
    """One name's entry of ``tag_stats`` from its counts by (type, value)."""
    types: dict[str, int] = {}
    for row in rows:
        types[row[1]] = types.get(row[1], 0) + row[4]
    by_value: dict[tuple[str | None, float | None], int]
    if len(types) == 1:  # the common case: each (text, number) in one row
        by_value = {(r[2], r[3]): r[4] for r in rows}
    else:
        by_value = {}
        for _name, _type, text, number, n in rows:
            by_value[(text, number)] = by_value.get((text, number), 0) + n
    numeric: dict[str, Any] | None = None
    numbers = [(r[3], r[4]) for r in rows if r[3] is not None]
    if numbers:
        numeric = {
            "count": sum(n for _, n in numbers),
            "min": min(v for v, _ in numbers),
            "max": max(v for v, _ in numbers),
        }
    top = heapq.nsmallest(values, by_value.items(), key=_top_key)  # = sorted(...)[:values]
    return {
        "name": tag_name,
        "types": types,
        "count": sum(types.values()),
        "numeric": numeric,
        "values": [{"value": tag_value(number, text), "count": n} for (text, number), n in top],
        "distinct_values": len(by_value),
        "sample_traces": sample_traces,
    }


class CachedStats(NamedTuple):
    """A ``tag_stats`` answer and how old it is (seconds since it was counted)."""

    stats: list[dict[str, Any]]
    age: float


_CACHE_ENTRIES = 256  # answers kept per backend (project x query), the least recently used dropped


class _StatsCache:
    """This process's recent answers, and the counts under way (one count per query at a time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: OrderedDict[tuple[Any, ...], tuple[float, list[dict[str, Any]]]] = OrderedDict()
        self.counting: dict[tuple[Any, ...], threading.Event] = {}


_CACHES: weakref.WeakKeyDictionary[Backend, _StatsCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache(backend: Backend) -> _StatsCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(backend)
        if cache is None:
            cache = _CACHES[backend] = _StatsCache()
        return cache


def recent_tag_stats(
    backend: Backend,
    project_id: str,
    name: str | None = None,
    values: int = 20,
    sample: int = DEFAULT_STATS_SAMPLE,
    max_age: float | None = None,
) -> CachedStats:
    """``tag_stats``, answered from this process's count of the same query if at most ``max_age`` s old.

    ``max_age`` None: the backend's ``tag_stats_max_age_seconds``; 0: count now (and keep that
    count for the requests after it; with the setting at 0 nothing is kept). Counting a
    sample's tags costs the same few hundred ms whatever the store's size, and a filter box asks
    at every page view, so an answer up to half a minute old is the better trade. Requests for a
    query being counted wait for that count instead of counting again. Never answers a count
    of another project or query; bad parameters are refused before any cache is read.
    """
    _check_query(values, sample)
    if backend.settings.tag_stats_max_age_seconds <= 0:  # kept answers are off
        return CachedStats(tag_stats(backend, project_id, name, values, sample), 0.0)
    limit = backend.settings.tag_stats_max_age_seconds if max_age is None else max_age
    cache, key = _cache(backend), (project_id, name, values, sample)

    def count() -> list[dict[str, Any]]:
        return tag_stats(backend, project_id, name, values, sample)

    if limit <= 0:  # asked to count now: counted, and kept for the requests after it
        return _count_and_keep(cache, key, count)
    while True:
        with cache.lock:
            kept = cache.answers.get(key)
            now = time.monotonic()
            if kept is not None and now - kept[0] <= limit:
                cache.answers.move_to_end(key)
                return CachedStats(kept[1], now - kept[0])
            under_way = cache.counting.get(key)
            if under_way is None:
                done = cache.counting[key] = threading.Event()
                break
        under_way.wait()  # then take its answer (or count, if it failed)
    try:
        return _count_and_keep(cache, key, count)
    finally:
        with cache.lock:
            del cache.counting[key]
        done.set()


def _count_and_keep(
    cache: _StatsCache, key: tuple[Any, ...], count: Callable[[], list[dict[str, Any]]]
) -> CachedStats:
    counted_at = time.monotonic()
    stats = count()
    with cache.lock:
        kept = cache.answers.get(key)
        if kept is None or kept[0] <= counted_at:  # never replace a count begun later
            cache.answers[key] = (counted_at, stats)
            cache.answers.move_to_end(key)
            while len(cache.answers) > _CACHE_ENTRIES:
                cache.answers.popitem(last=False)
    return CachedStats(stats, time.monotonic() - counted_at)


def unknown_names(backend: Backend, project_id: str, names: Collection[str]) -> list[str]:
    """The names of ``names`` that no tag of the project has (a typo in a filter, most likely), sorted."""
    with backend.reading() as session:
        known = tag_store.names_in_use(session, project_id, names)
    return sorted(set(names) - known)
