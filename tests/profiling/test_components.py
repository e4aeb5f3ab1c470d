"""Components: the vectorised check of a batch judges every value exactly as the one-value check does."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raymon.profiling import EvalComponent, InputComponent, OutputComponent, ProfileError
from raymon.profiling.components import Component, infer_dtype
from raymon.profiling.extractors.structured import ClassificationCorrect, ElementExtractor
from raymon.tags import TEXT_VALUE_MAX_LEN


def built(dtype: str, values: list[Any], domain: Any = None) -> Component:
    component = InputComponent("c", ElementExtractor(0), dtype=dtype)
    component.build_from_values(values, domain=domain)
    return component


numeric_values = st.one_of(
    st.integers(-100, 100),
    st.floats(-1000, 1000, allow_nan=False),
    st.sampled_from([None, math.nan, math.inf, -math.inf, "x", True]),
)
category_values = st.one_of(
    st.sampled_from(["a", "b", "c", "", None, math.nan, 1, 2.5, True, ("t",), frozenset()]),
    st.text(max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["FLOAT", "INT"]), st.lists(numeric_values, min_size=1, max_size=30))
def test_numeric_batch_check_equals_single_checks(dtype: str, values: list[Any]) -> None:
    component = built(dtype, [-10, 0, 10])
    batch_values, batch_errors = component.check_batch(np.asarray(values, dtype=object))
    singles = [component.check(v) for v in values]
    assert batch_errors == [e for _, e in singles]
    for got, (want, _) in zip(batch_values, singles, strict=True):
        assert got == want and type(got) is type(want)


@settings(max_examples=150, deadline=None)
@given(st.lists(category_values, min_size=1, max_size=30))
def test_categorical_batch_check_equals_single_checks(values: list[Any]) -> None:
    component = built("CAT", ["a", "b", "1"])
    batch_values, batch_errors = component.check_batch(pd.Series(values, dtype=object))
    assert list(zip(batch_values, batch_errors, strict=True)) == [component.check(v) for v in values]


def test_float_column_batches_take_the_fast_path_with_the_same_answers() -> None:
    component = built("FLOAT", [0.0, 1.0])
    values = np.array([0.5, np.nan, 2.0, -1.0, np.inf])
    assert component.check_batch(values) == (
        [0.5, None, 2.0, -1.0, None],
        [None, "Value NaN", "UpperBoundError", "LowerBoundError", "UpperBoundError"],
    )


def test_int_component_tags_whole_numbers_as_int() -> None:
    component = built("INT", [1, 5])
    assert component.check(3.0) == (3, None) and type(component.check(3.0)[0]) is int
    assert component.check(np.int32(4)) == (4, None)
    assert component.check(2.5) == (2.5, None)


def test_long_category_is_cut_to_the_tag_value_limit() -> None:
    component = built("CAT", ["a"])
    value, error = component.check("x" * (TEXT_VALUE_MAX_LEN + 10))
    assert len(value) == TEXT_VALUE_MAX_LEN and error == "Domain Error"


def test_build_counts_none_and_nan_apart_in_object_columns() -> None:
    component = built("CAT", ["a", None, math.nan, "b", None])
    assert component.errors == {"Value None": 2, "Value NaN": 1}
    numeric = built("FLOAT", [1.0, None, math.nan, "oops", 3.0])
    assert numeric.errors == {"Value None": 1, "Value NaN": 1, "Type Error": 1}
    assert numeric.stats is not None and numeric.stats.count == 2


def test_numeric_component_without_finite_values_asks_for_a_domain() -> None:
    with pytest.raises(ProfileError, match="no finite value"):
        built("FLOAT", [math.nan, None])
    assert built("FLOAT", [math.nan], domain=(0, 1)).bounds == (0.0, 1.0)


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (np.array([1.0, 2.0]), "FLOAT"),
        (pd.Series([1, 2]), "INT"),
        ([1, None, 3], "INT"),
        ([1.5, None], "FLOAT"),
        (pd.Series([True, False]), "CAT"),
        (["a", "b"], "CAT"),
        (pd.Series(["a"], dtype="category"), "CAT"),
    ],
)
def test_infer_dtype(values: Any, dtype: str) -> None:
    assert infer_dtype(values) == dtype


def test_component_constructor_checks_its_arguments() -> None:
    with pytest.raises(ProfileError, match="dtype must be one of"):
        OutputComponent("o", ElementExtractor(0), dtype="TEXT")
    with pytest.raises(ProfileError, match="non-empty string"):
        OutputComponent("", ElementExtractor(0))
    assert EvalComponent("Correct", ClassificationCorrect()).name == "correct"
