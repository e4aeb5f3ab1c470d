"""The slice statistics from summaries agree with SciPy on the raw values (the pure reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from raymon.server.engine import slice_stats as ss

floats = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


def close(a: float | None, b: float, rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    assert a is not None
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(floats, min_size=2, max_size=60),
    st.lists(floats, min_size=2, max_size=60),
    st.lists(floats, min_size=0, max_size=30),
)
def test_welch_of_a_slice_against_the_rest_by_subtraction_equals_scipy_on_raw_values(
    slice_values: list[float], rest_values: list[float], more_rest: list[float]
) -> None:
    rest = rest_values + more_rest
    x, y = np.array(slice_values), np.array(rest)
    if np.std(x) < 1e-3 and np.std(y) < 1e-3:
        return  # both constant: SciPy answers NaN, we answer the degenerate case explicitly
    # the whole is merged in two pieces, the rest is the whole minus the slice
    whole = ss.Moments.of(rest_values).merge(ss.Moments.of(x)).merge(ss.Moments.of(more_rest))
    got = ss.welch(ss.Moments.of(x), whole.minus(ss.Moments.of(x)))
    want = sps.ttest_ind(x, y, equal_var=False)
    assert got.n_a == len(x) and got.n_b == len(y)
    assert close(got.statistic, float(want.statistic), rel=1e-5, abs_=1e-6)
    assert close(got.p_value, float(want.pvalue), rel=1e-4, abs_=1e-8)
    ci = want.confidence_interval(0.95)
    scale = max(1.0, float(np.abs(np.concatenate([x, y])).max()))
    assert close(got.ci_low, float(ci.low), rel=1e-4, abs_=1e-6 * scale)
    assert close(got.ci_high, float(ci.high), rel=1e-4, abs_=1e-6 * scale)


@settings(max_examples=100, deadline=None)
@given(st.lists(floats, min_size=1, max_size=50), st.lists(floats, min_size=1, max_size=50))
def test_moments_from_sums_and_merges_match_numpy(a: list[float], b: list[float]) -> None:
    values = np.array(a + b)
    merged = ss.Moments.of(a).merge(ss.Moments.of(b))
    from_sums = ss.Moments.from_sums(len(values), float(values.sum()), float((values**2).sum()))
    assert merged.n == from_sums.n == len(values)
    assert close(merged.mean, float(values.mean()), abs_=1e-7)
    m2 = float(((values - values.mean()) ** 2).sum())
    assert close(merged.m2, m2, rel=1e-6, abs_=1e-4)
    assert close(from_sums.m2, m2, rel=1e-3, abs_=1e-2 * max(1.0, float((values**2).sum()) * 1e-9))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400), st.data())
def test_rates_agree_with_scipy_fisher_or_the_chi_square_of_the_table(
    n_a: int, n_b: int, data: st.DataObject
) -> None:
    k_a = data.draw(st.integers(0, n_a))
    k_b = data.draw(st.integers(0, n_b))
    got = ss.two_proportions(k_a, n_a, k_b, n_b)
    table = [[k_a, n_a - k_a], [k_b, n_b - k_b]]
    if got.test == "fisher_exact":
        assert close(got.p_value, float(sps.fisher_exact(table).pvalue), rel=1e-9)
    else:
        want = sps.chi2_contingency(table, correction=False).pvalue
        assert close(got.p_value, float(want), rel=1e-6, abs_=1e-12)
    assert close(got.difference, k_a / n_a - k_b / n_b)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(floats, floats), min_size=3, max_size=60))
def test_the_paired_test_equals_scipy_ttest_rel(pairs: list[tuple[float, float]]) -> None:
    a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    if np.std(a - b) < 1e-3:
        return
    got = ss.paired_mean(ss.Moments.of(a - b))
    want = sps.ttest_rel(a, b)
    assert close(got.statistic, float(want.statistic), rel=1e-5, abs_=1e-6)
    assert close(got.p_value, float(want.pvalue), rel=1e-4, abs_=1e-8)


@pytest.mark.parametrize(("only_a", "only_b"), [(0, 0), (3, 9), (12, 11), (40, 20), (100, 70)])
def test_mcnemar_is_the_exact_binomial_below_25_discordant_pairs_else_the_corrected_chi_square(
    only_a: int, only_b: int
) -> None:
    got = ss.mcnemar(only_a, only_b, 500, 300 + only_a, 300 + only_b)
    d = only_a + only_b
    if d == 0:
        assert got.p_value == 1.0
    elif d < 25:
        assert close(got.p_value, float(sps.binomtest(only_a, d, 0.5).pvalue))
    else:
        assert close(got.p_value, float(sps.chi2.sf((abs(only_a - only_b) - 1) ** 2 / d, 1)))
    assert close(got.difference, (only_a - only_b) / 500)


def test_sample_ratio_mismatch_flags_a_broken_split_only() -> None:
    assert not ss.sample_ratio(5000, 5050).mismatch
    broken = ss.sample_ratio(5000, 5600)
    assert broken.mismatch and broken.p_value is not None and broken.p_value < 1e-6
    assert not ss.sample_ratio(2000, 8100, expected_share_a=0.2).mismatch
    with pytest.raises(ValueError, match="expected_share_a"):
        ss.sample_ratio(1, 1, expected_share_a=1.0)


def test_adjust_is_benjamini_yekutieli_and_keeps_untested_slices_untested() -> None:
    ps = [0.001, None, 0.02, 0.04, 0.5]
    got = ss.adjust(ps)
    want = sps.false_discovery_control([0.001, 0.02, 0.04, 0.5], method="by")
    assert got[1] is None
    assert [got[i] for i in (0, 2, 3, 4)] == pytest.approx(list(want))
    assert ss.adjust([None]) == [None]


def test_a_side_of_one_value_is_refused_with_its_count() -> None:
    with pytest.raises(ValueError, match="n=1"):
        ss.welch(ss.Moments.of([1.0]), ss.Moments.of([1.0, 2.0]))
