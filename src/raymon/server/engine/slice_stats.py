"""The statistics of slice analytics, from summaries only: (n, mean, M2) moments and (k, n) counts.

A reducer's window states keep, per component, the count, mean and M2 (sum of squared
deviations) of its values and its error counts; discovery cells keep n, sum and sum of
squares. Everything here answers from those, never from raw values:

- ``Moments``: merged with Chan's formula; the *rest* of the traffic is the whole minus a
  slice (``whole.minus(part)``), including the between-group term
  ``n_s n_r / n (mean_s - mean_r)^2``, so "slice against the rest" needs no second query.
- ``welch``: Welch's unequal-variance t-test, its Welch-Satterthwaite degrees of freedom, the
  difference's confidence interval and Cohen's d (pooled standard deviation) with its
  normal-approximation interval. ``welch_arrays`` is the same, vectorised, for discovery.
- ``two_proportions``: the pooled two-proportion z-test (equal to the chi-square test of the
  2x2 table without continuity correction), or Fisher's exact test when an expected count is
  below 5; the difference's Wald interval.
- ``paired_mean`` (paired differences' t-test) and ``mcnemar`` (exact binomial on the
  discordant pairs below 25 of them, else the continuity-corrected chi-square), for two
  versions scoring the same traces.
- ``sample_ratio``: the chi-square goodness-of-fit of the arms' sizes against the expected split.
- ``adjust``: Benjamini-Yekutieli adjusted p-values (``scipy.stats.false_discovery_control``,
  ``method="by"``: valid under any dependence, and slices overlap).

This module is pure: no database, no server, no profile classes. The reference it is tested
against is SciPy on the raw values (tests/server/test_slice_stats.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
FISHER_BELOW = 5.0  # an expected cell count below this: Fisher's exact test instead of the z-test
MCNEMAR_EXACT_BELOW = 25  # discordant pairs below this: the exact binomial test


@dataclass(frozen=True)
class Moments:
    """Count, mean and M2 (the sum of squared deviations from the mean) of some values."""

    n: int
    mean: float
    m2: float

    @classmethod
    def empty(cls) -> Moments:
        return cls(0, 0.0, 0.0)

    @classmethod
    def of(cls, values: Iterable[float]) -> Moments:
        arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
        if arr.size == 0:
            return cls.empty()
        mean = float(arr.mean())
        return cls(int(arr.size), mean, float(((arr - mean) ** 2).sum()))

    @classmethod
    def from_sums(cls, n: int, total: float, total_sq: float) -> Moments:
        """From n, the sum and the sum of squares (what discovery cells keep)."""
        if n <= 0:
            return cls.empty()
        mean = total / n
        return cls(int(n), mean, max(0.0, total_sq - total * mean))

    @property
    def variance(self) -> float:
        """The sample variance (ddof 1); NaN below two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    def merge(self, other: Moments) -> Moments:
        """The moments of both sets of values (Chan et al.)."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        return Moments(
            n, self.mean + delta * other.n / n, self.m2 + other.m2 + delta * delta * self.n * other.n / n
        )

    def minus(self, part: Moments) -> Moments:
        """The moments of the rest: the values of ``self`` not in ``part`` (``part`` a subset of them)."""
        n = self.n - part.n
        if n <= 0:
            return Moments.empty()
        if part.n == 0:
            return self
        mean = (self.n * self.mean - part.n * part.mean) / n
        between = part.n * n / self.n * (part.mean - mean) ** 2
        return Moments(n, mean, max(0.0, self.m2 - part.m2 - between))


@dataclass(frozen=True)
class TestResult:
    """One comparison of ``a`` (a slice, an arm) with ``b`` (the rest, the other arm)."""

    test: str
    value_a: float | None
    value_b: float | None
    difference: float | None  # value_a - value_b
    ci_low: float | None
    ci_high: float | None
    effect_size: float | None  # Cohen's d (means) or the difference (rates)
    effect_ci_low: float | None
    effect_ci_high: float | None
    statistic: float | None
    p_value: float | None
    n_a: int
    n_b: int
    df: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in asdict(self).items()}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def welch_arrays(
    n1: np.ndarray,
    mean1: np.ndarray,
    var1: np.ndarray,
    n2: np.ndarray,
    mean2: np.ndarray,
    var2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Welch's t, degrees of freedom, two-sided p-value and the difference's standard error, elementwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = var1 / n1, var2 / n2
        se = np.sqrt(a + b)
        t = (mean1 - mean2) / se
        df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
        p = 2.0 * sps.t.sf(np.abs(t), df)
    return t, df, p, se


def welch(a: Moments, b: Moments, confidence: float = CONFIDENCE) -> TestResult:
    """Welch's t-test of the means of ``a`` and ``b`` (both need two values or more)."""
    if a.n < 2 or b.n < 2:
        raise ValueError(f"Welch's t-test needs two values per side, got n={a.n} and n={b.n}")
    t, df, p, se = (
        float(x[0])
        for x in welch_arrays(
            np.array([a.n], float),
            np.array([a.mean]),
            np.array([a.variance]),
            np.array([b.n], float),
            np.array([b.mean]),
            np.array([b.variance]),
        )
    )
    diff = a.mean - b.mean
    if se == 0.0:  # both sides constant: no spread to test against
        t, p, df = (math.inf if diff else math.nan), (0.0 if diff else 1.0), math.nan
    q = float(sps.t.ppf(0.5 + confidence / 2, df)) if math.isfinite(df) else math.nan
    pooled = math.sqrt(((a.n - 1) * a.variance + (b.n - 1) * b.variance) / (a.n + b.n - 2))
    d = diff / pooled if pooled > 0 else math.nan
    se_d = math.sqrt((a.n + b.n) / (a.n * b.n) + d * d / (2 * (a.n + b.n))) if math.isfinite(d) else math.nan
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    return TestResult(
        "welch_t",
        a.mean,
        b.mean,
        diff,
        diff - q * se,
        diff + q * se,
        d,
        d - z * se_d,
        d + z * se_d,
        t,
        p,
        a.n,
        b.n,
        df,
    )


def two_proportions(k_a: int, n_a: int, k_b: int, n_b: int, confidence: float = CONFIDENCE) -> TestResult:
    """``k_a / n_a`` against ``k_b / n_b``: the pooled z-test, or Fisher's exact test for small expected counts."""
    if n_a <= 0 or n_b <= 0:
        raise ValueError(f"a rate needs at least one trial per side, got n={n_a} and n={n_b}")
    if not (0 <= k_a <= n_a and 0 <= k_b <= n_b):
        raise ValueError(f"counts must lie in [0, n], got {k_a}/{n_a} and {k_b}/{n_b}")
    p_a, p_b = k_a / n_a, k_b / n_b
    diff = p_a - p_b
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    se_wald = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    pooled = (k_a + k_b) / (n_a + n_b)
    expected = min(
        n_a * pooled, n_a * (1 - pooled), n_b * pooled, n_b * (1 - pooled)
    )  # the 2x2 table's smallest expected count
    if expected < FISHER_BELOW:
        statistic, p = sps.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]])
        test, stat = "fisher_exact", float(statistic)  # the odds ratio
    else:
        se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        stat = diff / se if se > 0 else (math.inf if diff else 0.0)
        p = 2.0 * float(sps.norm.sf(abs(stat))) if se > 0 else (0.0 if diff else 1.0)
        test = "two_proportion_z"
    return TestResult(
        test,
        p_a,
        p_b,
        diff,
        diff - z * se_wald,
        diff + z * se_wald,
        diff,
        diff - z * se_wald,
        diff + z * se_wald,
        stat,
        float(p),
        n_a,
        n_b,
    )


def paired_mean(
    d: Moments, value_a: float | None = None, value_b: float | None = None, confidence: float = CONFIDENCE
) -> TestResult:
    """The paired t-test: ``d`` the moments of the per-trace differences a - b."""
    if d.n < 2:
        raise ValueError(f"a paired test needs two pairs or more, got {d.n}")
    se = math.sqrt(d.variance / d.n)
    df = float(d.n - 1)
    if se == 0.0:
        t, p = (math.inf if d.mean else math.nan), (0.0 if d.mean else 1.0)
    else:
        t = d.mean / se
        p = 2.0 * float(sps.t.sf(abs(t), df))
    q = float(sps.t.ppf(0.5 + confidence / 2, df))
    sd = math.sqrt(d.variance)
    dz = d.mean / sd if sd > 0 else math.nan  # Cohen's d_z
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    se_dz = math.sqrt(1 / d.n + dz * dz / (2 * d.n)) if math.isfinite(dz) else math.nan
    return TestResult(
        "paired_t",
        value_a,
        value_b,
        d.mean,
        d.mean - q * se,
        d.mean + q * se,
        dz,
        dz - z * se_dz,
        dz + z * se_dz,
        t,
        p,
        d.n,
        d.n,
        df,
    )


def mcnemar(
    only_a: int, only_b: int, n_pairs: int, correct_a: int, correct_b: int, confidence: float = CONFIDENCE
) -> TestResult:
    """McNemar's test on paired correctness: ``only_a`` pairs right under a only, ``only_b`` under b only."""
    if n_pairs <= 0:
        raise ValueError("McNemar's test needs at least one pair")
    discordant = only_a + only_b
    if discordant == 0:
        stat, p, test = 0.0, 1.0, "mcnemar_exact"
    elif discordant < MCNEMAR_EXACT_BELOW:
        p = float(sps.binomtest(only_a, discordant, 0.5).pvalue)
        stat, test = float(only_a), "mcnemar_exact"
    else:
        stat = (abs(only_a - only_b) - 1.0) ** 2 / discordant
        p, test = float(sps.chi2.sf(stat, 1)), "mcnemar_chi2"
    diff = (only_a - only_b) / n_pairs  # accuracy a - accuracy b
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    se = math.sqrt(max(0.0, (only_a + only_b) / n_pairs - diff * diff) / n_pairs)
    return TestResult(
        test,
        correct_a / n_pairs,
        correct_b / n_pairs,
        diff,
        diff - z * se,
        diff + z * se,
        diff,
        diff - z * se,
        diff + z * se,
        stat,
        p,
        n_pairs,
        n_pairs,
    )


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio-mismatch check: are the arms' sizes what the split promised?"""

    n_a: int
    n_b: int
    expected_share_a: float
    share_a: float | None
    p_value: float | None
    mismatch: bool  # p below ``alpha`` (0.001 by default: a mismatch is a broken experiment, not noise)

    def to_json(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in asdict(self).items()}


def sample_ratio(n_a: int, n_b: int, expected_share_a: float = 0.5, alpha: float = 0.001) -> SampleRatio:
    """Chi-square goodness of fit of (n_a, n_b) against the expected split."""
    if not 0.0 < expected_share_a < 1.0:
        raise ValueError(f"expected_share_a must lie strictly between 0 and 1, got {expected_share_a}")
    n = n_a + n_b
    if n == 0:
        return SampleRatio(n_a, n_b, expected_share_a, None, None, False)
    result = sps.chisquare([n_a, n_b], [n * expected_share_a, n * (1 - expected_share_a)])
    p = float(result.pvalue)
    return SampleRatio(n_a, n_b, expected_share_a, n_a / n, p, p < alpha)


def adjust(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Yekutieli adjusted p-values (None stays None: not tested)."""
    tested = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(p_values)
    if not tested:
        return out
    adjusted = sps.false_discovery_control([float(p_values[i]) for i in tested], method="by")  # type: ignore[arg-type]
    for i, q in zip(tested, np.atleast_1d(adjusted), strict=True):
        out[i] = float(q)
    return out
