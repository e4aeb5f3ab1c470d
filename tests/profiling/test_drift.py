"""Drift metrics, each cross-checked against SciPy on the same data or a hand-computed case."""

from __future__ import annotations

import math

import datasketches
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from raymon.profiling import drift

TIGHT = 1e-9  # tolerance where our arithmetic and SciPy's are the same formula


def _sketch(values: np.ndarray, k: int = 200) -> datasketches.kll_doubles_sketch:
    sk = datasketches.kll_doubles_sketch(k)
    sk.update(np.asarray(values, dtype=np.float64))
    return sk


small_samples = st.lists(st.integers(-20, 20), min_size=2, max_size=150).map(
    lambda v: np.array(v, dtype=float) / 2
)


@settings(max_examples=60, deadline=None)
@given(small_samples, small_samples)
def test_ks_from_exact_sketches_equals_scipy_ks_2samp_with_ties(a: np.ndarray, b: np.ndarray) -> None:
    result = drift.ks_from_sketches(_sketch(a), _sketch(b))
    expected = stats.ks_2samp(a, b, method="asymp")
    assert result.statistic == pytest.approx(expected.statistic, abs=TIGHT)
    assert result.pvalue == pytest.approx(expected.pvalue, abs=1e-7)
    assert result.rank_error == 0.0


def test_ks_from_estimating_sketches_is_within_their_rank_error() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 50_000), rng.normal(0.2, 1.3, 40_000)
    sa, sb = _sketch(a), _sketch(b)
    assert sa.is_estimation_mode() and sb.is_estimation_mode()
    result = drift.ks_from_sketches(sa, sb)
    exact = stats.ks_2samp(a, b).statistic
    assert result.rank_error > 0
    assert abs(result.statistic - exact) <= result.rank_error


def test_ks_lower_bound_subtracts_margin_and_rank_error() -> None:
    rng = np.random.default_rng(2)
    sa, sb = _sketch(rng.normal(0, 1, 30_000)), _sketch(rng.normal(1, 1, 30_000))
    result = drift.ks_from_sketches(sa, sb, alpha=0.05)
    margin = math.sqrt(math.log(2 / 0.05) / 2) * math.sqrt(60_000 / 30_000**2)
    assert result.lower_bound == pytest.approx(result.statistic - margin - result.rank_error, abs=TIGHT)


def test_ks_lower_bound_rarely_positive_when_nothing_changed() -> None:
    rng = np.random.default_rng(3)
    positives = 0
    for _ in range(200):
        a, b = rng.normal(size=300), rng.normal(size=200)
        positives += drift.ks_from_sketches(_sketch(a), _sketch(b), alpha=0.05).lower_bound > 0
    assert positives <= 0.05 * 200


@pytest.mark.parametrize(
    "n, m, shift", [(20_000, 30_000, 0.0), (20_000, 30_000, 0.03), (50_000, 50_000, 0.2)]
)
def test_ks_pvalue_for_large_samples_is_close_to_scipy(n: int, m: int, shift: float) -> None:
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=n), rng.normal(shift, 1, size=m)
    expected = stats.ks_2samp(a, b, method="asymp")
    got = drift.ks_pvalue(expected.statistic, n, m)
    assert got == pytest.approx(expected.pvalue, abs=0.002, rel=0.05)


def test_ks_margin_matches_scipy_critical_value_for_large_samples() -> None:
    # the asymptotic KS critical value at level alpha is the same expression
    n = m = 100_000
    en = n * m / (n + m)
    critical = stats.kstwobign.isf(0.05) / math.sqrt(en)
    assert drift.ks_margin(n, m, 0.05) == pytest.approx(critical, rel=1e-3)


@settings(max_examples=60, deadline=None)
@given(small_samples, small_samples)
def test_wasserstein_from_exact_sketches_equals_scipy(a: np.ndarray, b: np.ndarray) -> None:
    got = drift.wasserstein_from_sketches(_sketch(a), _sketch(b))
    assert got == pytest.approx(stats.wasserstein_distance(a, b), abs=1e-9)


def test_wasserstein_from_estimating_sketches_within_rank_error_times_range() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.gamma(2.0, 1.0, 60_000), rng.gamma(2.5, 1.0, 60_000)
    sa, sb = _sketch(a), _sketch(b)
    bound = (drift.sketch_rank_error(sa) + drift.sketch_rank_error(sb)) * (
        max(a.max(), b.max()) - min(a.min(), b.min())
    )
    assert abs(drift.wasserstein_from_sketches(sa, sb) - stats.wasserstein_distance(a, b)) <= bound


counts_pairs = st.integers(2, 12).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 500), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
        st.lists(st.integers(0, 500), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
    )
)


@settings(max_examples=80, deadline=None)
@given(counts_pairs)
def test_chi_square_equals_scipy_chi2_contingency(pair: tuple[list[int], list[int]]) -> None:
    ref, oth = np.array(pair[0]), np.array(pair[1])
    got = drift.chi_square(ref, oth)
    keep = (ref + oth) > 0
    if keep.sum() < 2:
        assert got.pvalue == 1.0 and got.statistic == 0.0
        return
    stat, p, dof, _ = stats.chi2_contingency(np.vstack([ref[keep], oth[keep]]), correction=False)
    assert got.dof == dof
    assert got.statistic == pytest.approx(stat, rel=1e-9, abs=1e-9)
    assert got.pvalue == pytest.approx(p, rel=1e-7, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(counts_pairs)
def test_jensen_shannon_equals_scipy_base2(pair: tuple[list[int], list[int]]) -> None:
    ref, oth = np.array(pair[0], dtype=float), np.array(pair[1], dtype=float)
    assert drift.jensen_shannon(ref, oth) == pytest.approx(jensenshannon(ref, oth, base=2), abs=1e-7)


@settings(max_examples=80, deadline=None)
@given(counts_pairs)
def test_total_variation_is_a_symmetric_distance_in_unit_interval(pair: tuple[list[int], list[int]]) -> None:
    ref, oth = pair
    tv = drift.total_variation(ref, oth)
    assert 0.0 <= tv <= 1.0 + 1e-12
    assert tv == pytest.approx(drift.total_variation(oth, ref))
    assert drift.total_variation(ref, ref) == pytest.approx(0.0)


def test_total_variation_hand_computed() -> None:
    # p = (0.5, 0.5, 0), q = (0.2, 0.3, 0.5): 0.5 * (0.3 + 0.2 + 0.5) = 0.5
    assert drift.total_variation([5, 5, 0], [2, 3, 5]) == pytest.approx(0.5)


def test_total_variation_lower_bound_rarely_positive_when_nothing_changed() -> None:
    rng = np.random.default_rng(5)
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    positives = 0
    for _ in range(200):
        ref, oth = rng.multinomial(400, probs), rng.multinomial(250, probs)
        positives += drift.total_variation(ref, oth) - drift.total_variation_margin(ref, oth, 0.05) > 0
    assert positives <= 0.05 * 200


def test_total_variation_lower_bound_positive_for_a_real_shift() -> None:
    rng = np.random.default_rng(6)
    ref = rng.multinomial(5_000, [0.5, 0.3, 0.2])
    oth = rng.multinomial(5_000, [0.2, 0.3, 0.5])
    assert drift.total_variation(ref, oth) - drift.total_variation_margin(ref, oth, 0.05) > 0.2


def test_psi_hand_computed() -> None:
    # p = (0.5, 0.5), q = (0.25, 0.75): -0.25 ln 0.5 + 0.25 ln 1.5 = 0.25 ln 3
    assert drift.psi([2, 2], [1, 3]) == pytest.approx(0.25 * math.log(3), abs=TIGHT)


def test_psi_floors_empty_bins_at_epsilon() -> None:
    eps = 1e-4
    # p = (0.5, 0.5, 0), q = (0, 0.5, 0.5)
    expected = (eps - 0.5) * math.log(eps / 0.5) + 0.0 + (0.5 - eps) * math.log(0.5 / eps)
    assert drift.psi([1, 1, 0], [0, 1, 1], epsilon=eps) == pytest.approx(expected, abs=TIGHT)
    assert math.isfinite(drift.psi([1, 0], [0, 1]))


def test_psi_is_zero_for_same_proportions() -> None:
    assert drift.psi([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0, abs=TIGHT)


@settings(max_examples=60, deadline=None)
@given(small_samples)
def test_counts_on_edges_from_exact_sketch_equal_numpy_histogram(values: np.ndarray) -> None:
    edges = np.array([-5.0, -2.0, 0.0, 0.5, 3.0])
    got = drift.counts_on_edges(_sketch(values), edges)
    hist, _ = np.histogram(values, bins=edges)
    expected = np.concatenate([[np.sum(values < edges[0])], hist, [np.sum(values > edges[-1])]])
    np.testing.assert_allclose(got, expected)


def test_align_frequencies_puts_new_categories_after_reference_ones() -> None:
    keys, ref, oth = drift.align_frequencies({"b": 3, "a": 1}, {"a": 2, "z": 4, "c": 1})
    assert keys == ["b", "a", "c", "z"]
    assert ref.tolist() == [3, 1, 0, 0]
    assert oth.tolist() == [0, 2, 1, 4]


def test_rate_increase_bound_is_negative_when_rates_are_equal_and_positive_for_a_jump() -> None:
    same = drift.rate_increase(0, 500, 0, 500, 0.05)
    assert same.increase == 0.0 and same.lower_bound < 0
    jump = drift.rate_increase(10, 1000, 500, 1000, 0.05)
    assert jump.increase == pytest.approx(0.49)
    assert 0.4 < jump.lower_bound < 0.49


def test_mean_change_interval_matches_welch_normal_interval() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(1, 2, 400), rng.normal(1.5, 1, 300)
    got = drift.mean_change(a.mean(), a.std(ddof=1), a.size, b.mean(), b.std(ddof=1), b.size, 0.05)
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert got.difference == pytest.approx(b.mean() - a.mean())
    assert got.lower == pytest.approx(got.difference - 1.959963985 * se)
    assert got.upper == pytest.approx(got.difference + 1.959963985 * se)


def test_mismatched_bins_are_refused_with_their_sizes() -> None:
    with pytest.raises(ValueError, match="reference has 3, other has 2"):
        drift.psi([1, 2, 3], [1, 2])


def test_negative_counts_and_bad_alpha_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        drift.total_variation([1, -1], [1, 1])
    with pytest.raises(ValueError, match="alpha must be in"):
        drift.ks_margin(10, 10, 1.5)
