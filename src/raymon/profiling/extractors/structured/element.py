"""``ElementExtractor``: one feature of a structured sample, by column name or position.

The workhorse of tabular profiles, so both paths are fast: ``extract`` is a
dict/Series lookup, ``extract_batch`` one column of a DataFrame or array
without copying. This module never validates values (components do).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raymon.profiling.errors import ProfileError
from raymon.profiling.extractors.base import Extractor

_SCALARS = (int, float, str, bool, np.generic)


class ElementExtractor(Extractor):
    """The value at ``element`` (a column name or an integer position) of each sample.

    A scalar sample (e.g. a model output that is one number) is its own element 0.
    A dict or Series sample without the key answers None (reported as a missing
    value); building from a batch without the column is an error.
    """

    def __init__(self, element: str | int) -> None:
        if isinstance(element, bool) or not isinstance(element, (str, int)):
            raise ProfileError(
                f"ElementExtractor element must be a column name or an integer, got {element!r}"
            )
        self.element = element

    def extract(self, sample: Any) -> Any:
        element = self.element
        if type(sample) is dict:
            return sample.get(element)
        if isinstance(sample, Mapping):
            return sample.get(element)
        if isinstance(sample, pd.Series):
            if element in sample.index:
                return sample[element]
            if type(element) is int and not pd.api.types.is_integer_dtype(sample.index):
                return sample.iloc[element]
            return None
        if isinstance(sample, pd.DataFrame):
            return self.extract_batch(sample).iloc[0] if len(sample) == 1 else self.extract_batch(sample)
        if sample is None or isinstance(sample, _SCALARS):
            if element == 0:
                return sample
            raise ProfileError(f"cannot take element {element!r} of the scalar sample {sample!r}")
        if type(element) is int:
            try:
                return sample[element]
            except IndexError as exc:
                raise ProfileError(f"sample of length {len(sample)} has no element {element}") from exc
        raise ProfileError(f"cannot take element {element!r} of a {type(sample).__name__} sample")

    def extract_batch(self, batch: Any) -> Any:
        element = self.element
        if isinstance(batch, pd.DataFrame):
            if element in batch.columns:
                return batch[element]
            if type(element) is int and element < batch.shape[1]:
                return batch.iloc[:, element]
            raise ProfileError(
                f"the data has no column {element!r}; its columns are {list(batch.columns)[:20]}"
            )
        if isinstance(batch, pd.Series):
            if element == 0 or element == batch.name:
                return batch
            raise ProfileError(f"a Series batch has one value per sample; element {element!r} does not exist")
        if isinstance(batch, np.ndarray):
            if batch.ndim == 1 and element == 0:
                return batch
            if batch.ndim == 2 and type(element) is int:
                if element >= batch.shape[1]:
                    raise ProfileError(
                        f"the array has {batch.shape[1]} columns; element {element} does not exist"
                    )
                return batch[:, element]
            if batch.ndim == 1 and batch.dtype == object:
                return [self.extract(s) for s in batch]
            raise ProfileError(f"cannot take element {element!r} of an array of shape {batch.shape}")
        if isinstance(batch, (list, tuple)):
            if batch and all(isinstance(s, Mapping) for s in batch[:1]):
                return [s.get(element) for s in batch]
            return [self.extract(s) for s in batch]
        raise ProfileError(
            f"a batch must be a DataFrame, Series, NumPy array, list or tuple, got {type(batch).__name__}"
        )
