"""Saving and loading profiles: round trips, versioned JSON, and a pinned file that later releases must read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from profiling_houses import FEATURES

from raymon import ActualComponent, EvalComponent, InputComponent, ModelProfile, OutputComponent
from raymon.profiling import AccuracyScore, MeanScore, PrecisionScore, ProfileError
from raymon.profiling.extractors.structured import (
    AbsoluteRegressionError,
    ClassificationErrorType,
    ElementExtractor,
    IsolationForestScorer,
)

PINNED = Path(__file__).parent / "data" / "pinned@1.0.0.json"


def make_pinned_profile() -> ModelProfile:
    """The profile saved in tests/profiling/data/ (regenerate only when the format version changes)."""
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame(
        {
            "size": rng.normal(100, 15, n),
            "rooms": rng.integers(1, 6, n),
            "kind": rng.choice(["flat", "house", "villa"], n, p=[0.5, 0.4, 0.1]),
        }
    )
    df.loc[::40, "size"] = np.nan
    output = (df["size"].fillna(100) * 2).to_numpy()
    actual = output + rng.normal(0, 5, n)
    profile = ModelProfile(
        "pinned",
        "1.0.0",
        components=[
            InputComponent("size", ElementExtractor("size")),
            InputComponent("rooms", ElementExtractor("rooms")),
            InputComponent("kind", ElementExtractor("kind")),
            InputComponent(
                "outlier", IsolationForestScorer(["size", "rooms"], n_estimators=3, max_samples=16)
            ),
            OutputComponent("price", ElementExtractor(0)),
            ActualComponent("paid", ElementExtractor(0)),
            EvalComponent("abs_error", AbsoluteRegressionError()),
            EvalComponent("expensive", ClassificationErrorType(positive=True)),
        ],
        scores=[MeanScore("MAE", ["abs_error"], "low"), PrecisionScore("precision", ["expensive"])],
    )
    profile.build(input=df, output=output, actual=actual, domains={"rooms": (1, 5)}, silent=True)
    return profile


def test_pinned_file_loads_and_saves_back_equal_json_with_score_classes_qualified() -> None:
    """The pinned file names its scores the old way ("MeanScore"); saved again they are "module.Class"."""
    saved = json.loads(PINNED.read_text())
    assert saved["profile_format"] == 1
    assert [s["class"] for s in saved["scores"]] == ["MeanScore", "PrecisionScore"]
    profile = ModelProfile.load(PINNED)
    for score in saved["scores"]:
        score["class"] = f"raymon.profiling.scores.{score['class']}"
    assert profile.to_jcr() == saved


def test_pinned_file_validates_as_it_did_when_saved() -> None:
    profile = ModelProfile.load(PINNED)
    tags = profile.validate_input({"size": 500.0, "rooms": 0, "kind": "castle"}, tag_format="simple")
    assert tags["size-error"] == "UpperBoundError"
    assert tags["rooms-error"] == "LowerBoundError" and tags["kind-error"] == "Domain Error"
    assert 0.5 < tags["outlier"] <= 1.0
    size = profile.components["size"].stats
    assert size is not None and size.count == 390 and size.missing == 10
    assert 85 < size.quantile(0.5) < 115  # type: ignore[union-attr, operator]
    assert profile.scores["mae"].result == pytest.approx(4, rel=0.25)


def test_round_trip_keeps_stats_scores_extractors_and_validation(tmp_path: Path) -> None:
    profile = make_pinned_profile()
    path = profile.save(tmp_path)
    assert path == tmp_path / "pinned@1.0.0.json"
    loaded = ModelProfile.load(path)
    assert loaded.to_jcr() == json.loads(path.read_text()) == json.loads(json.dumps(profile.to_jcr()))
    rows = pd.DataFrame({"size": [90.0, np.nan, 400.0], "rooms": [2, 3, 9], "kind": ["flat", None, "x"]})
    assert loaded.validate_input(rows) == profile.validate_input(rows)
    assert loaded.validate_eval([1.0, 2.0], [1.5, 0.0]) == profile.validate_eval([1.0, 2.0], [1.5, 0.0])
    assert loaded.scores["precision"].result == profile.scores["precision"].result


def test_to_jcr_from_jcr_round_trip_of_the_house_profile(
    built_houses: ModelProfile, houses: pd.DataFrame
) -> None:
    loaded = ModelProfile.from_jcr(json.loads(json.dumps(built_houses.to_jcr())))
    assert loaded.group_idfr == built_houses.group_idfr
    assert loaded.validate_input(houses[FEATURES].head(100)) == built_houses.validate_input(
        houses[FEATURES].head(100)
    )


def test_save_to_a_json_path_and_refuse_bad_files(tmp_path: Path) -> None:
    profile = make_pinned_profile()
    target = profile.save(tmp_path / "sub" / "mine.json")
    assert target.exists() and ModelProfile.load(target).group_idfr == "pinned@1.0.0"
    with pytest.raises(ProfileError, match="is a directory"):
        ModelProfile.load(tmp_path)
    with pytest.raises(ProfileError, match="no profile file"):
        ModelProfile.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ProfileError, match="not valid JSON"):
        ModelProfile.load(tmp_path / "bad.json")


def test_newer_or_foreign_documents_are_refused() -> None:
    jcr: dict[str, Any] = json.loads(PINNED.read_text())
    with pytest.raises(ProfileError, match="newer than this raymon reads"):
        ModelProfile.from_jcr({**jcr, "profile_format": 2})
    with pytest.raises(ProfileError, match="not a saved ModelProfile"):
        ModelProfile.from_jcr({"name": "x"})
    broken = {**jcr, "components": [{**jcr["components"][0], "role": "sideways"}]}
    with pytest.raises(ProfileError, match="role"):
        ModelProfile.from_jcr(broken)


def test_an_unbuilt_profile_saves_and_loads_unbuilt(tmp_path: Path) -> None:
    profile = ModelProfile("plan", "0.1", components=[InputComponent("x", ElementExtractor("x"))], scores=[])
    loaded = ModelProfile.load(profile.save(tmp_path))
    assert not loaded.is_built and list(loaded.components) == ["x"]


def test_accuracy_score_survives_save(tmp_path: Path) -> None:
    profile = ModelProfile(
        "clf",
        "1",
        components=[EvalComponent("kind", ClassificationErrorType(positive="a"))],
        scores=[AccuracyScore("acc", ["kind"])],
    )
    profile.build(output=["a", "b", "a", "b"], actual=["a", "b", "b", "b"], silent=True)
    assert profile.scores["acc"].result == 0.75
    assert ModelProfile.load(profile.save(tmp_path)).scores["acc"].result == 0.75
