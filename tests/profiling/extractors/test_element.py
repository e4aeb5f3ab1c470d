"""ElementExtractor: one feature by name or position, from one sample or a whole batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raymon.profiling import ElementExtractor, ProfileError
from raymon.profiling.extractors import ElementExtractor as FromExtractors
from raymon.profiling.extractors.structured import generate_components


def test_one_sample_by_name_or_position() -> None:
    assert ElementExtractor("a").extract({"a": 1, "b": 2}) == 1
    assert ElementExtractor("a").extract(pd.Series({"a": 1, "b": 2})) == 1
    assert ElementExtractor(1).extract(pd.Series({"a": 1, "b": 2})) == 2
    assert ElementExtractor(1).extract(np.array([5.0, 6.0])) == 6.0
    assert ElementExtractor(0).extract(3.5) == 3.5
    assert ElementExtractor("missing").extract({"a": 1}) is None


def test_batch_by_name_or_position() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    assert ElementExtractor("b").extract_batch(df).tolist() == [3, 4]
    assert ElementExtractor(0).extract_batch(df).tolist() == [1, 2]
    assert ElementExtractor(1).extract_batch(np.array([[1, 2], [3, 4]])).tolist() == [2, 4]
    assert ElementExtractor(0).extract_batch(np.array([7.0, 8.0])).tolist() == [7.0, 8.0]
    assert ElementExtractor("a").extract_batch([{"a": 1}, {"b": 2}]) == [1, None]


def test_clear_errors_for_what_does_not_exist() -> None:
    with pytest.raises(ProfileError, match="no column 'z'"):
        ElementExtractor("z").extract_batch(pd.DataFrame({"a": [1]}))
    with pytest.raises(ProfileError, match="has 2 columns; element 5"):
        ElementExtractor(5).extract_batch(np.zeros((3, 2)))
    with pytest.raises(ProfileError, match="no element 3"):
        ElementExtractor(3).extract([1, 2])
    with pytest.raises(ProfileError, match="column name or an integer"):
        ElementExtractor(1.5)  # type: ignore[arg-type]


def test_importable_from_extractors_and_profiling() -> None:
    assert FromExtractors is ElementExtractor


def test_generate_components_types_columns_by_dtype() -> None:
    df = pd.DataFrame(
        {
            "f": [1.0],
            "i": [1],
            "s": ["x"],
            "b": [True],
            "c": pd.Categorical(["u"]),
        }
    )
    components = generate_components(df.dtypes, name_prefix="in_")
    assert [(c.name, c.dtype, c.role) for c in components] == [
        ("in_f", "FLOAT", "input"),
        ("in_i", "INT", "input"),
        ("in_s", "CAT", "input"),
        ("in_b", "CAT", "input"),
        ("in_c", "CAT", "input"),
    ]
    assert components[0].extractor.element == "f"
    with pytest.raises(ProfileError, match="column 't'.*datetime"):
        generate_components(pd.DataFrame({"t": pd.to_datetime(["2024-01-01"])}).dtypes)
