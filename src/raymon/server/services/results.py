"""Reduce results: the check rows of a reducer's windows as time series, and production profiles of time ranges.

``results`` answers what the reduce passes stored per (reducer, slice, window): one
series per (slice, component, check, metric), its points oldest first. ``production_profile``
merges the stored window states of a slice and time range into the production
``ModelProfile`` document (no raw tag is read again), which a user loads with
``ModelProfile.from_jcr`` and contrasts with the reference locally. Windows are selected
by their start: ``begin <= window_start < end`` (``end <= begin``: none). This module holds no SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from raymon.profiling.errors import ProfileError
from raymon.server.engine.profile_reducer import NotReducibleError, ProfileReducer, WindowState
from raymon.server.services.errors import ConflictError, NotFoundError
from raymon.server.services.profiles import parse_profile_ref
from raymon.server.store import profiles as profile_store
from raymon.server.store import reduce as reduce_store

if TYPE_CHECKING:
    from raymon.server.backend import Backend

MAX_WINDOWS = 10_000  # windows per answer (all slices together); narrow begin/end for more

_POINT_FIELDS = ("value", "lower_bound", "threshold", "alert", "status", "n")


def _empty_range(begin: datetime | None, end: datetime | None) -> bool:
    """``end <= begin``: a range no window starts in (answered as such, not refused)."""
    return begin is not None and end is not None and end <= begin


def results(
    backend: Backend,
    project_id: str,
    reducer: str,
    slicestr: str | None = None,
    begin: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    """``{"reducer", "windows": [...], "series": [{"slice", "component", "role", "check", "metric", "points"}]}``.

    ``windows``: per window ``slice``, ``window_start``, ``window_end``, ``n_tags``, ``n_alerts``;
    a point: ``window_start``, ``window_end``, ``value``, ``lower_bound``, ``threshold``, ``alert``,
    ``status``, ``n`` (the production count). ``slicestr`` None: every slice; ``""`` the global one.
    """
    rows: list[reduce_store.WindowRow] = []
    if not _empty_range(begin, end):
        with backend.reading() as session:
            rows = reduce_store.windows(
                session, project_id, reducer, slicestr, begin, end, limit=MAX_WINDOWS + 1
            )
    truncated = len(rows) > MAX_WINDOWS
    rows = rows[:MAX_WINDOWS]
    series: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    windows = []
    for w in rows:
        start, stop = w.window_start.isoformat(), w.window_end.isoformat()
        windows.append(
            {
                "slice": w.slice,
                "window_start": start,
                "window_end": stop,
                "n_tags": w.n_tags,
                "n_alerts": w.n_alerts,
            }
        )
        for r in (w.result or {}).get("rows", []):
            key = (w.slice, r["component"], r["check"], r["metric"])
            found = series.get(key)
            if found is None:
                found = series[key] = {
                    "slice": w.slice,
                    "component": r["component"],
                    "role": r.get("role"),
                    "check": r["check"],
                    "metric": r["metric"],
                    "points": [],
                }
            found["points"].append(
                {"window_start": start, "window_end": stop, **{k: r.get(k) for k in _POINT_FIELDS}}
            )
    return {
        "reducer": reducer,
        "windows": windows,
        "series": [series[k] for k in sorted(series)],
        "truncated": truncated,
    }


def production_profile(
    backend: Backend,
    project_id: str,
    profile_ref: str,
    begin: datetime | None = None,
    end: datetime | None = None,
    slicestr: str = "",
) -> dict[str, Any]:
    """The production ``ModelProfile`` document of ``name@version``'s reducer over one slice and time range."""
    name, version = parse_profile_ref(profile_ref)
    reducer_name = f"{name}@{version}"
    with backend.reading() as session:
        profile = profile_store.find(session, project_id, name, version)
        if profile is None:
            raise NotFoundError(f"profile {reducer_name} not found in project {project_id!r}")
        rows = (
            []
            if _empty_range(begin, end)
            else reduce_store.windows(
                session, project_id, reducer_name, slicestr, begin, end, with_state=True
            )
        )
    try:
        reducer = ProfileReducer(backend.plugins.load_profile(profile.body), profile.body)
    except (ProfileError, NotReducibleError) as exc:
        raise ConflictError(f"profile {reducer_name} cannot be reduced: {exc}") from exc
    state = reducer.empty()
    for row in rows:
        if row.state:
            state = state.merge(WindowState.from_jcr(row.state))
    return reducer.production_jcr(state)
