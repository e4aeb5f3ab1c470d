"""Evaluation extractors: how wrong one output was, given its actual.

Regression: ``AbsoluteRegressionError`` and ``SquaredRegressionError``.
Classification: ``ClassificationCorrect`` (1 when the predicted label equals
the actual, else 0; its mean is the accuracy) and ``ClassificationErrorType``
(``TP``/``FP``/``TN``/``FN`` for one positive class; precision, recall and F1
scores read these). Each reads the output and the actual with an element (a
column name or position, 0 for a plain value) and is vectorised on batches.
This module never aggregates (scores do).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from raymon.profiling.errors import ProfileError
from raymon.profiling.extractors.base import EvalExtractor
from raymon.profiling.extractors.structured.element import ElementExtractor


def _as_float(x: Any, what: str) -> np.ndarray:
    values = x.to_numpy() if isinstance(x, pd.Series) else np.asarray(x)
    if values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    try:
        return pd.to_numeric(pd.Series(values.ravel(), dtype=object), errors="raise").to_numpy(np.float64)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"regression errors need numeric {what}s: {exc}") from exc


class _PairExtractor(EvalExtractor):
    """Reads the output's and the actual's element before comparing them."""

    def __init__(self, output_element: str | int = 0, actual_element: str | int = 0) -> None:
        ElementExtractor(output_element), ElementExtractor(actual_element)  # validates both
        self.output_element = output_element
        self.actual_element = actual_element

    def _pair(self, output: Any, actual: Any) -> tuple[Any, Any]:
        return (
            ElementExtractor(self.output_element).extract(output),
            ElementExtractor(self.actual_element).extract(actual),
        )

    def _pair_batch(self, outputs: Any, actuals: Any) -> tuple[Any, Any]:
        return (
            ElementExtractor(self.output_element).extract_batch(outputs),
            ElementExtractor(self.actual_element).extract_batch(actuals),
        )


class AbsoluteRegressionError(_PairExtractor):
    """``|output - actual|``."""

    def extract(self, output: Any, actual: Any) -> Any:
        o, a = self._pair(output, actual)
        return None if o is None or a is None else abs(float(o) - float(a))

    def extract_batch(self, outputs: Any, actuals: Any) -> Any:
        o, a = self._pair_batch(outputs, actuals)
        return np.abs(_as_float(o, "output") - _as_float(a, "actual"))


class SquaredRegressionError(_PairExtractor):
    """``(output - actual) ** 2``."""

    def extract(self, output: Any, actual: Any) -> Any:
        o, a = self._pair(output, actual)
        return None if o is None or a is None else (float(o) - float(a)) ** 2

    def extract_batch(self, outputs: Any, actuals: Any) -> Any:
        o, a = self._pair_batch(outputs, actuals)
        return (_as_float(o, "output") - _as_float(a, "actual")) ** 2


def _labels(x: Any) -> np.ndarray:
    values = x.to_numpy(dtype=object) if isinstance(x, pd.Series) else np.asarray(x, dtype=object)
    return values.ravel()


class ClassificationCorrect(_PairExtractor):
    """1 when the predicted label equals the actual label, else 0 (a missing label gives None)."""

    def extract(self, output: Any, actual: Any) -> Any:
        o, a = self._pair(output, actual)
        if o is None or a is None:
            return None
        return int(o == a)

    def extract_batch(self, outputs: Any, actuals: Any) -> Any:
        o, a = self._pair_batch(outputs, actuals)
        o, a = _labels(o), _labels(a)
        correct = (o == a).astype(np.float64)
        correct[pd.isna(o) | pd.isna(a)] = np.nan
        return correct


class ClassificationErrorType(_PairExtractor):
    """``TP``, ``FP``, ``TN`` or ``FN`` of one sample for the class ``positive``."""

    def __init__(
        self, positive: Any = 1, output_element: str | int = 0, actual_element: str | int = 0
    ) -> None:
        super().__init__(output_element, actual_element)
        if not isinstance(positive, (str, int, float, bool)):
            raise ProfileError(f"positive must be a class label (str or number), got {positive!r}")
        self.positive = positive

    def extract(self, output: Any, actual: Any) -> Any:
        o, a = self._pair(output, actual)
        if o is None or a is None:
            return None
        predicted, real = o == self.positive, a == self.positive
        return ("T" if predicted == real else "F") + ("P" if predicted else "N")

    def extract_batch(self, outputs: Any, actuals: Any) -> Any:
        o, a = self._pair_batch(outputs, actuals)
        o, a = _labels(o), _labels(a)
        predicted, real = o == self.positive, a == self.positive
        kinds = np.where(predicted, np.where(real, "TP", "FP"), np.where(real, "FN", "TN")).astype(object)
        kinds[pd.isna(o) | pd.isna(a)] = None
        return kinds
