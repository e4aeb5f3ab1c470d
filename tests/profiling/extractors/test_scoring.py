"""Evaluation extractors: regression errors and classification outcomes, per sample and vectorised."""

from __future__ import annotations

import numpy as np
import pytest

from raymon.profiling.extractors.structured import (
    AbsoluteRegressionError,
    ClassificationCorrect,
    ClassificationErrorType,
    SquaredRegressionError,
)


def test_regression_errors_batch_equals_single() -> None:
    out, act = np.array([[1.0], [2.0], [np.nan]]), np.array([[1.5], [0.0], [1.0]])
    absolute, squared = AbsoluteRegressionError(), SquaredRegressionError()
    np.testing.assert_allclose(absolute.extract_batch(out, act), [0.5, 2.0, np.nan])
    np.testing.assert_allclose(squared.extract_batch(out, act), [0.25, 4.0, np.nan])
    assert absolute.extract(out[1], act[1]) == 2.0 and squared.extract(3.0, 1.0) == 4.0
    assert absolute.extract({"p": 2.0}, 1.0) is None  # no element 0 in the dict: a missing value
    assert AbsoluteRegressionError(output_element="p").extract({"p": 2.0}, 1.0) == 1.0


def test_classification_error_types_for_one_positive_class() -> None:
    kinds = ClassificationErrorType(positive="spam")
    out = ["spam", "spam", "ham", "ham", None]
    act = ["spam", "ham", "spam", "ham", "ham"]
    assert kinds.extract_batch(out, act).tolist() == ["TP", "FP", "FN", "TN", None]
    assert [kinds.extract(o, a) for o, a in zip(out, act, strict=True)] == ["TP", "FP", "FN", "TN", None]


def test_classification_correct_is_one_or_zero() -> None:
    correct = ClassificationCorrect()
    got = correct.extract_batch(np.array([1, 2, 3]), np.array([1, 0, 3]))
    assert got.tolist() == [1.0, 0.0, 1.0]
    assert correct.extract(2, 2) == 1 and correct.extract("a", "b") == 0


def test_positive_must_be_a_label() -> None:
    with pytest.raises(ValueError, match="positive must be a class label"):
        ClassificationErrorType(positive=[1])  # type: ignore[arg-type]
