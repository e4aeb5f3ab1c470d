"""Classifier confidence: entropy and margin of class probabilities, per sample and vectorised."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from raymon.profiling import ProfileError
from raymon.profiling.extractors.structured import ClassifierEntropy, ClassifierMargin

PROBS = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1]])


def test_entropy_is_zero_when_sure_and_log_k_when_uniform() -> None:
    entropy = ClassifierEntropy()
    assert entropy.extract([1.0, 0.0, 0.0]) == 0.0
    assert entropy.extract({"cat": 0.5, "dog": 0.5}) == pytest.approx(math.log(2))
    np.testing.assert_allclose(entropy.extract_batch(PROBS), [entropy.extract(p) for p in PROBS])
    assert entropy.extract_batch(PROBS)[1] == pytest.approx(math.log(3))


def test_margin_is_the_gap_between_the_two_best_classes() -> None:
    margin = ClassifierMargin()
    np.testing.assert_allclose(margin.extract_batch(PROBS), [1.0, 0.0, 0.3])
    assert margin.extract(PROBS[2]) == pytest.approx(0.3)


def test_probabilities_at_an_element_and_from_frames() -> None:
    margin = ClassifierMargin(element="probs")
    assert margin.extract({"probs": [0.9, 0.1]}) == pytest.approx(0.8)
    assert margin.extract_batch([{"probs": [0.9, 0.1]}, {"probs": [0.5, 0.5]}]).tolist() == pytest.approx(
        [0.8, 0.0]
    )
    frame = pd.DataFrame(PROBS, columns=["a", "b", "c"])
    np.testing.assert_allclose(ClassifierMargin().extract_batch(frame), [1.0, 0.0, 0.3])
    with pytest.raises(ProfileError, match="same length"):
        ClassifierEntropy().extract_batch([[0.5, 0.5], [1.0]])
