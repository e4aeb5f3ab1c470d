"""ModelProfile: building from reference data, validating into the original tag scheme, domains, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from profiling_houses import FEATURES, build_houses, house_profile, predict

from raymon import ActualComponent, EvalComponent, InputComponent, ModelProfile, OutputComponent, Tag
from raymon.profiling import CategoricalStats, Extractor, NotBuiltError, NumericStats, ProfileError
from raymon.profiling.extractors.structured import (
    AbsoluteRegressionError,
    ElementExtractor,
    generate_components,
)
from raymon.tags import tags_to_jcr

GROUP = "houses@1.0.0"


def small_profile() -> ModelProfile:
    """age in [20, 60] (INT), income (FLOAT), colour in {red, green}: every error kind is easy to provoke."""
    profile = ModelProfile(
        "people",
        "2",
        components=[
            InputComponent("age", ElementExtractor("age")),
            InputComponent("income", ElementExtractor("income"), dtype="FLOAT"),
            InputComponent("colour", ElementExtractor("colour")),
            OutputComponent("score", ElementExtractor(0)),
            ActualComponent("truth", ElementExtractor(0)),
            EvalComponent("abs_error", AbsoluteRegressionError()),
        ],
    )
    df = pd.DataFrame(
        {"age": [20, 30, 40, 60], "income": [1.0, 2.5, np.nan, 4.0], "colour": ["red", "green", "red", None]}
    )
    return profile.build(
        input=df, output=np.array([0.1, 0.2, 0.3, 0.4]), actual=[0.0, 0.2, 0.5, 0.4], silent=True
    )


def tag(name: str, value: Any, type_: str, group: str = "people@2") -> dict[str, Any]:
    return {"name": name, "value": value, "type": type_, "group": group}


# --- building -----------------------------------------------------------------------------------


def test_house_profile_has_typed_components_and_stats(
    built_houses: ModelProfile, houses: pd.DataFrame
) -> None:
    c = built_houses.components
    assert (
        built_houses.group_idfr == GROUP and built_houses.is_built and built_houses.n_samples == len(houses)
    )
    assert (c["lotarea"].dtype, c["lotfrontage"].dtype, c["neighborhood"].dtype) == ("INT", "FLOAT", "CAT")
    lotarea = c["lotarea"].stats
    assert isinstance(lotarea, NumericStats)
    assert lotarea.count == len(houses) and lotarea.min == houses["LotArea"].min()
    assert lotarea.mean == pytest.approx(houses["LotArea"].mean())
    assert lotarea.std == pytest.approx(houses["LotArea"].std())
    assert abs(lotarea.quantile(0.5) - houses["LotArea"].median()) < 0.05 * houses["LotArea"].median()
    frontage = c["lotfrontage"]
    assert frontage.stats is not None and frontage.stats.missing == houses["LotFrontage"].isna().sum() > 0
    assert frontage.errors == {"Value NaN": int(houses["LotFrontage"].isna().sum())}
    hood = c["neighborhood"].stats
    assert isinstance(hood, CategoricalStats)
    assert hood.frequencies() == houses["Neighborhood"].value_counts().to_dict()


def test_house_profile_scores_are_the_means_of_the_errors(
    built_houses: ModelProfile, houses: pd.DataFrame
) -> None:
    errors = predict(houses)[:, 0] - houses["SalePrice"].to_numpy()
    assert built_houses.scores["mae"].result == pytest.approx(np.abs(errors).mean())
    assert built_houses.scores["mse"].result == pytest.approx((errors**2).mean())
    assert built_houses.scores["mae"].preference == "low"


def test_build_refuses_missing_role_data_and_unequal_lengths(houses: pd.DataFrame) -> None:
    profile = house_profile(houses[FEATURES].dtypes)
    with pytest.raises(ProfileError, match="OutputComponent 'prediction' needs output="):
        profile.build(input=houses[FEATURES], silent=True)
    with pytest.raises(ProfileError, match="as many samples"):
        profile.build(
            input=houses[FEATURES], output=predict(houses)[:10], actual=predict(houses), silent=True
        )


def test_build_names_a_missing_column() -> None:
    profile = ModelProfile("m", "1", components=[InputComponent("x", ElementExtractor("x"))])
    with pytest.raises(ProfileError, match="no column 'x'"):
        profile.build(input=pd.DataFrame({"y": [1, 2]}), silent=True)


def test_failed_rebuild_keeps_the_previous_state() -> None:
    profile = small_profile()
    before = profile.to_jcr()
    bad = pd.DataFrame({"age": [1, 2], "income": [1.0, 2.0]})  # no colour column
    with pytest.raises(ProfileError, match="colour"):
        profile.build(input=bad, output=[1, 2], actual=[1, 2], silent=True)
    assert profile.to_jcr() == before


def test_profile_name_and_components_are_checked() -> None:
    with pytest.raises(ProfileError, match="'@' separates name@version"):
        ModelProfile("a@b", "1")
    with pytest.raises(ProfileError, match="letters, digits"):
        ModelProfile("house prices", "1")
    with pytest.raises(ProfileError, match="version must be 1 to 64"):
        ModelProfile("houses", "")
    assert ModelProfile("houses", 2).group_idfr == "houses@2"
    with pytest.raises(ProfileError, match="two components are named 'x'"):
        ModelProfile(
            "m",
            "1",
            components=[InputComponent("x", ElementExtractor(0)), InputComponent("X", ElementExtractor(1))],
        )
    with pytest.raises(ProfileError, match="needs a EvalExtractor"):
        EvalComponent("e", ElementExtractor(0))
    with pytest.raises(ProfileError, match="cannot name a tag"):
        InputComponent("bad\nname", ElementExtractor(0))


def test_progress_bar_shows_on_large_builds_unless_silent(capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.DataFrame({"x": np.arange(20_000.0)})
    profile = ModelProfile("big", "1", components=[InputComponent("x", ElementExtractor("x"))])
    profile.build(input=df)
    assert "building big@1" in capsys.readouterr().err
    profile.build(input=df, silent=True)
    assert capsys.readouterr().err == ""


# --- validation: the tag scheme ------------------------------------------------------------------


def test_valid_row_gives_value_tags_in_the_profile_group() -> None:
    profile = small_profile()
    tags = profile.validate_input({"age": 30, "income": 2.0, "colour": "red"})
    assert tags == [
        tag("age", 30, "profile-input"),
        tag("income", 2.0, "profile-input"),
        tag("colour", "red", "profile-input"),
    ]
    assert tags_to_jcr(tags) == tags


@pytest.mark.parametrize(
    ("row", "expected_value_tag", "error"),
    [
        ({"age": None}, None, "Value None"),
        ({}, None, "Value None"),
        ({"age": float("nan")}, None, "Value NaN"),
        ({"age": 61}, 61, "UpperBoundError"),
        ({"age": 19.5}, 19.5, "LowerBoundError"),
        ({"age": float("inf")}, None, "UpperBoundError"),
        ({"age": "thirty"}, None, "Type Error"),
        ({"age": [30]}, None, "Type Error"),
        ({"age": np.int64(25)}, 25, None),
    ],
)
def test_numeric_error_kinds(row: dict[str, Any], expected_value_tag: Any, error: str | None) -> None:
    tags = [t for t in small_profile().validate_input(row) if t["name"].startswith("age")]
    expected = [] if expected_value_tag is None else [tag("age", expected_value_tag, "profile-input")]
    if error is not None:
        expected.append(tag("age-error", error, "profile-input-error"))
    assert tags == expected
    assert all(isinstance(t["value"], (int, float, str)) and not isinstance(t["value"], bool) for t in tags)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "blue",
            [
                tag("colour", "blue", "profile-input"),
                tag("colour-error", "Domain Error", "profile-input-error"),
            ],
        ),
        (None, [tag("colour-error", "Value None", "profile-input-error")]),
        (float("nan"), [tag("colour-error", "Value NaN", "profile-input-error")]),
        ({"a": 1}, [tag("colour-error", "Type Error", "profile-input-error")]),
        ("green", [tag("colour", "green", "profile-input")]),
    ],
)
def test_categorical_error_kinds(value: Any, expected: list[dict[str, Any]]) -> None:
    tags = small_profile().validate_input({"age": 30, "income": 1.0, "colour": value})
    assert [t for t in tags if t["name"].startswith("colour")] == expected


class Exploding(Extractor):
    def extract(self, sample: Any) -> Any:
        if sample.get("boom"):
            raise RuntimeError("boom")
        return sample["x"]

    def extract_batch(self, batch: Any) -> Any:
        if batch["boom"].any():
            raise RuntimeError("boom")
        return batch["x"]


def test_extractor_error_tag_for_the_failing_sample_only() -> None:
    profile = ModelProfile("m", "1", components=[InputComponent("x", Exploding())])
    profile.build(input=pd.DataFrame({"x": [1.0, 2.0], "boom": [False, False]}), silent=True)
    assert profile.validate_input({"x": 1.5, "boom": True}) == [
        tag("x-error", "Extractor Error", "profile-input-error", "m@1")
    ]
    rows = profile.validate_input(pd.DataFrame({"x": [1.5, 1.5], "boom": [False, True]}))
    assert rows == [
        [tag("x", 1.5, "profile-input", "m@1")],
        [tag("x-error", "Extractor Error", "profile-input-error", "m@1")],
    ]


def test_output_actual_and_eval_tag_types() -> None:
    profile = small_profile()
    assert profile.validate_output(0.2) == [tag("score", 0.2, "profile-output")]
    assert profile.validate_actual(0.9) == [
        tag("truth", 0.9, "profile-actual"),
        tag("truth-error", "UpperBoundError", "profile-actual-error"),
    ]
    (evaluation,) = profile.validate_eval(0.2, 0.25)
    assert evaluation["name"] == "abs_error" and evaluation["type"] == "profile-score"
    assert evaluation["value"] == pytest.approx(0.05)


def test_validate_all_concatenates_roles_in_order() -> None:
    profile = small_profile()
    tags = profile.validate_all(input={"age": 30, "income": 2.0, "colour": "red"}, output=0.2, actual=0.2)
    assert [t["name"] for t in tags] == ["age", "income", "colour", "score", "truth", "abs_error"]
    rows = profile.validate_all(
        input=pd.DataFrame({"age": [30, 99], "income": [2.0, 2.0], "colour": ["red", "red"]}),
        output=np.array([[0.2], [0.3]]),
        actual=np.array([[0.2], [0.3]]),
    )
    assert len(rows) == 2 and {"name": "age-error", "value": "UpperBoundError"}.items() <= rows[1][1].items()
    labels = profile.validate_all(output=np.array([[0.2], [0.3]]), actual=[0.2, 0.3], tag_format="simple")
    assert labels == [
        {"score": 0.2, "truth": 0.2, "abs_error": 0.0},
        {"score": 0.3, "truth": 0.3, "abs_error": 0.0},
    ]
    with pytest.raises(ProfileError, match="as many samples"):
        profile.validate_all(input=pd.DataFrame({"age": [1, 2]}), output=[0.2, 0.3, 0.4])


def test_tag_formats() -> None:
    profile = small_profile()
    row = {"age": 99, "income": 2.0, "colour": "red"}
    jcr = profile.validate_input(row)
    objects = profile.validate_input(row, tag_format="tag")
    assert all(isinstance(t, Tag) for t in objects) and [t.to_jcr() for t in objects] == jcr
    assert profile.validate_input(row, tag_format="simple") == {
        "age": 99,
        "age-error": "UpperBoundError",
        "income": 2.0,
        "colour": "red",
    }
    with pytest.raises(ProfileError, match="tag_format must be one of"):
        profile.validate_input(row, tag_format="xml")  # type: ignore[arg-type]


def test_one_row_frame_series_and_dict_give_the_same_tags(
    built_houses: ModelProfile, houses: pd.DataFrame
) -> None:
    frame = houses[FEATURES].iloc[[7]]
    from_dict = built_houses.validate_input(frame.iloc[0].to_dict())
    assert built_houses.validate_input(frame) == from_dict
    assert built_houses.validate_input(frame.iloc[0]) == from_dict
    assert built_houses.validate_input(frame, batch=True) == [from_dict]


def test_a_series_sample_stays_a_series_for_positional_and_custom_extractors() -> None:
    """Series rows become dicts only when every extractor looks up by label (a speed-up, not a change)."""
    seen: list[type] = []

    class FirstTimesTwo(Extractor):
        def extract(self, sample: Any) -> Any:
            seen.append(type(sample))
            return float(sample["a"]) * 2

    reference = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, 30.0]})
    by_label = ModelProfile("lab", "1", components=[InputComponent("b", ElementExtractor("b"))])
    positional = ModelProfile("pos", "1", components=[InputComponent("b", ElementExtractor(1))])
    custom = ModelProfile("cus", "1", components=[InputComponent("a2", FirstTimesTwo())])
    for profile in (by_label, positional, custom):
        profile.build(input=reference, silent=True)
    row = reference.iloc[1]
    assert by_label.validate_input(row, tag_format="simple") == {"b": 20.0}
    assert positional.validate_input(row, tag_format="simple") == {"b": 20.0}
    seen.clear()
    assert custom.validate_input(row, tag_format="simple") == {"a2": 4.0}
    assert seen == [pd.Series]
    other_labels = pd.Series([15.0, 5.0], index=["b", "c"])
    assert by_label.validate_input(other_labels, tag_format="simple") == {"b": 15.0}
    assert by_label.validate_input(pd.Series([1.0], index=["c"]), tag_format="simple") == {
        "b-error": "Value None"
    }


@pytest.mark.parametrize("which", ["cheap", "expensive"])
def test_batch_validation_equals_row_by_row(
    built_houses: ModelProfile, houses: pd.DataFrame, houses_expensive: pd.DataFrame, which: str
) -> None:
    df = (houses if which == "cheap" else houses_expensive)[FEATURES].head(300)
    rows = built_houses.validate_input(df)
    assert len(rows) == len(df)
    assert rows == [built_houses.validate_input(r) for r in df.to_dict("records")]
    if which == "expensive":  # pricier houses are bigger: the reference bounds flag some
        assert any(t["value"] == "UpperBoundError" for row in rows for t in row)
    for row in rows[:50]:
        assert tags_to_jcr(row) == row
        assert all(not (isinstance(t["value"], float) and math.isnan(t["value"])) for t in row)


def test_batch_eval_validation_equals_single(built_houses: ModelProfile, houses: pd.DataFrame) -> None:
    out, act = predict(houses)[:50], houses["SalePrice"].to_numpy()[:50, None]
    rows = built_houses.validate_eval(out, act)
    assert rows == [built_houses.validate_eval(o, a, batch=False) for o, a in zip(out, act, strict=True)]


def test_validating_before_build_says_so() -> None:
    profile = ModelProfile("m", "1", components=[InputComponent("x", ElementExtractor("x"))])
    with pytest.raises(NotBuiltError, match="not built"):
        profile.validate_input({"x": 1})


# --- domains -------------------------------------------------------------------------------------


def test_numeric_domain_replaces_the_data_range() -> None:
    profile = ModelProfile("d", "1", components=[InputComponent("x", ElementExtractor("x"))])
    profile.build(input=pd.DataFrame({"x": [1.0, 5.0, 12.0]}), domains={"X": (0, 10)}, silent=True)
    component = profile.components["x"]
    assert component.bounds == (0.0, 10.0) and component.domain_fixed
    assert isinstance(component.stats, NumericStats) and component.stats.edges[[0, -1]].tolist() == [
        0.0,
        10.0,
    ]
    assert component.errors == {"UpperBoundError": 1}
    assert profile.validate_input({"x": 10.5}, tag_format="simple") == {
        "x": 10.5,
        "x-error": "UpperBoundError",
    }
    assert profile.validate_input({"x": 0.5}, tag_format="simple") == {"x": 0.5}


def test_categorical_domain_replaces_the_seen_values() -> None:
    profile = ModelProfile("d", "1", components=[InputComponent("c", ElementExtractor("c"))])
    profile.build(input=pd.DataFrame({"c": ["a", "b", "zzz"]}), domains={"c": ["a", "b", "c"]}, silent=True)
    component = profile.components["c"]
    assert isinstance(component.stats, CategoricalStats)
    assert component.stats.domain == ["a", "b", "c"] and component.errors == {"Domain Error": 1}
    assert profile.validate_input({"c": "c"}, tag_format="simple") == {"c": "c"}
    assert profile.validate_input({"c": "zzz"}, tag_format="simple") == {
        "c": "zzz",
        "c-error": "Domain Error",
    }


def test_bad_domains_are_refused_with_the_component_named() -> None:
    profile = small_profile()
    df = pd.DataFrame({"age": [20, 30], "income": [1.0, 2.0], "colour": ["red", "green"]})
    kwargs: dict[str, Any] = {"input": df, "output": [0.1, 0.2], "actual": [0.1, 0.2], "silent": True}
    with pytest.raises(ProfileError, match=r"unknown components \['height'\]"):
        profile.build(**kwargs, domains={"height": (0, 1)})
    with pytest.raises(ProfileError, match="numeric component 'age'"):
        profile.build(**kwargs, domains={"age": ["young", "old"]})
    with pytest.raises(ProfileError, match="min <= max"):
        profile.build(**kwargs, domains={"age": (10, 1)})
    with pytest.raises(ProfileError, match="categorical component 'colour'"):
        profile.build(**kwargs, domains={"colour": "red"})


# --- contrasts and reports go through engineer B's modules ---------------------------------------


def test_contrast_and_view_delegate(
    built_houses: ModelProfile, houses_expensive: pd.DataFrame, tmp_path: Any
) -> None:
    other = build_houses(house_profile(houses_expensive[FEATURES].dtypes, version="exp"), houses_expensive)
    report = built_houses.contrast(other)
    assert {"grlivarea", "prediction"} <= set(report.drifting())  # bigger houses, higher predictions
    assert built_houses.view(tmp_path / "p.html").read_text(encoding="utf-8").startswith("<!")
    assert built_houses.view_contrast(other, tmp_path / "c.html").exists()


def test_whole_house_frame_profiles_every_column(
    houses: pd.DataFrame, houses_expensive: pd.DataFrame
) -> None:
    profile = ModelProfile("houses-all", "1", components=generate_components(houses.dtypes)).build(
        input=houses, silent=True
    )
    assert len(profile.components) == houses.shape[1] == 81
    rows = profile.validate_input(houses_expensive)
    assert len(rows) == len(houses_expensive)
    names = {t["name"] for row in rows for t in row}
    assert "saleprice-error" in names  # expensive houses are above the cheap reference's range
    pool = profile.components["poolqc"]
    assert pool.errors["Value NaN"] == houses["PoolQC"].isna().sum()
    assert (
        rows == [profile.validate_input(r) for r in houses_expensive.head(20).to_dict("records")] + rows[20:]
    )


def test_large_categorical_domain_is_open_and_sketched() -> None:
    values = [f"user{i}" for i in range(3000)]
    profile = ModelProfile("ids", "1", components=[InputComponent("user", ElementExtractor("user"))])
    profile.build(input=pd.DataFrame({"user": values}), silent=True)
    stats = profile.components["user"].stats
    assert isinstance(stats, CategoricalStats) and stats.domain is None and not stats.exact
    assert profile.validate_input({"user": "someone-new"}, tag_format="simple") == {"user": "someone-new"}


def test_batch_tag_objects() -> None:
    rows = small_profile().validate_input(
        pd.DataFrame({"age": [30, 70], "income": [1.0, 1.0], "colour": ["red", "red"]}), tag_format="tag"
    )
    assert all(isinstance(t, Tag) for row in rows for t in row)
    assert Tag("age-error", "UpperBoundError", "profile-input-error", "people@2") in rows[1]
