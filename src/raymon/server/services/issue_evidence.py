"""What the issue pages show: the filtered list, and one issue's evidence.

``issue_list`` answers the issues a page lists: by status (the state machine's, or the
``acknowledged`` and ``muted`` flags, which cut across it), by slice, in the order
``services.issues`` gives (active first, by priority). ``evidence`` gathers what explains one
issue: its metric's values over the windows around its opening (``services.results``), the
reference distribution of its component against the slice's production distribution in the
window that opened it (the profile's stats against the merged window state,
``services.results.production_profile``), and its current rules (the manifest's, tuned).

This module decides nothing about issues (``services.issues`` does), runs no SQL and never
changes anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from raymon.profiling.errors import ProfileError
from raymon.profiling.stats import CategoricalStats, NumericStats, stats_from_jcr
from raymon.server.engine.issues import ISSUE_STATUSES
from raymon.server.services import issues, profiles, results
from raymon.server.services.errors import ConflictError, InvalidInputError, NotFoundError
from raymon.server.services.time_text import as_time

if TYPE_CHECKING:
    from raymon.server.backend import Backend

SHOWN = ("open", "pending", "recovering", "resolved", "acknowledged", "muted")
"""What the list may be narrowed to: a status, or a flag (``acknowledged``, ``muted`` now)."""
WINDOWS_BEFORE, WINDOWS_AFTER = 12, 6
TOP_CATEGORIES = 20


def muted_now(issue: dict[str, Any], now: datetime) -> bool:
    until = as_time(issue.get("muted_until"))
    return until is not None and until > now


@dataclass(frozen=True)
class IssueList:
    issues: list[dict[str, Any]]
    slices: list[str]  # every slice with an issue (for the filter), global ("") first
    shown: str | None
    slicestr: str | None


def issue_list(
    backend: Backend, project_id: str, shown: str | None = None, slicestr: str | None = None
) -> IssueList:
    """The issues of ``shown`` (a status or flag of ``SHOWN``; None: all but normal) on ``slicestr``."""
    if shown is not None and shown not in SHOWN:
        raise InvalidInputError(f"status: {shown!r} is not one of {', '.join(SHOWN)}")
    status = shown if shown in ISSUE_STATUSES else None
    every = issues.list_issues(backend, project_id, status)["issues"]
    now = backend.clock()
    for issue in every:
        issue["acknowledged"] = issue["acked_at"] is not None
        issue["muted"] = muted_now(issue, now)
    slices = sorted({i["slice"] for i in every}, key=lambda s: (s != "", s))
    rows = [i for i in every if slicestr is None or i["slice"] == slicestr]
    if shown in ("acknowledged", "muted"):
        rows = [i for i in rows if i[shown]]
    return IssueList(rows, slices, shown, slicestr)


@dataclass(frozen=True)
class Distribution:
    """One component's reference and production distributions, on the reference's bins."""

    kind: str  # "numeric" or "categorical"
    labels: list[str]  # bin or category labels
    positions: list[float]  # where each bin or category sits on a chart's x axis
    reference: list[float]  # fraction of the reference's values per bin
    production: list[float]
    summary: list[tuple[str, Any, Any]]  # (statistic, reference, production)


@dataclass
class Evidence:
    issue: dict[str, Any]
    opened_start: datetime | None
    opened_end: datetime | None
    begin: datetime | None
    end: datetime | None
    series: list[dict[str, Any]] = field(default_factory=list)  # this (component, check)'s metrics
    distribution: Distribution | None = None
    distribution_note: str | None = None
    rules: dict[str, Any] = field(default_factory=dict)
    muted: bool = False


def _opening(issue: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The window that opened the issue (its last open or reopen), else its last window."""
    for entry in reversed(issue.get("history") or []):
        if entry.get("event") in ("opened", "reopened") and entry.get("window_start"):
            return as_time(entry["window_start"]), as_time(entry["window_end"])
    return as_time(issue.get("window_start")), as_time(issue.get("window_end"))


def _rules(issue: dict[str, Any]) -> dict[str, Any]:
    """The rules of the issue's last evaluation, with its tuning since (tuning applies from the next one)."""
    found: dict[str, Any] = {}
    for entry in reversed(issue.get("history") or []):
        details = entry.get("details")
        if entry.get("kind") == "transition" and isinstance(details, dict) and details.get("rules"):
            found = dict(details["rules"])
            break
    tuning = issue.get("tuning") or {}
    for name in ("open_after", "window_count"):
        if tuning.get(name) is not None:
            found[name] = tuning[name]
    thresholds = tuning.get("thresholds") or {}
    found["threshold"] = thresholds.get(issue.get("metric"), issue.get("threshold"))
    found["tuned_threshold"] = issue.get("metric") in thresholds
    return found


def evidence(backend: Backend, project_id: str, issue_id: int) -> Evidence:
    """One issue with what explains it (see the module docstring)."""
    issue = issues.get_issue(backend, project_id, issue_id)
    opened_start, opened_end = _opening(issue)
    found = Evidence(issue, opened_start, opened_end, None, None, rules=_rules(issue))
    found.muted = muted_now(issue, backend.clock())
    if opened_start is None or opened_end is None:
        found.distribution_note = "The issue has no evaluated window yet."
        return found
    step = max(opened_end - opened_start, timedelta(seconds=1))
    found.begin = opened_start - step * WINDOWS_BEFORE
    found.end = opened_start + step * (WINDOWS_AFTER + 1)
    found.series = _series(backend, project_id, issue, found.begin, found.end)
    found.distribution, found.distribution_note = _distribution(
        backend, project_id, issue, opened_start, opened_end
    )
    return found


def _epoch(text: str) -> float:
    moment = as_time(text)
    assert moment is not None
    return moment.timestamp()


def _series(
    backend: Backend, project_id: str, issue: dict[str, Any], begin: datetime, end: datetime
) -> list[dict[str, Any]]:
    answer = results.results(backend, project_id, issue["reducer"], issue["slice"], begin, end)
    found = [
        s
        for s in answer["series"]
        if s["slice"] == issue["slice"]
        and s["component"] == issue["component"]
        and s["check"] == issue["check"]
    ]
    found.sort(key=lambda s: (s["metric"] != issue.get("metric"), s["metric"]))
    for s in found:
        for point in s["points"]:
            point["t"] = _epoch(point["window_start"])
    return found


def _fractions(counts: list[float]) -> list[float]:
    total = float(sum(counts))
    return [c / total if total else 0.0 for c in counts]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _numeric(
    ref: NumericStats, prod: NumericStats, ref_jcr: dict[str, Any], prod_jcr: dict[str, Any]
) -> Distribution:
    edges = [float(e) for e in ref_jcr["edges"]]
    ref_counts = [float(c) for c in ref_jcr["counts"]]
    prod_counts = [float(c) for c in prod_jcr["counts"]]
    if len(prod_counts) != len(ref_counts):  # not the reference's bins: show the summary only
        prod_counts = [0.0] * len(ref_counts)
    labels = [f"{edges[i]:.4g} to {edges[i + 1]:.4g}" for i in range(len(edges) - 1)]
    positions = [(edges[i] + edges[i + 1]) / 2 for i in range(len(edges) - 1)]
    if len(ref_counts) == len(labels) + 2:  # under- and overflow bins around the edges
        width = (edges[-1] - edges[0]) / max(len(labels), 1)
        labels = [f"below {edges[0]:.4g}", *labels, f"{edges[-1]:.4g} and above"]
        positions = [edges[0] - width / 2, *positions, edges[-1] + width / 2]

    def quantile(stats: NumericStats, q: float) -> float | None:
        try:
            return _number(stats.quantile(q)) if stats.finite else None
        except (ValueError, RuntimeError):
            return None

    summary: list[tuple[str, Any, Any]] = [
        ("count", ref.count, prod.count),
        ("missing", ref.missing, prod.missing),
        ("min", _number(ref.min), _number(prod.min)),
        ("median", quantile(ref, 0.5), quantile(prod, 0.5)),
        ("mean", _number(ref.mean), _number(prod.mean)),
        ("std", _number(ref.std) if ref.finite else None, _number(prod.std) if prod.finite else None),
        ("max", _number(ref.max), _number(prod.max)),
    ]
    return Distribution(
        "numeric", labels, positions, _fractions(ref_counts), _fractions(prod_counts), summary
    )


def _categorical(ref: CategoricalStats, prod: CategoricalStats) -> Distribution:
    ref_freq, prod_freq = ref.frequencies(), prod.frequencies()
    names = sorted(
        set(ref_freq) | set(prod_freq), key=lambda k: (-ref_freq.get(k, 0), -prod_freq.get(k, 0), k)
    )
    names = names[:TOP_CATEGORIES]
    ref_total, prod_total = max(ref.count - ref.missing, 1), max(prod.count - prod.missing, 1)
    summary: list[tuple[str, Any, Any]] = [
        ("count", ref.count, prod.count),
        ("missing", ref.missing, prod.missing),
        ("categories", len(ref_freq), len(prod_freq)),
    ]
    return Distribution(
        "categorical",
        names,
        [float(i) for i in range(len(names))],
        [ref_freq.get(n, 0) / ref_total for n in names],
        [prod_freq.get(n, 0) / prod_total for n in names],
        summary,
    )


def _component(document: Any, name: str) -> dict[str, Any] | None:
    for component in (document or {}).get("components", []) if isinstance(document, dict) else []:
        if isinstance(component, dict) and str(component.get("name", "")).lower() == name.lower():
            return component
    return None


def _distribution(
    backend: Backend, project_id: str, issue: dict[str, Any], begin: datetime, end: datetime
) -> tuple[Distribution | None, str | None]:
    reducer, name = issue["reducer"], issue["component"]
    try:
        reference = profiles.get_profile(backend, project_id, reducer)
        production = results.production_profile(backend, project_id, reducer, begin, end, issue["slice"])
    except (NotFoundError, ConflictError, InvalidInputError) as exc:
        return None, f"No distribution to compare: {exc}"
    ref_component, prod_component = _component(reference, name), _component(production, name)
    if ref_component is None or prod_component is None:
        return None, f"{name!r} is a score of the profile, not a component: its values are above."
    if not production.get("n_samples"):
        return None, "The window that opened the issue holds no production data for this slice any more."
    ref_jcr, prod_jcr = ref_component.get("stats"), prod_component.get("stats")
    if not ref_jcr or not prod_jcr:
        return None, f"The profile holds no statistics of {name!r}."
    try:
        ref, prod = stats_from_jcr(ref_jcr), stats_from_jcr(prod_jcr)
    except ProfileError as exc:
        return None, f"The statistics of {name!r} cannot be read: {exc}"
    if isinstance(ref, NumericStats) and isinstance(prod, NumericStats):
        return _numeric(ref, prod, ref_jcr, prod_jcr), None
    if isinstance(ref, CategoricalStats) and isinstance(prod, CategoricalStats):
        return _categorical(ref, prod), None
    return None, f"The reference and production statistics of {name!r} are of different kinds."
