"""Confidence of a classifier's output: the entropy and the margin of its class probabilities.

An output sample is a probability vector (list, array, Series or dict of
class -> probability), or holds one at ``element``. Low margin and high entropy
mean an unsure model; their drift often shows trouble before actuals arrive.
This module never checks that probabilities sum to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raymon.profiling.errors import ProfileError
from raymon.profiling.extractors.base import Extractor
from raymon.profiling.extractors.structured.element import ElementExtractor


def _probabilities(sample: Any) -> np.ndarray:
    if isinstance(sample, Mapping):
        sample = list(sample.values())
    probs = np.asarray(sample, dtype=np.float64).ravel()
    if probs.size == 0:
        raise ProfileError("a probability vector must not be empty")
    return probs


def _probability_matrix(batch: Any) -> np.ndarray:
    if isinstance(batch, pd.DataFrame):
        return batch.to_numpy(dtype=np.float64)
    if isinstance(batch, (list, tuple, pd.Series)) or (
        isinstance(batch, np.ndarray) and batch.dtype == object
    ):
        rows = [_probabilities(s) for s in batch]
        if len({len(r) for r in rows}) > 1:
            raise ProfileError("probability vectors of a batch must all have the same length")
        return np.vstack(rows) if rows else np.zeros((0, 1))
    matrix = np.asarray(batch, dtype=np.float64)
    if matrix.ndim != 2:
        raise ProfileError(
            f"a batch of probabilities must be 2-D (samples x classes), got shape {matrix.shape}"
        )
    return matrix


class _ProbabilityExtractor(Extractor):
    def __init__(self, element: str | int | None = None) -> None:
        if element is not None:
            ElementExtractor(element)
        self.element = element

    def _vector(self, sample: Any) -> np.ndarray:
        if self.element is not None:
            sample = ElementExtractor(self.element).extract(sample)
        return _probabilities(sample)

    def _matrix(self, batch: Any) -> np.ndarray:
        if self.element is not None:
            batch = ElementExtractor(self.element).extract_batch(batch)
        return _probability_matrix(batch)


def _entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=-1)


class ClassifierEntropy(_ProbabilityExtractor):
    """Shannon entropy (in nats) of the class probabilities: 0 when sure, ln(k) when uniform over k classes."""

    def extract(self, sample: Any) -> Any:
        return float(_entropy(self._vector(sample)))

    def extract_batch(self, batch: Any) -> Any:
        return _entropy(self._matrix(batch))


def _margin(p: np.ndarray) -> np.ndarray:
    if p.shape[-1] < 2:
        return np.asarray(p[..., 0], dtype=np.float64)
    top2 = np.partition(p, -2, axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


class ClassifierMargin(_ProbabilityExtractor):
    """The highest class probability minus the second highest: near 0 when the model hesitates."""

    def extract(self, sample: Any) -> Any:
        return float(_margin(self._vector(sample)))

    def extract_batch(self, batch: Any) -> Any:
        return _margin(self._matrix(batch))
