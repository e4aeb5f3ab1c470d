"""Extractors for images: average intensity, sharpness, and an outlier score on simple image features.

``ImageOutlierScorer`` learns k-means centres of the reference images'
feature vectors (``features.image_features``) at build time and answers the
distance, in standard deviations, of a new image to the nearest centre; its
state is plain JSON. This module never decodes files (pass images or arrays).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from raymon.profiling.errors import NotBuiltError
from raymon.profiling.extractors.base import Extractor
from raymon.profiling.extractors.structured.anomaly import KMeansModel
from raymon.profiling.extractors.vision.features import (
    average_intensity,
    image_batch,
    image_features,
    laplacian_variance,
)


class AvgIntensity(Extractor):
    """Mean grey level of an image (0-255 for 8-bit images): catches dark, washed-out or blank images."""

    def extract(self, sample: Any) -> Any:
        return average_intensity(sample)

    def extract_batch(self, batch: Any) -> Any:
        return np.asarray([average_intensity(image) for image in image_batch(batch)], dtype=np.float64)


class Sharpness(Extractor):
    """Variance of the Laplacian of the grey image: drops when images are blurred or out of focus."""

    def extract(self, sample: Any) -> Any:
        return laplacian_variance(sample)

    def extract_batch(self, batch: Any) -> Any:
        return np.asarray([laplacian_variance(image) for image in image_batch(batch)], dtype=np.float64)


class ImageOutlierScorer(Extractor):
    """Distance of an image's simple features to the nearest of ``k`` k-means centres of the reference images."""

    def __init__(self, k: int = 4, random_state: int = 0) -> None:
        self.k = int(k)
        self.random_state = int(random_state)
        self.model: KMeansModel | None = None

    @property
    def is_fitted(self) -> bool:
        return self.model is not None

    def fit(self, batch: Any) -> None:
        matrix = np.vstack([image_features(image) for image in image_batch(batch)])
        self.model = KMeansModel.fit(matrix, self.k, self.random_state)

    def _score(self, matrix: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise NotBuiltError("ImageOutlierScorer is not fitted: build the profile first")
        return self.model.distance(matrix)

    def extract(self, sample: Any) -> Any:
        return float(self._score(image_features(sample)[None, :])[0])

    def extract_batch(self, batch: Any) -> Any:
        return self._score(np.vstack([image_features(image) for image in image_batch(batch)]))

    def state(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "random_state": self.random_state,
            "model": None if self.model is None else self.model.to_jcr(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ImageOutlierScorer:
        obj = cls(state["k"], state["random_state"])
        obj.model = None if state["model"] is None else KMeansModel.from_jcr(state["model"])
        return obj
