"""Anomaly scorers: the isolation forest saved as JSON scores exactly as scikit-learn; k-means distances."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from raymon.profiling import NotBuiltError, ProfileError
from raymon.profiling.extractors.base import extractor_from_jcr
from raymon.profiling.extractors.structured import IsolationForestScorer, KMeansOutlierScorer


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.normal(size=(1500, 3)), columns=["a", "b", "c"])
    df["label"] = "x"
    return df


def test_isolation_forest_equals_scikit_learn_after_a_json_round_trip(frame: pd.DataFrame) -> None:
    scorer = IsolationForestScorer(n_estimators=20, max_samples=64, random_state=1)
    scorer.fit(frame)
    assert scorer.features == ["a", "b", "c"]  # numeric columns only
    reference = IsolationForest(n_estimators=20, max_samples=64, random_state=1).fit(
        frame[["a", "b", "c"]].to_numpy()
    )
    expected = -reference.score_samples(frame[["a", "b", "c"]].to_numpy())
    loaded = extractor_from_jcr(json.loads(json.dumps(scorer.to_jcr())))
    assert isinstance(loaded, IsolationForestScorer)
    np.testing.assert_allclose(loaded.extract_batch(frame), expected, rtol=1e-12)  # summation order only
    rows = frame.head(30).to_dict("records")
    assert [loaded.extract(r) for r in rows] == pytest.approx(expected[:30], rel=1e-12)


def test_isolation_forest_scores_outliers_higher(frame: pd.DataFrame) -> None:
    scorer = IsolationForestScorer()
    scorer.fit(frame)
    assert (
        scorer.extract({"a": 8.0, "b": -8.0, "c": 8.0}) > scorer.extract({"a": 0.0, "b": 0.0, "c": 0.0}) + 0.1
    )


def test_missing_values_take_the_reference_median(frame: pd.DataFrame) -> None:
    scorer = KMeansOutlierScorer(features=["a", "b"], k=3)
    scorer.fit(frame)
    assert scorer.fill is not None
    median = {"a": scorer.fill[0], "b": scorer.fill[1]}
    assert scorer.extract({"a": None, "b": np.nan}) == scorer.extract(median)


def test_kmeans_distance_grows_away_from_the_data_and_survives_json(frame: pd.DataFrame) -> None:
    scorer = KMeansOutlierScorer(k=4)
    scorer.fit(frame)
    near, far = (
        scorer.extract({"a": 0.1, "b": 0.0, "c": 0.0}),
        scorer.extract({"a": 10.0, "b": 10.0, "c": 0.0}),
    )
    assert far > 5 * near
    loaded = extractor_from_jcr(json.loads(json.dumps(scorer.to_jcr())))
    np.testing.assert_allclose(loaded.extract_batch(frame.head(50)), scorer.extract_batch(frame.head(50)))


def test_scorers_say_when_not_fitted_or_given_text() -> None:
    with pytest.raises(NotBuiltError):
        IsolationForestScorer(["a"]).extract({"a": 1.0})
    with pytest.raises(ProfileError, match="numeric features"):
        KMeansOutlierScorer(["s"]).fit(pd.DataFrame({"s": ["a", "b"]}))
