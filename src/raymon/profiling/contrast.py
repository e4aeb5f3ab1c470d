"""Contrast two model profiles: per component drift, integrity and performance checks, and a verdict.

``contrast_profiles(reference, other)`` is what ``ModelProfile.contrast``
calls. It reads only the profiles' mergeable stats (never raw rows), uses the
pure metrics of ``raymon.profiling.drift`` and applies thresholds.

Alerting follows practical, not statistical, significance: by default a check
alerts only when an *effect size's lower confidence bound* passes its
threshold (KS distance for numeric components, total variation distance for
categorical ones, the increase of missing/error rates, the relative worsening
of an evaluation's mean). P-values are reported but never alert by default:
at production volumes they flag shifts too small to matter. Below
``min_count`` values on either side a check says "not enough data" and never
alerts. This module never writes files (``report_html`` does) and never
changes the profiles it reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from raymon.profiling import drift
from raymon.profiling.errors import NotBuiltError, ProfileError
from raymon.profiling.names import name_key

if TYPE_CHECKING:
    import pandas as pd

Check = Literal["drift", "integrity", "performance"]
Direction = Literal["above", "below"]

STATUS_ALERT = "alert"
STATUS_OK = "ok"
STATUS_NOT_ENOUGH_DATA = "not enough data"
STATUS_NO_THRESHOLD = "no threshold"
STATUS_NOT_COMPARABLE = "not comparable"


class ContrastError(ProfileError):
    """Two profiles cannot be contrasted, or thresholds name an unknown metric, component or value."""


@dataclass(frozen=True)
class MetricSpec:
    """What a metric measures and how its threshold is read."""

    check: Check
    direction: Direction  # "above": alert when the (bound of the) value exceeds the threshold
    uses_bound: bool  # alert on the lower confidence bound rather than the value
    description: str


METRICS: dict[str, MetricSpec] = {
    "ks_statistic": MetricSpec("drift", "above", True, "Kolmogorov-Smirnov D between the CDFs (numeric)"),
    "ks_pvalue": MetricSpec("drift", "below", False, "KS asymptotic p-value (numeric)"),
    "chi_square": MetricSpec("drift", "above", False, "chi-square statistic of homogeneity (categorical)"),
    "chi_square_pvalue": MetricSpec("drift", "below", False, "chi-square p-value (categorical)"),
    "total_variation": MetricSpec("drift", "above", True, "total variation distance (categorical)"),
    "jensen_shannon": MetricSpec("drift", "above", False, "Jensen-Shannon distance, base 2 (categorical)"),
    "psi": MetricSpec("drift", "above", False, "population stability index on shared bins or categories"),
    "wasserstein": MetricSpec("drift", "above", False, "Wasserstein-1 distance (numeric: data units)"),
    "wasserstein_normalized": MetricSpec(
        "drift", "above", False, "Wasserstein-1 divided by the reference's standard deviation (numeric)"
    ),
    "missing_rate": MetricSpec("integrity", "above", True, "increase of the share of missing values"),
    "error_rate": MetricSpec("integrity", "above", True, "increase of the share of rows with an error"),
    "component_present": MetricSpec("integrity", "below", False, "1 if the component is in both profiles"),
    "mean_worsening": MetricSpec(
        "performance", "above", True, "relative worsening of an evaluation component's mean"
    ),
    "score_worsening": MetricSpec(
        "performance", "above", True, "relative worsening of a score (a mean score: its lower bound)"
    ),
}

DEFAULT_THRESHOLDS: dict[str, float | None] = {
    "ks_statistic": 0.1,
    "total_variation": 0.1,
    "missing_rate": 0.05,
    "error_rate": 0.05,
    "component_present": 1.0,
    "mean_worsening": 0.1,
    "score_worsening": 0.1,
}
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_COUNT = 30


@dataclass(frozen=True)
class Thresholds:
    """Alert thresholds: defaults per metric, overrides per component, confidence and minimum count.

    A threshold of ``None`` means the metric is reported but never alerts.
    Build one from a plain mapping with :meth:`from_config`, e.g.
    ``{"ks_statistic": 0.2, "components": {"GrLivArea": {"ks_statistic": 0.3}}, "min_count": 100}``.
    """

    metrics: Mapping[str, float | None] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    components: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    alpha: float = DEFAULT_ALPHA
    min_count: int = DEFAULT_MIN_COUNT

    def __post_init__(self) -> None:
        _check_metric_names(self.metrics, "thresholds")
        # compared as profiles compare component names (raymon.profiling.names)
        object.__setattr__(self, "components", {name_key(k): v for k, v in self.components.items()})
        for name, overrides in self.components.items():
            if not isinstance(overrides, Mapping):
                raise ContrastError(
                    f"thresholds for component {name!r} must be a mapping of metric to threshold, got {overrides!r}"
                )
            _check_metric_names(overrides, f"thresholds of component {name!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ContrastError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if isinstance(self.min_count, bool) or not isinstance(self.min_count, int) or self.min_count < 1:
            raise ContrastError(f"min_count must be a positive integer, got {self.min_count!r}")

    @classmethod
    def from_config(cls, config: Thresholds | Mapping[str, Any] | None) -> Thresholds:
        """Thresholds from a mapping: metric names at top level override the defaults."""
        if config is None:
            return cls()
        if isinstance(config, Thresholds):
            return config
        if not isinstance(config, Mapping):
            raise ContrastError(f"thresholds must be a Thresholds or a mapping, got {type(config).__name__}")
        metrics = dict(DEFAULT_THRESHOLDS)
        rest = dict(config)
        components = rest.pop("components", {}) or {}
        alpha = rest.pop("alpha", DEFAULT_ALPHA)
        min_count = rest.pop("min_count", DEFAULT_MIN_COUNT)
        _check_metric_names(rest, "thresholds")
        metrics.update(rest)
        return cls(metrics=metrics, components=dict(components), alpha=alpha, min_count=min_count)

    def threshold(self, component: str, metric: str) -> float | None:
        overrides = self.components.get(name_key(component), {})
        if metric in overrides:
            return overrides[metric]
        return self.metrics.get(metric)

    def to_jcr(self) -> dict[str, Any]:
        return {
            "metrics": dict(self.metrics),
            "components": {k: dict(v) for k, v in self.components.items()},
            "alpha": self.alpha,
            "min_count": self.min_count,
        }


def _check_metric_names(mapping: Mapping[str, Any], where: str) -> None:
    for name, value in mapping.items():
        if name not in METRICS:
            raise ContrastError(
                f"unknown metric {name!r} in {where}; known metrics: {', '.join(sorted(METRICS))}"
            )
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            raise ContrastError(
                f"threshold of {name!r} in {where} must be a finite number or None, got {value!r}"
            )


@dataclass(frozen=True)
class CheckResult:
    """One metric of one check of one component: a row of ``ContrastReport.to_frame()``."""

    component: str
    role: str
    check: str
    metric: str
    value: float
    lower_bound: float | None
    threshold: float | None
    alert: bool
    status: str
    n_reference: int
    n_other: int


def _judge(
    thresholds: Thresholds,
    component: str,
    role: str,
    metric: str,
    value: float,
    lower_bound: float | None = None,
    n_reference: float = 0,
    n_other: float = 0,
    enough: bool = True,
) -> CheckResult:
    spec = METRICS[metric]
    threshold = thresholds.threshold(component, metric)
    alert = False
    if not enough:
        status = STATUS_NOT_ENOUGH_DATA
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        status = STATUS_NOT_COMPARABLE
    elif threshold is None:
        status = STATUS_NO_THRESHOLD
    else:
        judged = lower_bound if (spec.uses_bound and lower_bound is not None) else value
        alert = bool(judged > threshold) if spec.direction == "above" else bool(judged < threshold)
        status = STATUS_ALERT if alert else STATUS_OK
    return CheckResult(
        component=component,
        role=role,
        check=spec.check,
        metric=metric,
        value=float(value) if value is not None else math.nan,
        lower_bound=None if lower_bound is None else float(lower_bound),
        threshold=threshold,
        alert=alert,
        status=status,
        n_reference=int(n_reference),
        n_other=int(n_other),
    )


class ContrastReport:
    """The result of contrasting ``other`` with ``reference``: rows of checks and an overall verdict.

    ``verdict`` is ``"alert"`` when any check alerts, ``"ok"`` when at least
    one check could run and none alerts, and ``"not enough data"`` when no
    check had enough data to judge.
    """

    def __init__(
        self,
        reference: str,
        other: str,
        rows: list[CheckResult],
        thresholds: Thresholds | None = None,
        profiles: tuple[Any, Any] | None = None,
    ) -> None:
        self.reference = reference
        self.other = other
        self.rows = rows
        self.thresholds = thresholds or Thresholds()
        # The (reference, other) profiles it was made from, to draw the report; not saved in to_jcr.
        self.profiles = profiles

    def _repr_html_(self) -> str:
        """The report inline in a notebook: self-contained, escaped HTML (``report_html``)."""
        from raymon.profiling.report_html import contrast_fragment

        return contrast_fragment(self)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        alerts = self.alerts
        flagged = ", ".join(sorted({r.component for r in alerts})) or "none"
        return f"<ContrastReport {self.reference} vs {self.other}: {self.verdict}; alerts on {flagged}>"

    @property
    def alerts(self) -> list[CheckResult]:
        return [r for r in self.rows if r.alert]

    @property
    def verdict(self) -> str:
        if self.alerts:
            return STATUS_ALERT
        if any(r.status in (STATUS_OK, STATUS_NO_THRESHOLD) for r in self.rows):
            return STATUS_OK
        return STATUS_NOT_ENOUGH_DATA

    def flagged(self, check: str | None = None) -> list[str]:
        """Names of components (and scores) with an alert, optionally only for one check kind."""
        names: list[str] = []
        for r in self.rows:
            if r.alert and (check is None or r.check == check) and r.component not in names:
                names.append(r.component)
        return names

    def drifting(self) -> list[str]:
        """Names of components whose drift check alerts."""
        return self.flagged("drift")

    def row(self, component: str, metric: str) -> CheckResult:
        """The row of one component's metric; raises ``KeyError`` naming both if absent."""
        for r in self.rows:
            if r.component == component and r.metric == metric:
                return r
        raise KeyError(f"no metric {metric!r} for component {component!r} in this report")

    def to_frame(self) -> pd.DataFrame:
        """One row per component, check and metric (columns as ``CheckResult``'s fields)."""
        import pandas as pd

        columns = list(CheckResult.__dataclass_fields__)
        frame = pd.DataFrame([asdict(r) for r in self.rows], columns=columns)
        return frame.astype(
            {"value": "float64", "lower_bound": "float64", "threshold": "float64", "alert": bool}
        )

    def to_jcr(self) -> dict[str, Any]:
        """A JSON-compatible form (NaN and infinities become ``None``)."""
        return {
            "type": "ContrastReport",
            "reference": self.reference,
            "other": self.other,
            "verdict": self.verdict,
            "thresholds": self.thresholds.to_jcr(),
            "rows": [{k: _json_number(v) for k, v in asdict(r).items()} for r in self.rows],
        }

    @classmethod
    def from_jcr(cls, jcr: Mapping[str, Any]) -> ContrastReport:
        if jcr.get("type") != "ContrastReport":
            raise ContrastError(f"not a ContrastReport jcr: type is {jcr.get('type')!r}")
        rows = []
        for raw in jcr["rows"]:
            values = dict(raw)
            if values.get("value") is None:
                values["value"] = math.nan
            rows.append(CheckResult(**values))
        th = jcr.get("thresholds") or {}
        thresholds = Thresholds(
            metrics=th.get("metrics", DEFAULT_THRESHOLDS),
            components=th.get("components", {}),
            alpha=th.get("alpha", DEFAULT_ALPHA),
            min_count=th.get("min_count", DEFAULT_MIN_COUNT),
        )
        return cls(jcr["reference"], jcr["other"], rows, thresholds)


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_numeric_stats(stats: Any) -> bool:
    return hasattr(stats, "edges") and hasattr(stats, "sketch")


def _numeric_drift(name: str, role: str, ref: Any, oth: Any, th: Thresholds) -> list[CheckResult]:
    n, m = int(ref.count), int(oth.count)
    enough = n >= th.min_count and m >= th.min_count
    if n == 0 or m == 0:
        return [
            _judge(th, name, role, metric, math.nan, None, n, m, enough=False)
            for metric in ("ks_statistic", "ks_pvalue", "psi", "wasserstein", "wasserstein_normalized")
        ]
    ks, w = drift.distances_from_sketches(ref.sketch, oth.sketch, alpha=th.alpha)
    ref_counts, oth_counts = binned_counts(ref, oth)
    std = float(ref.std)
    w_norm = w / std if std > 0 else (0.0 if w == 0 else math.inf)
    return [
        _judge(th, name, role, "ks_statistic", ks.statistic, ks.lower_bound, n, m, enough),
        _judge(th, name, role, "ks_pvalue", ks.pvalue, None, n, m, enough),
        _judge(th, name, role, "psi", drift.psi(ref_counts, oth_counts), None, n, m, enough),
        _judge(th, name, role, "wasserstein", w, None, n, m, enough),
        _judge(th, name, role, "wasserstein_normalized", w_norm, None, n, m, enough),
    ]


def binned_counts(ref: Any, oth: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both numeric stats' counts on the reference's bins.

    When the other profile was built with the reference's edges (validation
    against a reference) its exact counts are used; otherwise they are
    estimated from its sketch (``drift.counts_on_edges``).
    """
    ref_counts = np.asarray(ref.counts, dtype=np.float64)
    if np.array_equal(np.asarray(ref.edges), np.asarray(oth.edges)):
        return ref_counts, np.asarray(oth.counts, dtype=np.float64)
    return ref_counts, drift.counts_on_edges(oth.sketch, np.asarray(ref.edges))


def _categorical_drift(name: str, role: str, ref: Any, oth: Any, th: Thresholds) -> list[CheckResult]:
    n, m = int(ref.count), int(oth.count)
    enough = n >= th.min_count and m >= th.min_count
    metrics = ("total_variation", "jensen_shannon", "chi_square", "chi_square_pvalue", "psi", "wasserstein")
    if n == 0 or m == 0:
        return [_judge(th, name, role, metric, math.nan, None, n, m, enough=False) for metric in metrics]
    _, ref_counts, oth_counts = drift.align_frequencies(ref.frequencies(), oth.frequencies())
    tv = drift.total_variation(ref_counts, oth_counts)
    tv_lower = max(0.0, tv - drift.total_variation_margin(ref_counts, oth_counts, th.alpha))
    chi = drift.chi_square(ref_counts, oth_counts)
    return [
        _judge(th, name, role, "total_variation", tv, tv_lower, n, m, enough),
        _judge(
            th, name, role, "jensen_shannon", drift.jensen_shannon(ref_counts, oth_counts), None, n, m, enough
        ),
        _judge(th, name, role, "chi_square", chi.statistic, None, n, m, enough),
        _judge(th, name, role, "chi_square_pvalue", chi.pvalue, None, n, m, enough),
        _judge(th, name, role, "psi", drift.psi(ref_counts, oth_counts), None, n, m, enough),
        # Under the 0/1 ground metric of unordered categories, Wasserstein-1 equals total variation.
        _judge(th, name, role, "wasserstein", tv, None, n, m, enough),
    ]


_NOT_IN_STATS = ("Type Error", "Extractor Error")  # values never counted in a component's stats


def _rows_seen(component: Any) -> int:
    """Every value the component was given: counted, missing, or refused before counting."""
    stats = component.stats
    errors = getattr(component, "errors", None) or {}
    return int(stats.count) + int(stats.missing) + int(sum(errors.get(k, 0) for k in _NOT_IN_STATS))


def _out_of_reference(reference: Any, stats: Any) -> tuple[float, float]:
    """How many of ``stats``' values fall outside the reference's range (numeric) or domain (categorical).

    Also answers how uncertain that count is, as a share of the values: zero
    when exact, twice the sketch's rank error (one per tail) when estimated
    from the sketch of a profile that was binned on other edges.
    """
    ref = reference.stats
    if _is_numeric_stats(ref):
        _, counts = binned_counts(ref, stats)
        exact = np.array_equal(np.asarray(ref.edges), np.asarray(stats.edges))
        return float(counts[0] + counts[-1]), 0.0 if exact else 2.0 * drift.sketch_rank_error(stats.sketch)
    if ref.domain is None:
        return 0.0, 0.0
    if getattr(stats, "domain", None) == ref.domain:
        return float(stats.unseen), 0.0
    allowed = set(ref.domain)
    return float(sum(n for value, n in stats.frequencies().items() if value not in allowed)), 0.0


def _error_count(reference: Any, component: Any) -> tuple[float, float]:
    """Values refused (type, extractor) plus values outside the reference's bounds or domain, and its uncertainty."""
    errors = getattr(component, "errors", None) or {}
    refused = sum(errors.get(k, 0) for k in _NOT_IN_STATS)
    outside, uncertainty = _out_of_reference(reference, component.stats)
    return float(refused) + outside, uncertainty


def _integrity(name: str, role: str, ref: Any, oth: Any, th: Thresholds) -> list[CheckResult]:
    n, m = _rows_seen(ref), _rows_seen(oth)
    enough = n >= th.min_count and m >= th.min_count
    if n == 0 or m == 0:
        return [
            _judge(th, name, role, metric, math.nan, None, n, m, enough=False)
            for metric in ("missing_rate", "error_rate")
        ]
    missing = drift.rate_increase(ref.stats.missing, n, oth.stats.missing, m, th.alpha)
    ref_errors, ref_uncertainty = _error_count(ref, ref)
    oth_errors, oth_uncertainty = _error_count(ref, oth)
    errors = drift.rate_increase(ref_errors, n, oth_errors, m, th.alpha)
    errors_lower = errors.lower_bound - ref_uncertainty - oth_uncertainty
    return [
        _judge(th, name, role, "missing_rate", missing.increase, missing.lower_bound, n, m, enough),
        _judge(th, name, role, "error_rate", errors.increase, errors_lower, n, m, enough),
    ]


def _lower_is_better(thing: Any) -> bool:
    return str(getattr(thing, "preference", "low")).lower() in ("low", "lower", "min")


def _eval_lower_is_better(profile: Any, name: str) -> bool:
    """An evaluation component's direction: that of the first score reading it, else lower is better (an error)."""
    for score in (getattr(profile, "scores", None) or {}).values():
        if name in getattr(score, "inputs", ()):
            return _lower_is_better(score)
    return True


def _performance(
    name: str, role: str, ref: Any, oth: Any, th: Thresholds, lower_is_better: bool
) -> list[CheckResult]:
    rs, os_ = ref.stats, oth.stats
    n, m = int(rs.count), int(os_.count)
    enough = n >= max(th.min_count, 2) and m >= max(th.min_count, 2)
    if n < 2 or m < 2:
        return [_judge(th, name, role, "mean_worsening", math.nan, None, n, m, enough=False)]
    change = drift.mean_change(rs.mean, rs.std, n, os_.mean, os_.std, m, th.alpha)
    sign = 1.0 if lower_is_better else -1.0
    scale = abs(float(rs.mean)) or float(rs.std) or 1.0
    worsening = sign * change.difference / scale
    lower = (change.lower if sign > 0 else -change.upper) / scale
    return [_judge(th, name, role, "mean_worsening", worsening, lower, n, m, enough)]


def _score_inputs(profile: Any, score: Any) -> Any:
    """The stats of the score's first input component (what a score is computed from), or None."""
    inputs = getattr(score, "inputs", None) or ()
    component = (getattr(profile, "components", None) or {}).get(inputs[0]) if inputs else None
    return getattr(component, "stats", None)


def _score_rows(reference: Any, other: Any, th: Thresholds) -> list[CheckResult]:
    """A score's relative worsening; judged on its lower bound for a mean score, and on enough values.

    A score is one number per side, but it is computed from values: a mean score (``MeanScore``)
    gets the normal interval of the difference of the two means (as ``mean_worsening``), so
    a window of 40 production values does not alert on sampling noise; other scores are judged
    on their value. Either needs ``min_count`` values of the score's input on both sides.
    """
    from raymon.profiling.scores import MeanScore

    rows: list[CheckResult] = []
    ref_scores = getattr(reference, "scores", {}) or {}
    oth_scores = getattr(other, "scores", {}) or {}
    for name, score in ref_scores.items():
        theirs = oth_scores.get(name)
        r0 = getattr(score, "result", None)
        r1 = getattr(theirs, "result", None) if theirs is not None else None
        rs, os_ = _score_inputs(reference, score), _score_inputs(other, theirs)
        n = int(getattr(rs, "count", 0) or 0) if rs is not None else 0
        m = int(getattr(os_, "count", 0) or 0) if os_ is not None else 0
        enough = rs is None or os_ is None or (n >= th.min_count and m >= th.min_count)
        if r0 is None or r1 is None or not math.isfinite(r0) or not math.isfinite(r1):
            rows.append(_judge(th, name, "score", "score_worsening", math.nan, None, n, m, enough))
            continue
        sign = 1.0 if _lower_is_better(score) else -1.0
        scale = abs(r0) if r0 != 0 else 1.0
        lower = None
        if (
            isinstance(score, MeanScore)
            and _is_numeric_stats(rs)
            and _is_numeric_stats(os_)
            and n >= 2
            and m >= 2
        ):
            change = drift.mean_change(rs.mean, rs.std, n, os_.mean, os_.std, m, th.alpha)
            lower = (change.lower if sign > 0 else -change.upper) / scale
        rows.append(
            _judge(th, name, "score", "score_worsening", sign * (r1 - r0) / scale, lower, n, m, enough)
        )
    return rows


def _presence(name: str, role: str, present: float, th: Thresholds) -> CheckResult:
    return _judge(th, name, role, "component_present", present)


def contrast_profiles(
    reference: Any, other: Any, thresholds: Thresholds | Mapping[str, Any] | None = None
) -> ContrastReport:
    """Contrast ``other`` with ``reference`` component by component; see the module docstring.

    Components only in one profile give a ``component_present`` row (value 0)
    that alerts; a component numeric in one profile and categorical in the
    other cannot be compared and says so in a drift row.
    """
    th = Thresholds.from_config(thresholds)
    require_built(reference, "reference")
    require_built(other, "other")
    ref_components: Mapping[str, Any] = reference.components
    oth_components: Mapping[str, Any] = other.components
    for name in th.components:
        if name not in ref_components and name not in getattr(reference, "scores", {}):
            raise ContrastError(
                f"thresholds name component {name!r}, which profile {_idfr(reference)!r} does not have"
            )
    rows: list[CheckResult] = []
    for name, ref_c in ref_components.items():
        role = str(getattr(ref_c, "role", "input"))
        oth_c = oth_components.get(name)
        if oth_c is None:
            rows.append(_presence(name, role, 0.0, th))
            continue
        rs, os_ = ref_c.stats, oth_c.stats
        if _is_numeric_stats(rs) != _is_numeric_stats(os_):
            rows.append(
                _judge(
                    th, name, role, "ks_statistic" if _is_numeric_stats(rs) else "total_variation", math.nan
                )
            )
            continue
        if _is_numeric_stats(rs):
            rows += _numeric_drift(name, role, rs, os_, th)
        else:
            rows += _categorical_drift(name, role, rs, os_, th)
        rows += _integrity(name, role, ref_c, oth_c, th)
        if role == "eval" and _is_numeric_stats(rs):
            rows += _performance(name, role, ref_c, oth_c, th, _eval_lower_is_better(reference, name))
    for name, oth_c in oth_components.items():
        if name not in ref_components:
            rows.append(_presence(name, str(getattr(oth_c, "role", "input")), 0.0, th))
    rows += _score_rows(reference, other, th)
    return ContrastReport(_idfr(reference), _idfr(other), rows, th, profiles=(reference, other))


def require_built(profile: Any, what: str) -> None:
    """Refuse a profile whose components have no stats yet, naming it and the first such component."""
    for name, component in profile.components.items():
        if component.stats is None:
            raise NotBuiltError(
                f"the {what} profile {_idfr(profile)!r} is not built (component {name!r} has no stats): "
                "call build() or load a built profile first"
            )


def _idfr(profile: Any) -> str:
    idfr = getattr(profile, "group_idfr", None)
    if idfr:
        return str(idfr)
    return f"{getattr(profile, 'name', 'profile')}@{getattr(profile, 'version', '?')}"


class AlternativesReport:
    """A reference contrasted with two alternatives (e.g. train vs slice A vs slice B).

    Holds both contrast reports and, per score, which alternative does better.
    """

    def __init__(
        self, reference: str, a: ContrastReport, b: ContrastReport, scores: list[dict[str, Any]]
    ) -> None:
        self.reference = reference
        self.a = a
        self.b = b
        self.scores = scores

    def __repr__(self) -> str:
        return (
            f"<AlternativesReport {self.reference}: {self.a.other} {self.a.verdict}, "
            f"{self.b.other} {self.b.verdict}>"
        )

    @property
    def verdicts(self) -> dict[str, str]:
        return {self.a.other: self.a.verdict, self.b.other: self.b.verdict}

    def to_frame(self) -> pd.DataFrame:
        """Both reports' rows, with a first column ``other`` naming the alternative."""
        import pandas as pd

        frames = []
        for label, report in (("a", self.a), ("b", self.b)):
            frame = report.to_frame()
            frame.insert(0, "other", report.other)
            frame.insert(1, "alternative", label)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def to_jcr(self) -> dict[str, Any]:
        return {
            "type": "AlternativesReport",
            "reference": self.reference,
            "a": self.a.to_jcr(),
            "b": self.b.to_jcr(),
            "scores": [{k: _json_number(v) for k, v in s.items()} for s in self.scores],
        }


def contrast_alternatives(
    reference: Any, a: Any, b: Any, thresholds: Thresholds | Mapping[str, Any] | None = None
) -> AlternativesReport:
    """Contrast ``a`` and ``b`` each with ``reference`` and compare their scores."""
    report_a = contrast_profiles(reference, a, thresholds)
    report_b = contrast_profiles(reference, b, thresholds)
    scores: list[dict[str, Any]] = []
    for name, score in (getattr(reference, "scores", {}) or {}).items():
        ra = getattr((getattr(a, "scores", {}) or {}).get(name), "result", None)
        rb = getattr((getattr(b, "scores", {}) or {}).get(name), "result", None)
        better: str | None = None
        if ra is not None and rb is not None and ra != rb:
            a_better = (ra < rb) if _lower_is_better(score) else (ra > rb)
            better = report_a.other if a_better else report_b.other
        scores.append(
            {
                "score": name,
                "reference": getattr(score, "result", None),
                "a": ra,
                "b": rb,
                "better": better,
            }
        )
    return AlternativesReport(_idfr(reference), report_a, report_b, scores)
