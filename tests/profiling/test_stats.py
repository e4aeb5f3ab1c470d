"""Stats are mergeable: merge(stats(a), stats(b)) describes a + b, and they survive JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raymon.profiling.stats import (
    CategoricalStats,
    NumericStats,
    StatsError,
    numeric_edges,
    stats_from_jcr,
)

EDGES = numeric_edges(-50.0, 50.0, 10)

numbers = st.one_of(
    st.floats(min_value=-100, max_value=100, allow_nan=False),
    st.just(math.nan),
    st.just(50.0),
    st.just(-50.0),
    st.sampled_from([math.inf, -math.inf]),
)
categories = st.one_of(st.sampled_from(["a", "b", "c", "dd", "é"]), st.none(), st.integers(0, 3))


def numeric_of(values: list[float]) -> NumericStats:
    stats = NumericStats(EDGES)
    stats.update(np.asarray(values, dtype=float))
    return stats


def assert_numeric_equal(merged: NumericStats, whole: NumericStats) -> None:
    assert merged.counts.tolist() == whole.counts.tolist()
    assert (merged.count, merged.missing, merged.finite) == (whole.count, whole.missing, whole.finite)
    assert merged.min == whole.min or (math.isnan(merged.min) and math.isnan(whole.min))
    assert merged.max == whole.max or (math.isnan(merged.max) and math.isnan(whole.max))
    if whole.finite:
        assert merged.mean == pytest.approx(whole.mean, rel=1e-9, abs=1e-9)
    if whole.finite > 1:
        assert merged.std == pytest.approx(whole.std, rel=1e-7, abs=1e-7)
    assert merged.sketch.n == whole.sketch.n


@settings(max_examples=150, deadline=None)
@given(st.lists(numbers, max_size=60), st.lists(numbers, max_size=60))
def test_numeric_merge_equals_stats_of_concatenation(a: list[float], b: list[float]) -> None:
    assert_numeric_equal(numeric_of(a).merge(numeric_of(b)), numeric_of(a + b))


@settings(max_examples=40, deadline=None)
@given(st.lists(numbers, max_size=40), st.lists(numbers, max_size=40))
def test_numeric_merge_leaves_inputs_unchanged(a: list[float], b: list[float]) -> None:
    sa, sb = numeric_of(a), numeric_of(b)
    before = (json.dumps(sa.to_jcr()), json.dumps(sb.to_jcr()))
    sa.merge(sb)
    assert (json.dumps(sa.to_jcr()), json.dumps(sb.to_jcr())) == before


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31), st.integers(2_000, 20_000), st.integers(2_000, 20_000))
def test_numeric_merged_quantiles_within_sketch_rank_error(seed: int, n_a: int, n_b: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 10, n_a), rng.exponential(10, n_b)
    merged = numeric_of(list(a)).merge(numeric_of(list(b)))
    whole = np.sort(np.concatenate([a, b]))
    eps = merged.rank_error
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        estimate = merged.quantile(q)
        rank = np.searchsorted(whole, estimate, side="right") / len(whole)
        assert abs(rank - q) <= eps + 1 / len(whole)


def test_numeric_counts_match_numpy_histogram_with_outer_bins() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(0, 40, 10_000)
    stats = numeric_of(list(values))
    inner, _ = np.histogram(values, bins=EDGES)
    assert stats.counts[1:-1].tolist() == inner.tolist()
    assert stats.counts[0] == (values < -50).sum()
    assert stats.counts[-1] == (values > 50).sum()
    assert stats.counts.sum() == stats.count == 10_000
    assert stats.mean == pytest.approx(values.mean())
    assert stats.std == pytest.approx(values.std(ddof=1))


def test_numeric_uneven_edges_bin_like_numpy() -> None:
    edges = [0.0, 1.0, 5.0, 10.0]
    values = np.array([-1, 0, 0.5, 1, 4.9, 5, 10, 11, np.nan])
    stats = NumericStats(edges)
    stats.update(values)
    inner, _ = np.histogram(values[~np.isnan(values)], bins=edges)
    assert stats.counts.tolist() == [1, *inner.tolist(), 1]
    assert stats.missing == 1


def test_numeric_missing_values_from_none_nan_and_pandas_na() -> None:
    stats = NumericStats(EDGES)
    stats.update([1.0, None, float("nan"), 3])
    stats.update(pd.Series([1, None, 2], dtype="Int64"))
    assert (stats.count, stats.missing) == (4, 3)
    assert stats.min == 1.0 and stats.max == 3.0


def test_numeric_refuses_text_with_a_clear_error() -> None:
    with pytest.raises(StatsError, match="numeric stats need numbers"):
        NumericStats(EDGES).update(["a", "b"])


def test_numeric_merge_refuses_different_bins() -> None:
    with pytest.raises(StatsError, match="different bins"):
        NumericStats(EDGES).merge(NumericStats(numeric_edges(0, 1, 10)))


def test_numeric_json_round_trip_is_exact() -> None:
    stats = numeric_of([1.5, 2.5, math.nan, 100.0, -7.25])
    text = json.dumps(stats.to_jcr())
    loaded = stats_from_jcr(json.loads(text))
    assert isinstance(loaded, NumericStats)
    assert json.dumps(loaded.to_jcr()) == text
    assert loaded.quantile([0.5]).tolist() == stats.quantile([0.5]).tolist()


def test_empty_numeric_stats_serialise_and_answer_nan() -> None:
    stats = NumericStats.empty_like(numeric_of([1.0, 2.0]))
    assert stats.edges.tolist() == EDGES.tolist() and stats.count == 0
    assert math.isnan(stats.quantile(0.5)) and math.isnan(stats.std)
    loaded = NumericStats.from_jcr(json.loads(json.dumps(stats.to_jcr())))
    assert math.isnan(loaded.min) and loaded.count == 0


def test_numeric_edges_for_a_single_value_are_a_unit_range() -> None:
    assert numeric_edges(3.0, 3.0, 2).tolist() == [2.5, 3.0, 3.5]
    with pytest.raises(StatsError, match="min <= max"):
        numeric_edges(2, 1)


def categorical_of(
    values: list[object], domain: list[str] | None = None, limit: int = 1000
) -> CategoricalStats:
    stats = CategoricalStats(domain=domain, limit=limit)
    stats.update(np.asarray(values, dtype=object))
    return stats


@settings(max_examples=150, deadline=None)
@given(st.lists(categories, max_size=60), st.lists(categories, max_size=60))
def test_categorical_merge_equals_stats_of_concatenation(a: list[object], b: list[object]) -> None:
    domain = ["a", "b", "c"]
    merged = categorical_of(a, domain).merge(categorical_of(b, domain))
    whole = categorical_of(a + b, domain)
    assert merged.frequencies() == whole.frequencies()
    assert (merged.count, merged.missing, merged.unseen) == (whole.count, whole.missing, whole.unseen)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31))
def test_categorical_large_domain_uses_sketch_and_merges_within_its_error(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.zipf(1.5, 3000).astype(str)
    b = rng.zipf(1.5, 3000).astype(str)
    sa, sb = categorical_of(list(a), limit=50), categorical_of(list(b), limit=50)
    merged = sa.merge(sb)
    assert not merged.exact and merged.count == 6000
    truth = pd.Series(np.concatenate([a, b])).value_counts()
    assert merged.sketch is not None
    epsilon = merged.sketch.get_epsilon_for_lg_size(merged.lg_max_k)
    freq = merged.frequencies()
    for value, n in truth.head(5).items():
        assert abs(freq[str(value)] - n) <= epsilon * 6000 + 1


def test_categorical_counts_missing_and_unseen() -> None:
    stats = CategoricalStats.from_values(pd.Series(["x", "y", "x", None, np.nan]))
    assert stats.domain == ["x", "y"] and stats.frequencies() == {"x": 2, "y": 1}
    assert (stats.count, stats.missing, stats.unseen) == (3, 2, 0)
    window = CategoricalStats.empty_like(stats)
    window.update(["x", "z", "z", None])
    assert (window.count, window.missing, window.unseen) == (3, 1, 2)


def test_categorical_pandas_categorical_skips_unused_categories() -> None:
    series = pd.Series(pd.Categorical(["a", "a", None], categories=["a", "b"]))
    stats = CategoricalStats.from_values(series)
    assert stats.frequencies() == {"a": 2} and stats.missing == 1


def test_categorical_merge_refuses_different_domains() -> None:
    with pytest.raises(StatsError, match="different domains"):
        CategoricalStats(domain=["a"]).merge(CategoricalStats(domain=["b"]))


def test_categorical_json_round_trip_exact_and_sketched() -> None:
    for stats in (
        categorical_of(["a", "b", None, "a"]),
        categorical_of([str(i) for i in range(30)], limit=5),
    ):
        text = json.dumps(stats.to_jcr())
        loaded = stats_from_jcr(json.loads(text))
        assert isinstance(loaded, CategoricalStats)
        assert loaded.frequencies() == stats.frequencies()
        # The frequent-items sketch's bytes list its items in hash-table order, which may differ.
        again, first = loaded.to_jcr(), json.loads(text)
        again.pop("frequent_items"), first.pop("frequent_items")
        assert again == first


def test_stats_from_jcr_refuses_unknown_documents() -> None:
    with pytest.raises(StatsError, match="unknown stats kind"):
        stats_from_jcr({"kind": "bloom"})
    with pytest.raises(StatsError, match="format 99"):
        NumericStats.from_jcr({"kind": "numeric", "format": 99})
