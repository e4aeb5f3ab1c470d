"""What the profile pages show: a stored profile, two contrasted, or a reference against production.

The same content as ``ModelProfile.view`` and ``view_contrast`` (``raymon.profiling.report_html``):
per component its stats and histogram, the scores, and for a contrast the verdict, the drift
table (one row per component, its headline drift metric, p-value, PSI, missing-rate change,
alerts) and each component's metrics, as plain data for the UI's templates, which escape
everything. The drift table is sorted here (``DRIFT_SORTS``), so the order is in the URL.
Production profiles come from ``services.results.production_profile`` (the reducer's merged
window states of a slice and time range), contrasted with the thresholds of the manifest's
reducer of that profile. This module never parses HTTP and runs no SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raymon.profiling.contrast import ContrastError, ContrastReport, Thresholds
from raymon.profiling.errors import ProfileError
from raymon.profiling.profile import ModelProfile
from raymon.profiling.report_html import histogram_data, stats_rows
from raymon.server.services import manifests, profiles, results
from raymon.server.services.errors import ConflictError, InvalidInputError

if TYPE_CHECKING:
    from raymon.server.backend import Backend

DRIFT_SORTS = ("score", "component", "role", "pvalue", "psi", "missing", "status")


@dataclass
class ComponentView:
    name: str
    role: str
    dtype: str
    values: int
    missing_rate: float | None
    errors: int
    stats: list[tuple[str, Any, Any]]  # (label, reference value, other value or None)
    histogram: dict[str, Any] | None
    metrics: list[dict[str, Any]] = field(default_factory=list)  # a contrast's rows of this component
    note: str = ""  # e.g. "not in the other profile"


@dataclass
class ProfileView:
    ref: str
    components: list[ComponentView]
    scores: list[dict[str, Any]]  # name, preference, result (and other for a contrast)
    n_samples: int | None


@dataclass
class ContrastView:
    reference: str
    other: str
    verdict: str
    flagged: list[str]
    drift: list[dict[str, Any]]  # the drift table, sorted
    components: list[ComponentView]
    scores: list[dict[str, Any]]
    alpha: float
    min_count: int
    sort: str
    order: str


def load(backend: Backend, project_id: str, ref: str) -> ModelProfile:
    """The stored profile ``name@version``, loaded with the server's registered classes."""
    return _loaded(backend, profiles.get_profile(backend, project_id, ref), ref)


def _loaded(backend: Backend, document: Any, ref: str) -> ModelProfile:
    try:
        return backend.plugins.load_profile(document)
    except ProfileError as exc:
        raise ConflictError(f"profile {ref} cannot be loaded on this server: {exc}") from exc


def profile_view(profile: ModelProfile) -> ProfileView:
    """One profile's report as data: per component its stats and histogram, and the scores."""
    components = []
    for name, c in profile.components.items():
        if c.stats is None:
            components.append(ComponentView(name, _role(c), str(c.dtype or ""), 0, None, 0, [], None))
            continue
        components.append(_component(name, c))
    scores = [
        {"name": name, "preference": score.preference, "result": _finite(score.result)}
        for name, score in profile.scores.items()
    ]
    return ProfileView(profile.group_idfr, components, scores, getattr(profile, "n_samples", None))


def _component(name: str, c: Any, other: Any | None = None) -> ComponentView:
    s = c.stats
    total = int(s.count) + int(s.missing)
    mine = stats_rows(c)
    theirs = dict(stats_rows(other)) if other is not None and other.stats is not None else {}
    labels = [k for k, _ in mine] + [k for k in theirs if k not in dict(mine)]
    ours = dict(mine)
    rows = [(k, _finite(ours.get(k)), _finite(theirs.get(k)) if other is not None else None) for k in labels]
    histogram = None
    if other is None or other.stats is not None:
        histogram = histogram_data(c, other)
    return ComponentView(
        name=name,
        role=_role(c),
        dtype=str(c.dtype or ""),
        values=int(s.count),
        missing_rate=s.missing / total if total else None,
        errors=int(sum(c.value_errors.values())),
        stats=rows,
        histogram=histogram,
    )


def contrast_view(
    reference: ModelProfile,
    other: ModelProfile,
    thresholds: Any = None,
    sort: str = "score",
    order: str = "desc",
) -> ContrastView:
    """``reference.contrast(other)`` as data: verdict, the drift table sorted by ``sort``, cards, scores."""
    if sort not in DRIFT_SORTS:
        raise InvalidInputError(
            f"sort={sort!r} is not a column of the drift table; use one of {', '.join(DRIFT_SORTS)}"
        )
    if order not in ("asc", "desc"):
        raise InvalidInputError(f"order={order!r}: use asc or desc")
    try:
        report: ContrastReport = reference.contrast(other, thresholds)
    except ContrastError as exc:
        raise InvalidInputError(
            f"cannot contrast {reference.group_idfr} with {other.group_idfr}: {exc}"
        ) from exc
    cards = []
    for name, c in reference.components.items():
        theirs = other.components[name] if name in other.components else None
        if c.stats is None:
            continue
        card = _component(name, c, theirs)
        if theirs is None:
            card.note = "not in the other profile"
            card.histogram = None
        elif card.histogram is None:
            card.note = "no histogram: a side has no values, or one is numeric and the other categorical"
        card.metrics = [_row(r) for r in report.rows if r.component == name]
        cards.append(card)
    scores = []
    for name, score in reference.scores.items():
        their_score = other.scores[name] if name in other.scores else None
        scores.append(
            {
                "name": name,
                "preference": score.preference,
                "result": _finite(score.result),
                "other": _finite(their_score.result) if their_score is not None else None,
            }
        )
    th = report.thresholds if isinstance(report.thresholds, Thresholds) else Thresholds()
    return ContrastView(
        reference=reference.group_idfr,
        other=other.group_idfr,
        verdict=report.verdict,
        flagged=report.flagged(),
        drift=_sorted(_drift_rows(report), sort, order),
        components=cards,
        scores=scores,
        alpha=th.alpha,
        min_count=th.min_count,
        sort=sort,
        order=order,
    )


def _row(r: Any) -> dict[str, Any]:
    return {
        "check": r.check,
        "metric": r.metric,
        "value": _finite(r.value),
        "lower_bound": _finite(r.lower_bound),
        "threshold": _finite(r.threshold),
        "status": r.status,
        "alert": bool(r.alert),
    }


def _drift_rows(report: ContrastReport) -> list[dict[str, Any]]:
    """One row per component, as the HTML report's drift table."""
    by_component: dict[str, dict[str, Any]] = {}
    for r in report.rows:
        entry = by_component.setdefault(r.component, {"role": r.role, "alert": False, "statuses": set()})
        entry["alert"] = entry["alert"] or r.alert
        entry["statuses"].add(r.status)
        entry[r.metric] = r
    out = []
    for name, entry in by_component.items():
        head = entry.get("ks_statistic") or entry.get("total_variation")
        pval = entry.get("ks_pvalue") or entry.get("chi_square_pvalue")
        psi, miss = entry.get("psi"), entry.get("missing_rate")
        statuses = entry["statuses"]
        if "alert" in statuses:
            status = "alert"
        elif "ok" in statuses or "no threshold" in statuses:
            status = "ok"
        else:
            status = sorted(statuses)[0]
        out.append(
            {
                "component": name,
                "role": entry["role"],
                "metric": head.metric if head else "",
                "score": _finite(head.value) if head else None,
                "lower_bound": _finite(head.lower_bound) if head else None,
                "threshold": _finite(head.threshold) if head else None,
                "pvalue": _finite(pval.value) if pval else None,
                "psi": _finite(psi.value) if psi else None,
                "missing": _finite(miss.value) if miss else None,
                "alerts": sorted({r.metric for r in report.rows if r.component == name and r.alert}),
                "status": status,
            }
        )
    return out


def _sorted(rows: list[dict[str, Any]], sort: str, order: str) -> list[dict[str, Any]]:
    """Sorted by ``sort``; rows without a value last whichever the order."""
    present = [r for r in rows if r[sort] is not None]
    absent = [r for r in rows if r[sort] is None]
    present.sort(key=lambda r: (r[sort], r["component"]), reverse=order == "desc")
    return present + sorted(absent, key=lambda r: r["component"])


def _role(component: Any) -> str:
    return str(getattr(component, "role", ""))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def reducer_thresholds(backend: Backend, project_id: str, ref: str) -> Any:
    """The thresholds of the manifest's profile reducer of ``ref`` (None: the defaults)."""
    manifest = manifests.current(backend, project_id)
    if manifest is None:
        return None
    for action in manifest.actions.reduce:
        if action.name == ref:
            return action.thresholds
    return None


def production(
    backend: Backend, project_id: str, ref: str, slicestr: str, begin: datetime | None, end: datetime | None
) -> ModelProfile:
    """The production profile of ``ref``'s reducer over one slice and time range (merged window states)."""
    document = results.production_profile(backend, project_id, ref, begin, end, slicestr)
    return _loaded(backend, document, ref)
