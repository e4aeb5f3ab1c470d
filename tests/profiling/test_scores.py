"""Scores come from their inputs' stats, so the same score is computed on merged stats (windows, slices)."""

from __future__ import annotations

import pytest

from raymon.profiling import AccuracyScore, F1Score, MeanScore, PrecisionScore, ProfileError, RecallScore
from raymon.profiling.scores import Score
from raymon.profiling.stats import CategoricalStats, NumericStats, numeric_edges

CONFUSION = ["TP"] * 6 + ["FP"] * 2 + ["FN"] * 3 + ["TN"] * 9


def outcomes(values: list[str]) -> dict[str, CategoricalStats]:
    return {"kind": CategoricalStats.from_values(values, domain=["TP", "FP", "TN", "FN"])}


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (PrecisionScore("p", ["kind"]), 6 / 8),
        (RecallScore("r", ["kind"]), 6 / 9),
        (F1Score("f1", ["kind"]), 12 / 17),
        (AccuracyScore("acc", ["kind"]), 15 / 20),
    ],
)
def test_classification_scores_from_outcome_counts(score: Score, expected: float) -> None:
    score.build(outcomes(CONFUSION))
    assert score.result == pytest.approx(expected) and score.preference == "high"


def test_classification_scores_on_merged_stats_equal_scores_on_all_data() -> None:
    first, second = outcomes(CONFUSION[:7]), outcomes(CONFUSION[7:])
    merged = {"kind": first["kind"].merge(second["kind"])}
    for cls in (PrecisionScore, RecallScore, F1Score, AccuracyScore):
        on_merged, on_all = cls("s", ["kind"]), cls("s", ["kind"])
        on_merged.build(merged)
        on_all.build(outcomes(CONFUSION))
        assert on_merged.result == on_all.result


def test_undefined_scores_are_none() -> None:
    score = PrecisionScore("p", ["kind"])
    score.build(outcomes(["TN", "FN"]))
    assert score.result is None


def test_mean_score_reads_the_mean_of_a_numeric_component() -> None:
    stats = NumericStats(numeric_edges(0, 10))
    stats.update([1.0, 2.0, 6.0])
    score = MeanScore("MAE", ["abs_error"], "low")
    score.build({"abs_error": stats})
    assert score.name == "mae" and score.result == 3.0
    with pytest.raises(ProfileError, match="needs a numeric component"):
        MeanScore("m", ["kind"], "low").build(outcomes(["TP"]))


def test_scores_check_their_arguments() -> None:
    with pytest.raises(ProfileError, match="preference must be 'high' or 'low'"):
        MeanScore("m", ["x"], "up")
    with pytest.raises(ProfileError, match="must not contain '@'"):
        MeanScore("a@b", ["x"], "low")
    with pytest.raises(ProfileError, match="inputs must be a list"):
        MeanScore("m", "x", "low")
    with pytest.raises(ProfileError, match="reads components"):
        MeanScore("m", ["x"], "low").build({})


def test_score_json_round_trip() -> None:
    score = F1Score("f1", ["kind"])
    score.build(outcomes(CONFUSION))
    loaded = Score.from_jcr(score.to_jcr())
    assert isinstance(loaded, F1Score) and loaded.result == score.result and loaded.inputs == ["kind"]
