"""Contrast reports between real profiles: drift, integrity and performance checks, thresholds, verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from raymon.profiling import (
    EvalComponent,
    InputComponent,
    MeanScore,
    ModelProfile,
    NotBuiltError,
    OutputComponent,
    generate_components,
)
from raymon.profiling.contrast import (
    ContrastError,
    ContrastReport,
    Thresholds,
    contrast_alternatives,
    contrast_profiles,
)
from raymon.profiling.drift import align_frequencies, total_variation
from raymon.profiling.extractors import ElementExtractor
from raymon.profiling.extractors.structured import AbsoluteRegressionError

FRAME_COLUMNS = ["component", "role", "check", "metric", "value", "threshold", "alert"]


def _houses(houseprices_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(houseprices_dir / name).drop(columns=["Id", "SalePrice"])


def _profile(df: pd.DataFrame, name: str) -> ModelProfile:
    return ModelProfile(name, "1.0.0", generate_components(df.dtypes)).build(input=df, silent=True)


@pytest.fixture(scope="module")
def cheap(houseprices_dir: Path) -> pd.DataFrame:
    return _houses(houseprices_dir, "subset-cheap.csv")


@pytest.fixture(scope="module")
def expensive(houseprices_dir: Path) -> pd.DataFrame:
    return _houses(houseprices_dir, "subset-exp.csv")


@pytest.fixture(scope="module")
def house_report(cheap: pd.DataFrame, expensive: pd.DataFrame) -> ContrastReport:
    return _profile(cheap, "cheap").contrast(_profile(expensive, "expensive"))


# ---------------------------------------------------------------- the house-prices scenario


def test_house_prices_plainly_shifted_features_are_flagged(house_report: ContrastReport) -> None:
    drifting = house_report.drifting()
    for feature in ("overallqual", "grlivarea", "yearbuilt", "exterqual", "kitchenqual", "neighborhood"):
        assert feature in drifting, feature
    assert house_report.verdict == "alert"


@pytest.mark.parametrize("column", ["YrSold", "MoSold"])
def test_house_prices_numeric_feature_that_does_not_shift_is_not_flagged(
    house_report: ContrastReport, cheap: pd.DataFrame, expensive: pd.DataFrame, column: str
) -> None:
    # verify on the raw data that the distribution really does not change
    raw = stats.ks_2samp(cheap[column].dropna(), expensive[column].dropna())
    assert raw.pvalue > 0.05 and raw.statistic < 0.1
    assert column.lower() not in house_report.drifting()
    assert house_report.row(column.lower(), "ks_statistic").status == "ok"


@pytest.mark.parametrize("column", ["Street", "Utilities", "Heating"])
def test_house_prices_categorical_feature_that_does_not_shift_is_not_flagged(
    house_report: ContrastReport, cheap: pd.DataFrame, expensive: pd.DataFrame, column: str
) -> None:
    _, a, b = align_frequencies(
        cheap[column].value_counts().to_dict(), expensive[column].value_counts().to_dict()
    )
    assert stats.chi2_contingency(np.vstack([a, b]), correction=False).pvalue > 0.05
    assert column.lower() not in house_report.drifting()


def test_report_ks_matches_scipy_within_the_sketch_rank_error(
    house_report: ContrastReport, cheap: pd.DataFrame, expensive: pd.DataFrame
) -> None:
    for column in ("GrLivArea", "LotArea", "MoSold", "OverallQual"):
        row = house_report.row(column.lower(), "ks_statistic")
        exact = stats.ks_2samp(cheap[column].dropna(), expensive[column].dropna()).statistic
        # k=200 sketches of ~1000 values: rank error ~1.3% each, the sum bounds the KS error
        assert abs(row.value - exact) <= 2 * 0.0133 + 1e-12, column


def test_report_categorical_metrics_match_scipy_exactly(
    house_report: ContrastReport, cheap: pd.DataFrame, expensive: pd.DataFrame
) -> None:
    a_freq, b_freq = cheap["Neighborhood"].value_counts(), expensive["Neighborhood"].value_counts()
    _, a, b = align_frequencies(a_freq.to_dict(), b_freq.to_dict())
    keep = (a + b) > 0
    chi2, p, _, _ = stats.chi2_contingency(np.vstack([a[keep], b[keep]]), correction=False)
    assert house_report.row("neighborhood", "chi_square").value == pytest.approx(chi2, rel=1e-9)
    assert house_report.row("neighborhood", "chi_square_pvalue").value == pytest.approx(
        p, rel=1e-6, abs=1e-300
    )
    tv = 0.5 * np.abs(a / a.sum() - b / b.sum()).sum()
    assert house_report.row("neighborhood", "total_variation").value == pytest.approx(tv)
    assert total_variation(a, b) == pytest.approx(tv)


def test_a_small_p_value_alone_does_not_alert_but_can_be_made_to(
    cheap: pd.DataFrame, expensive: pd.DataFrame, house_report: ContrastReport
) -> None:
    # BedroomAbvGr: significant (p < 0.01) but the shift is small (D about 0.1)
    row = house_report.row("bedroomabvgr", "ks_statistic")
    assert house_report.row("bedroomabvgr", "ks_pvalue").value < 0.01
    assert row.value < 0.11 and not row.alert
    strict = _profile(cheap, "cheap").contrast(
        _profile(expensive, "expensive"), thresholds={"ks_pvalue": 0.01}
    )
    assert strict.row("bedroomabvgr", "ks_pvalue").alert


# ---------------------------------------------------------------- alerting rules


def _numeric_profile(values: np.ndarray, name: str, **columns: np.ndarray) -> ModelProfile:
    df = pd.DataFrame({"x": values, **columns})
    return _profile(df, name)


def test_trivial_shift_at_production_volume_is_significant_but_does_not_alert() -> None:
    rng = np.random.default_rng(10)
    a, b = rng.normal(0, 1, 200_000), rng.normal(0.03, 1, 200_000)
    assert stats.ks_2samp(a, b).pvalue < 1e-6
    report = _numeric_profile(a, "ref").contrast(_numeric_profile(b, "cur"))
    assert report.row("x", "ks_pvalue").value < 1e-6
    assert not report.row("x", "ks_statistic").alert
    assert report.verdict == "ok"


def test_large_shift_alerts_at_production_volume() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.normal(0, 1, 100_000), rng.normal(0.5, 1, 100_000)
    report = _numeric_profile(a, "ref").contrast(_numeric_profile(b, "cur"))
    row = report.row("x", "ks_statistic")
    assert row.alert and row.lower_bound is not None and row.lower_bound > 0.1
    assert row.value == pytest.approx(stats.ks_2samp(a, b).statistic, abs=2 * 0.0133)


def test_identical_data_gives_no_alert() -> None:
    rng = np.random.default_rng(12)
    df = pd.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(["a", "b", "c"], 5000)})
    report = _profile(df, "a").contrast(_profile(df, "b"))
    assert report.alerts == []
    assert report.verdict == "ok"
    # KLL sketches compact at random: the same data may differ by up to both rank errors
    assert report.row("x", "ks_statistic").value <= 2 * 0.0133
    assert report.row("c", "total_variation").value == 0.0


def test_small_samples_report_not_enough_data_instead_of_alerting() -> None:
    ref = pd.DataFrame({"x": np.arange(10.0), "c": ["a"] * 10})
    cur = pd.DataFrame({"x": np.arange(10.0) + 100, "c": ["b"] * 10})
    report = _profile(ref, "ref").contrast(_profile(cur, "cur"))
    assert report.alerts == []
    assert report.row("x", "ks_statistic").status == "not enough data"
    assert report.row("c", "total_variation").status == "not enough data"
    assert report.verdict == "not enough data"
    # with a lower minimum the same shift alerts
    assert (
        _profile(ref, "ref").contrast(_profile(cur, "cur"), {"min_count": 5}).row("x", "ks_statistic").alert
    )


def test_per_component_override_beats_the_default(cheap: pd.DataFrame, expensive: pd.DataFrame) -> None:
    ref, cur = _profile(cheap, "cheap"), _profile(expensive, "expensive")
    report = ref.contrast(
        cur, thresholds={"components": {"GrLivArea": {"ks_statistic": None}, "MoSold": {"ks_statistic": 0.0}}}
    )
    assert "grlivarea" not in report.drifting()
    assert report.row("grlivarea", "ks_statistic").status == "no threshold"
    assert "overallqual" in report.drifting()
    # a zero threshold on a bound clipped at 0 still needs a positive bound: MoSold stays quiet
    assert report.row("mosold", "ks_statistic").threshold == 0.0
    looser = ref.contrast(cur, thresholds={"ks_statistic": 0.45})
    assert "grlivarea" not in looser.drifting() and "overallqual" in looser.drifting()


def test_unknown_metric_component_or_bad_value_is_refused_with_its_name(
    cheap: pd.DataFrame, expensive: pd.DataFrame
) -> None:
    ref, cur = _profile(cheap.iloc[:, :5], "cheap"), _profile(expensive.iloc[:, :5], "expensive")
    with pytest.raises(ContrastError, match="unknown metric 'ks'"):
        ref.contrast(cur, thresholds={"ks": 0.2})
    with pytest.raises(ContrastError, match="'nosuchfeature'"):
        ref.contrast(cur, thresholds={"components": {"NoSuchFeature": {"psi": 0.2}}})
    with pytest.raises(ContrastError, match="must be a finite number"):
        ref.contrast(cur, thresholds={"psi": "high"})
    with pytest.raises(ContrastError, match="alpha"):
        Thresholds(alpha=2.0)


def test_missing_rate_increase_alerts_integrity() -> None:
    rng = np.random.default_rng(13)
    a = rng.normal(size=5000)
    b = rng.normal(size=5000)
    b[rng.random(5000) < 0.2] = np.nan
    report = _numeric_profile(a, "ref").contrast(_numeric_profile(b, "cur"))
    row = report.row("x", "missing_rate")
    assert row.check == "integrity" and row.alert
    assert row.value == pytest.approx(np.isnan(b).mean())
    assert not report.row("x", "ks_statistic").alert


def test_values_outside_reference_range_or_domain_raise_the_error_rate() -> None:
    rng = np.random.default_rng(14)
    ref = pd.DataFrame({"x": rng.uniform(0, 1, 3000), "c": rng.choice(["a", "b"], 3000)})
    cur = pd.DataFrame(
        {
            "x": np.concatenate([rng.uniform(0, 1, 2000), rng.uniform(5, 6, 1000)]),
            "c": rng.choice(["a", "b", "z"], 3000),
        }
    )
    report = _profile(ref, "ref").contrast(_profile(cur, "cur"))
    assert report.row("x", "error_rate").value == pytest.approx(1000 / 3000, abs=0.03)
    assert report.row("x", "error_rate").alert
    assert report.row("c", "error_rate").value == pytest.approx((cur["c"] == "z").mean())
    assert report.row("c", "error_rate").alert


def _regression_profile(name: str, error_scale: float, seed: int) -> ModelProfile:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=4000)
    actual = pd.DataFrame({"y": 2 * x})
    output = pd.DataFrame({"y": 2 * x + rng.normal(0, error_scale, 4000)})
    profile = ModelProfile(
        name,
        "1.0.0",
        components=[
            InputComponent("x", ElementExtractor("x")),
            OutputComponent("prediction", ElementExtractor("y")),
            EvalComponent("abs_error", AbsoluteRegressionError("y", "y")),
        ],
        scores=[MeanScore("MAE", ["abs_error"], "low")],
    )
    return profile.build(input=pd.DataFrame({"x": x}), output=output, actual=actual, silent=True)


def test_worse_evaluation_and_score_alert_performance_and_better_ones_do_not() -> None:
    ref = _regression_profile("ref", 1.0, 20)
    worse = _regression_profile("worse", 1.5, 21)
    better = _regression_profile("better", 0.8, 22)
    report = ref.contrast(worse)
    assert report.row("abs_error", "mean_worsening").alert
    assert report.row("abs_error", "mean_worsening").check == "performance"
    assert report.row("mae", "score_worsening").alert
    assert report.row("mae", "score_worsening").value == pytest.approx(
        (worse.scores["mae"].result - ref.scores["mae"].result) / ref.scores["mae"].result
    )
    assert set(report.flagged("performance")) == {"abs_error", "mae"}
    improved = ref.contrast(better)
    assert improved.flagged("performance") == []
    assert improved.row("mae", "score_worsening").value < 0


def test_contrast_alternatives_reports_both_and_the_better_score() -> None:
    ref = _regression_profile("train", 1.0, 30)
    a = _regression_profile("slice_a", 1.6, 31)
    b = _regression_profile("slice_b", 1.0, 32)
    alt = ref.contrast_alternatives(a, b)
    assert alt.verdicts == {"slice_a@1.0.0": "alert", "slice_b@1.0.0": "ok"}
    assert alt.scores[0]["score"] == "mae" and alt.scores[0]["better"] == "slice_b@1.0.0"
    frame = alt.to_frame()
    assert set(frame["other"]) == {"slice_a@1.0.0", "slice_b@1.0.0"}
    assert len(frame) == len(alt.a) + len(alt.b)
    json.dumps(alt.to_jcr(), allow_nan=False)
    assert contrast_alternatives(ref, a, b).verdicts == alt.verdicts


def test_component_missing_from_one_profile_alerts() -> None:
    rng = np.random.default_rng(15)
    ref = _profile(pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(size=500)}), "ref")
    cur = _profile(pd.DataFrame({"x": rng.normal(size=500), "z": rng.normal(size=500)}), "cur")
    report = contrast_profiles(ref, cur)
    assert report.row("y", "component_present").alert
    assert report.row("z", "component_present").alert
    assert not report.row("x", "ks_statistic").alert


def test_numeric_versus_categorical_component_is_not_comparable() -> None:
    ref = _profile(pd.DataFrame({"x": np.arange(100.0)}), "ref")
    cur = _profile(pd.DataFrame({"x": ["a"] * 100}), "cur")
    row = contrast_profiles(ref, cur).row("x", "ks_statistic")
    assert row.status == "not comparable" and not row.alert


# ---------------------------------------------------------------- report forms


def test_to_frame_has_one_row_per_component_check_and_metric(house_report: ContrastReport) -> None:
    frame = house_report.to_frame()
    assert set(FRAME_COLUMNS) <= set(frame.columns)
    assert set(frame["check"]) == {"drift", "integrity"}
    assert not frame.duplicated(["component", "metric"]).any()
    assert frame["alert"].dtype == bool
    assert frame.loc[frame["alert"], "component"].nunique() == len(house_report.flagged())
    assert len(frame) == len(house_report)


def test_to_jcr_is_strict_json_and_round_trips(house_report: ContrastReport) -> None:
    jcr = house_report.to_jcr()
    text = json.dumps(jcr, allow_nan=False)
    back = ContrastReport.from_jcr(json.loads(text))
    assert back.verdict == house_report.verdict
    pd.testing.assert_frame_equal(back.to_frame(), house_report.to_frame())
    with pytest.raises(ContrastError, match="not a ContrastReport"):
        ContrastReport.from_jcr({"type": "something else"})


def test_report_of_saved_and_loaded_profiles_is_the_same(
    tmp_path: Path, cheap: pd.DataFrame, expensive: pd.DataFrame
) -> None:
    ref, cur = _profile(cheap, "cheap"), _profile(expensive, "expensive")
    ref_loaded = ModelProfile.load(ref.save(tmp_path / "ref.json"))
    cur_loaded = ModelProfile.load(cur.save(tmp_path / "cur.json"))
    pd.testing.assert_frame_equal(ref_loaded.contrast(cur_loaded).to_frame(), ref.contrast(cur).to_frame())


def test_contrast_with_an_unbuilt_profile_is_refused_naming_it() -> None:
    built = _profile(pd.DataFrame({"x": np.arange(100.0)}), "ref")
    unbuilt = ModelProfile("cur", "2.0", generate_components(pd.DataFrame({"x": [1.0]}).dtypes))
    with pytest.raises(NotBuiltError, match="'cur@2.0' is not built"):
        built.contrast(unbuilt)
    with pytest.raises(NotBuiltError, match="reference profile 'cur@2.0'"):
        unbuilt.contrast(built)
    with pytest.raises(NotBuiltError, match="'cur@2.0' is not built"):
        unbuilt.view()
