"""Anomaly scores of structured samples, learnt from the reference data at build time.

``IsolationForestScorer``: the isolation forest anomaly score (scikit-learn's
``-score_samples``: about 0.5 for ordinary samples, towards 1 for anomalies).
scikit-learn fits the forest; we keep only each tree's split features,
thresholds, children and leaf path lengths as JSON lists and score with NumPy,
so a saved profile needs neither pickle nor the same scikit-learn version.
``KMeansOutlierScorer``: the distance of a standardised sample to the nearest
of k k-means centres. Missing values are filled with the reference median of
their feature. Only numeric features are used. This module never validates
scores (components do).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from raymon.profiling.errors import NotBuiltError, ProfileError
from raymon.profiling.extractors.base import Extractor


def _feature_matrix(batch: Any, features: Sequence[str | int]) -> np.ndarray:
    """A float64 matrix (samples x features) from a DataFrame, a 2-D array or a list of dict samples."""
    if isinstance(batch, (list, tuple)):
        if batch and isinstance(batch[0], Mapping):
            batch = pd.DataFrame(list(batch))
        else:
            batch = np.asarray(batch)
    if isinstance(batch, pd.DataFrame):
        missing = [f for f in features if f not in batch.columns]
        frame: pd.DataFrame
        if missing and all(isinstance(f, int) for f in features):
            frame = batch.iloc[:, [int(f) for f in features]]
        elif missing:
            raise ProfileError(f"the data has no columns {missing}")
        else:
            frame = batch.loc[:, list(features)]
        try:
            return frame.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ProfileError(f"anomaly scorers need numeric features {list(features)}: {exc}") from exc
    arr = np.asarray(batch)
    if arr.ndim != 2:
        raise ProfileError(f"a batch for an anomaly scorer must be 2-D (samples x features), got {arr.shape}")
    try:
        return arr[:, list(features)].astype(np.float64)  # type: ignore[index]
    except (TypeError, ValueError, IndexError) as exc:
        raise ProfileError(f"cannot take numeric features {list(features)} of the array: {exc}") from exc


def _feature_vector(sample: Any, features: Sequence[str | int]) -> np.ndarray:
    if isinstance(sample, pd.DataFrame):
        return _feature_matrix(sample, features)[0]
    if isinstance(sample, (Mapping, pd.Series)):
        values = [sample.get(f) for f in features]
    else:
        seq = np.asarray(sample).ravel()
        values = [seq[int(f)] for f in features]
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def _default_features(batch: Any) -> list[str | int]:
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], Mapping):
        batch = pd.DataFrame(list(batch))
    if isinstance(batch, pd.DataFrame):
        numeric = batch.select_dtypes(include="number").columns
        return [c if isinstance(c, (str, int)) else str(c) for c in numeric]
    arr = np.asarray(batch)
    if arr.ndim != 2:
        raise ProfileError(f"a batch for an anomaly scorer must be 2-D (samples x features), got {arr.shape}")
    return list(range(arr.shape[1]))


class _FeatureScorer(Extractor):
    """Shared by the anomaly scorers: which features, how to fill missing values."""

    def __init__(self, features: Sequence[str | int] | None = None) -> None:
        if features is not None and (
            isinstance(features, str) or not all(isinstance(f, (str, int)) for f in features)
        ):
            raise ProfileError(f"features must be a list of column names or positions, got {features!r}")
        self.features: list[str | int] | None = None if features is None else list(features)
        self.fill: list[float] | None = None

    @property
    def is_fitted(self) -> bool:
        return self.fill is not None

    def _fit_matrix(self, batch: Any) -> np.ndarray:
        if self.features is None:
            self.features = _default_features(batch)
        if not self.features:
            raise ProfileError(f"{type(self).__name__} found no numeric features to score")
        matrix = _feature_matrix(batch, self.features)
        with np.errstate(all="ignore"):
            medians = np.nanmedian(matrix, axis=0) if len(matrix) else np.zeros(matrix.shape[1])
        self.fill = [0.0 if not math.isfinite(m) else float(m) for m in medians]
        return self._filled(matrix)

    def _filled(self, matrix: np.ndarray) -> np.ndarray:
        if self.fill is None:
            raise NotBuiltError(f"{type(self).__name__} is not fitted: build the profile first")
        bad = ~np.isfinite(matrix)
        if bad.any():
            matrix = np.where(bad, np.asarray(self.fill)[None, :], matrix)
        return matrix

    def _matrix(self, batch: Any) -> np.ndarray:
        if self.features is None:
            raise NotBuiltError(f"{type(self).__name__} is not fitted: build the profile first")
        return self._filled(_feature_matrix(batch, self.features))

    def _vector(self, sample: Any) -> np.ndarray:
        if self.features is None:
            raise NotBuiltError(f"{type(self).__name__} is not fitted: build the profile first")
        return self._filled(_feature_vector(sample, self.features)[None, :])

    def score(self, matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def extract(self, sample: Any) -> Any:
        return float(self.score(self._vector(sample))[0])

    def extract_batch(self, batch: Any) -> Any:
        return self.score(self._matrix(batch))


def average_path_length(n: np.ndarray) -> np.ndarray:
    """Expected path length of an unsuccessful search in a binary search tree of n points (Liu et al.)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    two = n == 2
    big = n > 2
    out[two] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


class IsolationForestScorer(_FeatureScorer):
    """Isolation forest anomaly score in (0, 1]; higher is more anomalous (scikit-learn's ``-score_samples``)."""

    def __init__(
        self,
        features: Sequence[str | int] | None = None,
        n_estimators: int = 50,
        max_samples: int = 128,
        random_state: int = 0,
    ) -> None:
        super().__init__(features)
        self.n_estimators = int(n_estimators)
        self.max_samples = int(max_samples)
        self.random_state = int(random_state)
        self.trees: list[dict[str, Any]] | None = None
        self.denominator: float | None = None
        self._arrays: list[tuple[np.ndarray, ...]] = []

    @property
    def is_fitted(self) -> bool:
        return self.trees is not None

    def fit(self, batch: Any) -> None:
        from sklearn.ensemble import IsolationForest

        matrix = self._fit_matrix(batch)
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(matrix)),
            random_state=self.random_state,
        ).fit(matrix)
        trees = []
        for estimator, features in zip(forest.estimators_, forest.estimators_features_, strict=True):
            tree = estimator.tree_
            left, right = tree.children_left, tree.children_right
            depth = np.zeros(tree.node_count, dtype=np.int64)
            for node in range(tree.node_count):  # children come after their parent
                if left[node] != -1:
                    depth[left[node]] = depth[right[node]] = depth[node] + 1
            leaf_value = depth + average_path_length(tree.n_node_samples)
            features = np.asarray(features)
            trees.append(
                {
                    # The split's feature as a column of our matrix (the tree saw a subset).
                    "feature": [int(features[f]) if f >= 0 else -1 for f in tree.feature],
                    "threshold": [float(t) for t in tree.threshold],
                    "left": [int(x) for x in left],
                    "right": [int(x) for x in right],
                    "leaf_value": [float(v) for v in leaf_value],
                }
            )
        self.trees = trees
        self.denominator = float(len(trees) * average_path_length(np.asarray([forest.max_samples_]))[0])
        self._arrays = []

    def _tree_arrays(self) -> list[tuple[np.ndarray, ...]]:
        if not self._arrays:
            if self.trees is None:
                raise NotBuiltError("IsolationForestScorer is not fitted: build the profile first")
            self._arrays = [
                (
                    np.asarray(t["feature"], dtype=np.int64),
                    np.asarray(t["threshold"], dtype=np.float64),
                    np.asarray(t["left"], dtype=np.int64),
                    np.asarray(t["right"], dtype=np.int64),
                    np.asarray(t["leaf_value"], dtype=np.float64),
                )
                for t in self.trees
            ]
        return self._arrays

    def score(self, matrix: np.ndarray) -> np.ndarray:
        # scikit-learn's trees compare float32 features with float64 thresholds.
        x = matrix.astype(np.float32).astype(np.float64)
        rows = np.arange(len(x))
        total = np.zeros(len(x))
        for feature, threshold, left, right, leaf_value in self._tree_arrays():
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                inner = left[node] != -1
                if not inner.any():
                    break
                at = node[inner]
                go_left = x[rows[inner], feature[at]] <= threshold[at]
                node[inner] = np.where(go_left, left[at], right[at])
            total += leaf_value[node]
        assert self.denominator is not None
        return np.power(2.0, -total / self.denominator)

    def extract(self, sample: Any) -> Any:
        """One sample walks the trees in plain Python: far cheaper than NumPy calls on one row."""
        if self.trees is None or self.denominator is None:
            raise NotBuiltError("IsolationForestScorer is not fitted: build the profile first")
        x = self._vector(sample)[0].astype(np.float32).astype(np.float64).tolist()
        total = 0.0
        for tree in self.trees:
            feature, threshold, left, right = tree["feature"], tree["threshold"], tree["left"], tree["right"]
            node = 0
            while left[node] != -1:
                node = left[node] if x[feature[node]] <= threshold[node] else right[node]
            total += tree["leaf_value"][node]
        return 2.0 ** (-total / self.denominator)

    def state(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "fill": self.fill,
            "n_estimators": self.n_estimators,
            "max_samples": self.max_samples,
            "random_state": self.random_state,
            "trees": self.trees,
            "denominator": self.denominator,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> IsolationForestScorer:
        obj = cls(state["features"], state["n_estimators"], state["max_samples"], state["random_state"])
        obj.fill, obj.trees, obj.denominator = state["fill"], state["trees"], state["denominator"]
        return obj


class KMeansModel:
    """Standardisation plus k-means centres: the distance of a point to its nearest centre, in std units."""

    def __init__(self, mean: list[float], scale: list[float], centres: list[list[float]]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.centres = np.asarray(centres, dtype=np.float64)

    @classmethod
    def fit(cls, matrix: np.ndarray, k: int, random_state: int) -> KMeansModel:
        from sklearn.cluster import KMeans

        if len(matrix) == 0:
            raise ProfileError("cannot fit k-means on no samples")
        mean = matrix.mean(axis=0)
        scale = matrix.std(axis=0)
        scale[scale == 0] = 1.0
        z = (matrix - mean) / scale
        k = max(1, min(int(k), len(np.unique(z, axis=0))))
        km = KMeans(n_clusters=k, n_init=3, random_state=random_state).fit(z)
        return cls(mean.tolist(), scale.tolist(), km.cluster_centers_.tolist())

    def distance(self, matrix: np.ndarray) -> np.ndarray:
        z = (matrix - self.mean) / self.scale
        d2 = ((z[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        return np.sqrt(d2.min(axis=1))

    def to_jcr(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "centres": self.centres.tolist()}

    @classmethod
    def from_jcr(cls, jcr: Mapping[str, Any]) -> KMeansModel:
        return cls(jcr["mean"], jcr["scale"], jcr["centres"])


class KMeansOutlierScorer(_FeatureScorer):
    """Distance (in standard deviations) of a sample to the nearest of ``k`` k-means centres of the reference."""

    def __init__(
        self, features: Sequence[str | int] | None = None, k: int = 8, random_state: int = 0
    ) -> None:
        super().__init__(features)
        self.k = int(k)
        self.random_state = int(random_state)
        self.model: KMeansModel | None = None

    @property
    def is_fitted(self) -> bool:
        return self.model is not None

    def fit(self, batch: Any) -> None:
        self.model = KMeansModel.fit(self._fit_matrix(batch), self.k, self.random_state)

    def score(self, matrix: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise NotBuiltError("KMeansOutlierScorer is not fitted: build the profile first")
        return self.model.distance(matrix)

    def state(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "fill": self.fill,
            "k": self.k,
            "random_state": self.random_state,
            "model": None if self.model is None else self.model.to_jcr(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> KMeansOutlierScorer:
        obj = cls(state["features"], state["k"], state["random_state"])
        obj.fill = state["fill"]
        obj.model = None if state["model"] is None else KMeansModel.from_jcr(state["model"])
        return obj
