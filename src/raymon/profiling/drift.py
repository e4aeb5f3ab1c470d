"""Drift metrics between a reference and another sample, computed from mergeable summaries.

Every function here is pure: it takes bin counts, category frequencies or KLL
quantile sketches (what a profile keeps, never raw rows) and answers numbers.
They never read a profile, never decide whether something alerts (that is
``raymon.profiling.contrast``) and never mutate their inputs.

Conventions, so results can be checked against SciPy on the same data:

- KS and Wasserstein use the weighted sample a KLL sketch retains. While a
  sketch is exact (fewer values than it can hold) that sample *is* the data
  and the results equal ``scipy.stats.ks_2samp`` / ``wasserstein_distance``;
  past that, each CDF is off by at most the sketch's normalised rank error,
  so the KS statistic is off by at most the sum of both errors.
- The KS p-value is Smirnov's asymptotic distribution, as
  ``ks_2samp(method="asymp")``: ``kstwo.sf(D, round(n*m/(n+m)))``.
- PSI replaces empty proportions by ``epsilon`` (default ``1e-4``) so a bin
  empty on one side gives a large but finite term; chi-square is the test of
  homogeneity of the 2 x k table (``chi2_contingency(correction=False)``),
  dropping categories empty on both sides; Jensen-Shannon is the *distance*
  (square root of the divergence) in base 2, so it lies in [0, 1].
- Confidence bounds (``*_margin``) are the practical-significance guard: a
  distance only alerts when it stays above its threshold after subtracting
  the sampling noise that sample sizes alone would explain.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import special as spc
from scipy import stats as sps

PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class WeightedSample:
    """Values with weights: the sample a KLL sketch retains (weights sum to the count it has seen)."""

    values: np.ndarray
    weights: np.ndarray

    @property
    def total(self) -> float:
        return float(self.weights.sum())

    @classmethod
    def from_values(cls, values: Iterable[float]) -> WeightedSample:
        """An unweighted sample (every weight 1), NaN dropped."""
        arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
        arr = arr[~np.isnan(arr)]
        return cls(values=arr, weights=np.ones_like(arr))


def sketch_sample(sketch: Any) -> WeightedSample:
    """The weighted sample a KLL sketch retains; iterating a sketch yields ``(item, weight)`` pairs."""
    # ``fromiter`` over the flattened pairs: ``asarray`` of a list of tuples costs several times more,
    # and a reduce pass takes a few hundred samples per contrast.
    flat = np.fromiter(itertools.chain.from_iterable(sketch), dtype=np.float64)
    pairs = flat.reshape(-1, 2)
    return WeightedSample(values=pairs[:, 0], weights=pairs[:, 1])


def sketch_rank_error(sketch: Any) -> float:
    """How far the sketch's CDF may be from the data's: 0 while exact, else its normalised rank error."""
    if sketch.is_empty() or not sketch.is_estimation_mode():
        return 0.0
    return float(sketch.normalized_rank_error(False))


def _cdf(sample: WeightedSample, points: np.ndarray) -> np.ndarray:
    """Right-continuous empirical CDF (fraction of weight <= point) of a weighted sample."""
    order = np.argsort(sample.values, kind="stable")
    values = sample.values[order]
    cum = np.cumsum(sample.weights[order])
    idx = np.searchsorted(values, points, side="right")
    out = np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)
    return out / cum[-1]


def _cdf_gaps(reference: WeightedSample, other: WeightedSample, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The union of both samples' values, sorted, and the gap between their CDFs at each."""
    if reference.values.size == 0 or other.values.size == 0:
        raise ValueError(f"{what} needs two non-empty samples")
    points = np.union1d(reference.values, other.values)
    return points, np.abs(_cdf(reference, points) - _cdf(other, points))


def _area(points: np.ndarray, gaps: np.ndarray) -> float:
    """The area between two CDFs from their gaps at the sorted ``points`` (Wasserstein-1)."""
    with np.errstate(invalid="ignore"):
        terms = np.where(
            gaps[:-1] > 0, gaps[:-1] * np.diff(points), 0.0
        )  # infinite values: inf only if mass differs
    return float(np.sum(terms))


def ks_statistic(reference: WeightedSample, other: WeightedSample) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the two empirical CDFs."""
    _, gaps = _cdf_gaps(reference, other, "ks_statistic")
    return float(np.max(gaps))


KS_LIMITING_FROM = 10_000  # effective sample size from which the limiting distribution is used


def ks_pvalue(statistic: float, n_reference: float, n_other: float) -> float:
    """Two-sided KS p-value: Smirnov's asymptotic formula, as ``scipy.stats.ks_2samp(method="asymp")``.

    That is ``kstwo.sf(D, round(n*m/(n+m)))``. SciPy evaluates it in up to
    0.1 s when the p-value is tiny and the samples large, so from an effective
    size of 10,000 (or when the p-value is below 1e-8) the limiting Kolmogorov
    distribution ``kstwobign.sf(sqrt(en) * D)`` is used instead: there it
    differs by less than 0.002 in absolute terms, which no decision here needs.
    """
    m, n = sorted([float(n_reference), float(n_other)], reverse=True)
    en = max(1.0, float(np.round(m * n / (m + n))))
    limiting = float(spc.kolmogorov(math.sqrt(en) * statistic))  # ``kstwobign.sf``, without its overhead
    if en >= KS_LIMITING_FROM or limiting < 1e-8:
        return float(np.clip(limiting, 0.0, 1.0))
    return float(np.clip(sps.kstwo.sf(statistic, en), 0.0, 1.0))


def ks_margin(n_reference: float, n_other: float, alpha: float) -> float:
    """Sampling noise in D at confidence 1 - alpha: ``sqrt(ln(2/alpha)/2) * sqrt((n+m)/(n*m))``.

    This is the DKW-style critical value of the KS test; D minus it is a lower
    confidence bound on the distance between the two underlying distributions.
    """
    _check_alpha(alpha)
    n, m = float(n_reference), float(n_other)
    return math.sqrt(math.log(2.0 / alpha) / 2.0) * math.sqrt((n + m) / (n * m))


@dataclass(frozen=True)
class KSResult:
    """KS statistic with its p-value and a lower confidence bound that includes the sketches' rank error."""

    statistic: float
    pvalue: float
    lower_bound: float
    rank_error: float
    n_reference: float
    n_other: float


def ks_from_sketches(reference: Any, other: Any, alpha: float = 0.05) -> KSResult:
    """KS between two KLL sketches, evaluated on the union of their retained points.

    The lower bound subtracts both the sampling margin and the sketches' rank
    errors, so an alert from it is not an artefact of sketching.
    """
    return distances_from_sketches(reference, other, alpha).ks


class SketchDistances(NamedTuple):
    """KS and Wasserstein-1 between two sketches (``distances_from_sketches``)."""

    ks: KSResult
    wasserstein: float


def distances_from_sketches(reference: Any, other: Any, alpha: float = 0.05) -> SketchDistances:
    """``ks_from_sketches`` and ``wasserstein_from_sketches`` from one read of both sketches and one CDF pass.

    A contrast needs both for every numeric component: each sketch's sample and both CDFs are
    computed once for the two (the reduce passes contrast every slice's window they touch).
    """
    points, gaps = _cdf_gaps(sketch_sample(reference), sketch_sample(other), "distances_from_sketches")
    return SketchDistances(_ks_result(float(np.max(gaps)), reference, other, alpha), _area(points, gaps))


def _ks_result(d: float, reference: Any, other: Any, alpha: float) -> KSResult:
    n, m = float(reference.n), float(other.n)
    rank_error = sketch_rank_error(reference) + sketch_rank_error(other)
    lower = max(0.0, d - ks_margin(n, m, alpha) - rank_error)
    return KSResult(d, ks_pvalue(d, n, m), lower, rank_error, n, m)


def wasserstein(reference: WeightedSample, other: WeightedSample) -> float:
    """First Wasserstein (earth mover's) distance, in the data's units: the area between the two CDFs."""
    points, gaps = _cdf_gaps(reference, other, "wasserstein")
    return _area(points, gaps)


def wasserstein_from_sketches(reference: Any, other: Any) -> float:
    """Wasserstein distance between the samples two KLL sketches retain."""
    return wasserstein(sketch_sample(reference), sketch_sample(other))


def _as_counts(counts: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of counts, got shape {arr.shape}")
    if np.any(arr < 0) or np.any(~np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite non-negative counts, got {arr.tolist()[:10]}")
    return arr


def _pair(
    reference: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    ref, oth = _as_counts(reference, "reference counts"), _as_counts(other, "other counts")
    if ref.shape != oth.shape:
        raise ValueError(f"counts must cover the same bins: reference has {ref.size}, other has {oth.size}")
    if ref.sum() == 0 or oth.sum() == 0:
        raise ValueError("counts must not be all zero on either side")
    return ref, oth


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def psi(
    reference: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray, epsilon: float = PSI_EPSILON
) -> float:
    """Population stability index: ``sum((q - p) * ln(q / p))`` over shared bins, proportions floored at epsilon."""
    ref, oth = _pair(reference, other)
    p = np.maximum(ref / ref.sum(), epsilon)
    q = np.maximum(oth / oth.sum(), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


@dataclass(frozen=True)
class ChiSquareResult:
    statistic: float
    pvalue: float
    dof: int


def chi_square(
    reference: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray
) -> ChiSquareResult:
    """Pearson's chi-square test of homogeneity on the 2 x k table of counts (no continuity correction)."""
    ref, oth = _pair(reference, other)
    keep = (ref + oth) > 0
    table = np.vstack([ref[keep], oth[keep]])
    dof = table.shape[1] - 1
    if dof < 1:
        return ChiSquareResult(0.0, 1.0, 0)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return ChiSquareResult(stat, float(spc.chdtrc(dof, stat)), dof)  # ``chi2.sf``, without its overhead


def total_variation(reference: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray) -> float:
    """Total variation distance: half the L1 distance between the two distributions, in [0, 1]."""
    ref, oth = _pair(reference, other)
    return float(0.5 * np.sum(np.abs(ref / ref.sum() - oth / oth.sum())))


def total_variation_margin(
    reference: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray, alpha: float
) -> float:
    """Sampling noise in the TV distance at confidence 1 - alpha (conservative).

    TV(p_hat, q_hat) <= TV(p, q) + Z with Z = TV(p_hat, p) + TV(q_hat, q). Z
    moves by at most 1/n when one reference value changes and 1/m for one other
    value, so (McDiarmid) Z <= E[Z] + sqrt(ln(1/alpha) / 2 * (1/n + 1/m)) with
    probability 1 - alpha, and E[Z] <= 0.5 * sum(sqrt(p_i (1 - p_i))) *
    (1/sqrt(n) + 1/sqrt(m)), with p the pooled proportions as a plug-in.
    """
    _check_alpha(alpha)
    ref, oth = _pair(reference, other)
    n, m = float(ref.sum()), float(oth.sum())
    pooled = (ref + oth) / (n + m)
    spread = float(np.sum(np.sqrt(pooled * (1.0 - pooled))))
    expected = 0.5 * spread * (1.0 / math.sqrt(n) + 1.0 / math.sqrt(m))
    deviation = math.sqrt(math.log(1.0 / alpha) / 2.0 * (1.0 / n + 1.0 / m))
    return expected + deviation


def jensen_shannon(reference: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray) -> float:
    """Jensen-Shannon distance in base 2 (0 = same, 1 = disjoint); as ``scipy.spatial.distance.jensenshannon(base=2)``."""
    ref, oth = _pair(reference, other)
    p, q = ref / ref.sum(), oth / oth.sum()
    mid = 0.5 * (p + q)

    def _kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / mid[nz])))

    return math.sqrt(max(0.0, 0.5 * _kl(p) + 0.5 * _kl(q)))


def align_frequencies(
    reference: Mapping[str, int], other: Mapping[str, int]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Both sides' counts over the union of categories (reference's order first, then new ones sorted)."""
    keys = list(reference)
    keys += sorted(k for k in other if k not in reference)
    ref = np.array([reference.get(k, 0) for k in keys], dtype=np.float64)
    oth = np.array([other.get(k, 0) for k in keys], dtype=np.float64)
    return keys, ref, oth


def counts_on_edges(sketch: Any, edges: np.ndarray) -> np.ndarray:
    """Estimate, from a KLL sketch, how many values fall in each bin of ``edges``.

    Layout as ``NumericStats.counts``: ``[below edges[0], bins ..., above edges[-1]]``,
    bins closed on the left and the last bin closed on both sides (as
    ``numpy.histogram``). Used when the other profile was built with its own
    edges; each estimated proportion is off by at most twice the rank error.
    """
    edges = np.asarray(edges, dtype=np.float64)
    n = float(sketch.n)
    out = np.zeros(edges.size + 1)
    if n == 0:
        return out
    sample = sketch_sample(sketch)
    order = np.argsort(sample.values, kind="stable")
    values, cum = sample.values[order], np.concatenate([[0.0], np.cumsum(sample.weights[order])])
    below = cum[np.searchsorted(values, edges, side="left")]  # weight strictly below each edge
    upto_last = cum[np.searchsorted(values, edges[-1], side="right")]
    ranks = np.concatenate([below[:-1], [upto_last]])
    scale = n / cum[-1]
    out[0] = ranks[0] * scale
    out[1:-1] = np.diff(ranks) * scale
    out[-1] = (cum[-1] - upto_last) * scale
    return out


@dataclass(frozen=True)
class RateChange:
    """The change of a rate (e.g. missing values per row) from reference to other, with a lower bound."""

    reference_rate: float
    other_rate: float
    increase: float
    lower_bound: float


@functools.lru_cache(maxsize=64)
def _two_sided_z(alpha: float) -> float:
    """``norm.ppf(1 - alpha / 2)``: a contrast asks it for the same few alphas thousands of times."""
    return float(spc.ndtri(1 - alpha / 2))


def rate_increase(
    reference_events: float, reference_total: float, other_events: float, other_total: float, alpha: float
) -> RateChange:
    """How much a rate went up, with a one-sided lower confidence bound (Agresti-Caffo interval).

    Adding one event and one non-event to each side keeps the bound honest
    when a rate is 0 (the plain Wald interval would claim zero noise).
    """
    _check_alpha(alpha)
    if reference_total <= 0 or other_total <= 0:
        raise ValueError(f"rate_increase needs positive totals, got {reference_total} and {other_total}")
    r0, r1 = reference_events / reference_total, other_events / other_total
    a0 = (reference_events + 1) / (reference_total + 2)
    a1 = (other_events + 1) / (other_total + 2)
    se = math.sqrt(a0 * (1 - a0) / (reference_total + 2) + a1 * (1 - a1) / (other_total + 2))
    z = _two_sided_z(alpha)
    increase = r1 - r0
    return RateChange(r0, r1, increase, (a1 - a0) - z * se)


@dataclass(frozen=True)
class MeanChange:
    """Change of a mean from reference to other with a two-sided confidence interval (Welch, normal)."""

    difference: float
    lower: float
    upper: float


def mean_change(
    reference_mean: float,
    reference_std: float,
    reference_n: float,
    other_mean: float,
    other_std: float,
    other_n: float,
    alpha: float,
) -> MeanChange:
    """Difference of means ``other - reference`` with its 1 - alpha interval from both samples' spread."""
    _check_alpha(alpha)
    if reference_n < 2 or other_n < 2:
        raise ValueError(f"mean_change needs at least 2 values per side, got {reference_n} and {other_n}")
    se = math.sqrt(reference_std**2 / reference_n + other_std**2 / other_n)
    z = _two_sided_z(alpha)
    d = other_mean - reference_mean
    return MeanChange(d, d - z * se, d + z * se)
