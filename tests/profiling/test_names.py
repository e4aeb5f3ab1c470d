"""Component and score names are stored lower-cased and looked up case-insensitively, everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raymon.profiling import (
    EvalComponent,
    InputComponent,
    MeanScore,
    ModelProfile,
    ProfileError,
)
from raymon.profiling.extractors.structured import AbsoluteRegressionError, ElementExtractor


def _profile() -> ModelProfile:
    return ModelProfile(
        "cases",
        "1.0.0",
        components=[
            InputComponent("LotArea", ElementExtractor("LotArea")),
            EvalComponent("Abs_Error", AbsoluteRegressionError()),
        ],
        scores=[MeanScore(name="MAE", inputs=["ABS_ERROR"], preference="low")],
    )


def _built(tmp_path: Path | None = None) -> ModelProfile:
    df = pd.DataFrame({"LotArea": np.arange(40.0)})
    out, act = np.arange(40.0)[:, None], (np.arange(40.0) + 2)[:, None]
    return _profile().build(input=df, output=out, actual=act, domains={"LOTAREA": (0, 100)}, silent=True)


def test_a_score_named_in_capitals_is_found_by_the_users_spelling_and_lower_case() -> None:
    profile = _built()
    assert profile.scores["MAE"] is profile.scores["mae"]
    assert profile.scores["MAE"].result == pytest.approx(2.0)
    assert "MAE" in profile.scores and "Mae" in profile.scores
    assert list(profile.scores) == ["mae"]  # stored (and tagged) lower-cased


def test_components_are_found_whatever_the_case_and_domains_apply_by_any_case() -> None:
    profile = _built()
    assert profile.components["LOTAREA"] is profile.components["lotarea"]
    assert profile.components.get("LotArea") is not None
    assert profile.components["lotarea"].bounds == (0.0, 100.0)


def test_an_unknown_name_raises_key_error_listing_the_names_there_are() -> None:
    with pytest.raises(KeyError, match=r"no score named 'RMSE'.*\['mae'\]"):
        _built().scores["RMSE"]


def test_two_components_differing_only_by_case_are_refused() -> None:
    with pytest.raises(ProfileError, match="two components are named 'x'"):
        ModelProfile(
            "c", "1", [InputComponent("X", ElementExtractor("X")), InputComponent("x", ElementExtractor("x"))]
        )


def test_a_saved_and_loaded_profile_keeps_the_case_insensitive_lookup(tmp_path: Path) -> None:
    loaded = ModelProfile.load(_built().save(tmp_path))
    assert loaded.scores["MAE"].result == pytest.approx(2.0)
    assert loaded.components["LotArea"].name == "lotarea"


def test_contrast_thresholds_name_components_in_any_case() -> None:
    ref = _built()
    report = ref.contrast(_built(), thresholds={"components": {"LOTAREA": {"ks_statistic": None}}})
    assert report.row("lotarea", "ks_statistic").threshold is None
