"""Mergeable statistics of one component: what a profile (and a backend reducer) knows about its values.

Each stats class updates from a whole batch at once (vectorised NumPy/pandas,
one pass per column), merges with another of its kind and serialises itself to
JSON. Mergeability is the contract: ``a.merge(b)`` describes the concatenation
of what ``a`` and ``b`` saw. Counts, bins, missing and unseen values merge
exactly; min/max exactly; mean and standard deviation to floating-point
rounding (Chan et al.'s parallel update); quantiles within the KLL sketch's
documented rank error; frequencies of a large domain within the frequent-items
sketch's documented error. The sketches are Apache DataSketches, serialised in
their own documented, cross-language binary format (base64 in JSON).

This module never looks at components, tags or files: it only counts values.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

import datasketches
import numpy as np
import pandas as pd

from raymon.profiling.errors import ProfileError

STATS_FORMAT = 1
DEFAULT_NBINS = 20
DEFAULT_KLL_K = 200
DEFAULT_CATEGORY_LIMIT = 1000
DEFAULT_FREQUENT_LG_MAX_K = 12


class StatsError(ProfileError):
    """Stats cannot be built, merged or loaded: different bins or domains, or a malformed document."""


def numeric_edges(lo: float, hi: float, nbins: int = DEFAULT_NBINS) -> np.ndarray:
    """Fixed, evenly spaced bin edges over ``[lo, hi]``; a single value gets a unit-wide range around it.

    The edges are the ones ``np.histogram(values, bins=nbins, range=(lo, hi))`` uses,
    so updating takes NumPy's fast path for even bins.
    """
    if nbins < 1:
        raise StatsError(f"a histogram needs at least one bin, got nbins={nbins}")
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise StatsError(f"histogram range must be finite numbers, got ({lo}, {hi})")
    if lo > hi:
        raise StatsError(f"histogram range must have min <= max, got ({lo}, {hi})")
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, nbins + 1)


_EXACT = 2.0**52  # below this, every half-integer is an exact float


def integer_edges(lo: float, hi: float, nbins: int = DEFAULT_NBINS) -> np.ndarray:
    """Bin edges for whole numbers in ``[lo, hi]``: every bin holds whole integers, none is empty by construction.

    With at most ``nbins`` integers in the range, one bin per integer (edges at ``k - 0.5``);
    otherwise bins of ``ceil(count / nbins)`` integers each, the last one holding the rest, so
    the edges still end at ``hi + 0.5`` and values out of ``[lo, hi]`` land in the outer bins.
    A range with no integer in it, or too large for exact half-integers, gets ``numeric_edges``.
    """
    if nbins < 1:
        raise StatsError(f"a histogram needs at least one bin, got nbins={nbins}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise StatsError(f"histogram range must be finite numbers, got ({lo}, {hi})")
    first, last = math.ceil(lo), math.floor(hi)
    if first > last or max(abs(first), abs(last)) >= _EXACT or last - first >= _EXACT:
        return numeric_edges(lo, hi, nbins)
    count = last - first + 1
    width = -(-count // nbins)
    starts = np.arange(first, last + 1, width, dtype=np.float64)
    return np.append(starts - 0.5, last + 0.5)


def _float_values(values: Any) -> np.ndarray:
    """Values as a float64 array; None and pandas NA become NaN."""
    if isinstance(values, pd.Series | pd.Index):
        if values.dtype.kind == "f":
            return values.to_numpy(dtype=np.float64, copy=False)
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False).ravel()
    try:
        return pd.Series(arr.ravel(), dtype=object).astype("Float64").to_numpy(np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"numeric stats need numbers, got values of type {arr.dtype}: {exc}") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def _json_float(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _check_jcr(jcr: Any, kind: str) -> Mapping[str, Any]:
    if not isinstance(jcr, Mapping) or jcr.get("kind") != kind:
        got = jcr.get("kind") if isinstance(jcr, Mapping) else type(jcr).__name__
        raise StatsError(f"expected a {kind!r} stats document, got {got!r}")
    if jcr.get("format", STATS_FORMAT) > STATS_FORMAT:
        raise StatsError(
            f"{kind} stats document has format {jcr.get('format')}, this raymon reads up to {STATS_FORMAT}"
        )
    return jcr


class NumericStats:
    """Count, missing, min, max, mean, std, KLL quantiles and a histogram on fixed bins.

    ``counts`` has ``len(edges) + 1`` entries: values below ``edges[0]``, one per bin
    (``[edges[i], edges[i+1])``, the last bin closed like ``np.histogram``), values above
    ``edges[-1]``. ``count`` counts non-missing values (infinities included: they land
    in the outer bins); ``mean`` and ``std`` (sample, ddof=1) are over finite values only.
    """

    kind = "numeric"

    def __init__(self, edges: Sequence[float] | np.ndarray, k: int = DEFAULT_KLL_K) -> None:
        edges_arr = np.asarray(edges, dtype=np.float64)
        if edges_arr.ndim != 1 or len(edges_arr) < 2 or not np.all(np.isfinite(edges_arr)):
            raise StatsError(f"bin edges must be at least two finite numbers, got {edges!r}")
        if np.any(np.diff(edges_arr) <= 0):
            raise StatsError(f"bin edges must increase strictly, got {edges_arr.tolist()}")
        self.edges = edges_arr
        nbins = len(edges_arr) - 1
        self._uniform = bool(np.array_equal(edges_arr, np.linspace(edges_arr[0], edges_arr[-1], nbins + 1)))
        self.counts = np.zeros(nbins + 2, dtype=np.int64)
        self.count = 0
        self.missing = 0
        self.finite = 0
        self.min = math.nan
        self.max = math.nan
        self.mean = math.nan
        self._m2 = 0.0
        self.sketch = datasketches.kll_doubles_sketch(k)

    @classmethod
    def from_values(
        cls,
        values: Any,
        nbins: int = DEFAULT_NBINS,
        domain: tuple[float, float] | None = None,
        k: int = DEFAULT_KLL_K,
    ) -> NumericStats:
        """Stats of ``values`` with bins over ``domain``, or over the values' own range when it is None."""
        arr = _float_values(values)
        if domain is None:
            finite = arr[np.isfinite(arr)]
            lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        else:
            lo, hi = domain
        stats = cls(numeric_edges(lo, hi, nbins), k=k)
        stats.update(arr)
        return stats

    @classmethod
    def empty_like(cls, other: NumericStats) -> NumericStats:
        """Stats with ``other``'s bins and sketch size and no data: what a reducer starts a window with."""
        return cls(other.edges, k=other.sketch.k)

    @property
    def nbins(self) -> int:
        return len(self.edges) - 1

    @property
    def std(self) -> float:
        return math.sqrt(self._m2 / (self.finite - 1)) if self.finite > 1 else math.nan

    @property
    def variance(self) -> float:
        return self._m2 / (self.finite - 1) if self.finite > 1 else math.nan

    def update(self, values: Any) -> None:
        """Add a batch of values (array, Series or list); NaN and None count as missing."""
        arr = _float_values(values)
        nan = np.isnan(arr)
        n_missing = int(nan.sum())
        present = arr[~nan] if n_missing else arr
        self.missing += n_missing
        if len(present) == 0:
            return
        isfinite = np.isfinite(present)
        all_finite = bool(isfinite.all())
        finite = present if all_finite else present[isfinite]
        self._add_bins(present, finite, all_finite)
        self.count += len(present)
        self.min = float(present.min()) if math.isnan(self.min) else min(self.min, float(present.min()))
        self.max = float(present.max()) if math.isnan(self.max) else max(self.max, float(present.max()))
        if len(finite):
            b_mean = float(finite.mean())
            b_m2 = float(((finite - b_mean) ** 2).sum())
            self._combine_moments(len(finite), b_mean, b_m2)
        # The sketch's binding takes only writeable, contiguous float64 arrays (pandas may answer read-only views).
        self.sketch.update(np.require(present, np.float64, ["C", "W"]))

    def _add_bins(self, present: np.ndarray, finite: np.ndarray, all_finite: bool) -> None:
        lo, hi = self.edges[0], self.edges[-1]
        if self._uniform:
            inner, _ = np.histogram(finite, bins=self.nbins, range=(lo, hi))
            below = int(np.count_nonzero(present < lo))
            above = int(np.count_nonzero(present > hi))
            self.counts[1:-1] += inner
            self.counts[0] += below
            self.counts[-1] += above
            return
        idx = np.searchsorted(self.edges, present, side="right")
        idx[present == hi] = self.nbins
        self.counts += np.bincount(idx, minlength=self.nbins + 2)

    def _combine_moments(self, n_b: int, mean_b: float, m2_b: float) -> None:
        n_a = self.finite
        if n_a == 0:
            self.finite, self.mean, self._m2 = n_b, mean_b, m2_b
            return
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / n
        self._m2 = self._m2 + m2_b + delta * delta * n_a * n_b / n
        self.finite = n

    def merge(self, other: NumericStats) -> NumericStats:
        """A new stats object describing both inputs' values; neither input changes."""
        if not isinstance(other, NumericStats):
            raise StatsError(f"cannot merge numeric stats with {type(other).__name__}")
        if not np.array_equal(self.edges, other.edges):
            raise StatsError(
                f"cannot merge numeric stats with different bins: {self.edges.tolist()} "
                f"vs {other.edges.tolist()}; build both from the same reference (empty_like)"
            )
        out = NumericStats.from_jcr(self.to_jcr())
        out.counts = self.counts + other.counts
        out.count = self.count + other.count
        out.missing = self.missing + other.missing
        out.min = float(np.fmin(self.min, other.min))
        out.max = float(np.fmax(self.max, other.max))
        if other.finite:
            out._combine_moments(other.finite, other.mean, other._m2)
        out.sketch.merge(other.sketch)
        return out

    def quantile(self, q: float | Sequence[float]) -> float | np.ndarray:
        """Approximate quantile(s) from the KLL sketch (rank error ``rank_error``); NaN when empty."""
        if np.ndim(q) == 0:
            qf = float(q)  # type: ignore[arg-type]
            return math.nan if self.sketch.is_empty() else float(self.sketch.get_quantile(qf))
        qs = [float(x) for x in q]  # type: ignore[union-attr]
        if self.sketch.is_empty():
            return np.full(len(qs), np.nan)
        return np.asarray(self.sketch.get_quantiles(qs), dtype=np.float64)

    @property
    def rank_error(self) -> float:
        """The sketch's documented normalised rank error (99% confidence) for single quantiles."""
        return float(self.sketch.normalized_rank_error(False))

    def to_jcr(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format": STATS_FORMAT,
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "count": self.count,
            "missing": self.missing,
            "finite": self.finite,
            "min": _json_float(self.min),
            "max": _json_float(self.max),
            "mean": _json_float(self.mean),
            "m2": self._m2,
            "kll": _b64(self.sketch.serialize()),
        }

    @classmethod
    def from_jcr(cls, jcr: Mapping[str, Any]) -> NumericStats:
        jcr = _check_jcr(jcr, cls.kind)
        try:
            sketch = datasketches.kll_doubles_sketch.deserialize(_unb64(jcr["kll"]))
            out = cls(jcr["edges"], k=sketch.k)
            counts = np.asarray(jcr["counts"], dtype=np.int64)
            if counts.shape != out.counts.shape:
                raise StatsError(f"numeric stats has {len(counts)} counts for {len(out.edges)} edges")
            out.counts = counts
            out.count, out.missing, out.finite = int(jcr["count"]), int(jcr["missing"]), int(jcr["finite"])
            out.min, out.max, out.mean = (
                math.nan if jcr[k] is None else float(jcr[k]) for k in ("min", "max", "mean")
            )
            out._m2 = float(jcr["m2"])
            out.sketch = sketch
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            if isinstance(exc, StatsError):
                raise
            raise StatsError(f"malformed numeric stats document: {exc!r}") from exc
        return out

    def __repr__(self) -> str:
        return (
            f"NumericStats(count={self.count}, missing={self.missing}, min={self.min:.6g}, "
            f"max={self.max:.6g}, mean={self.mean:.6g}, std={self.std:.6g}, nbins={self.nbins})"
        )


def _category_counts(values: Any) -> tuple[dict[str, int], int]:
    """Exact counts of each value as text, and the number of missing values, in one vectorised pass."""
    if isinstance(values, pd.Series):
        series = values
    else:
        arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
        series = pd.Series(arr.ravel())
    total = len(series)
    vc = series.value_counts(dropna=True, sort=False)
    vc = vc[vc > 0]  # unused categories of a categorical dtype
    counts: dict[str, int] = {}
    for key, n in zip(vc.index.tolist(), vc.to_numpy().tolist(), strict=True):
        text = key if type(key) is str else str(key)
        counts[text] = counts.get(text, 0) + int(n)
    return counts, total - sum(counts.values())


class CategoricalStats:
    """Frequencies of categories (as text), missing values and values outside the allowed domain.

    Frequencies are exact while there are at most ``limit`` distinct values; past it
    they move into a DataSketches frequent-items sketch (``sketch``), whose estimates
    are within ``sketch.get_epsilon_for_lg_size`` of the truth, and ``counts`` is empty.
    ``domain`` (when set) is the list of allowed values; ``unseen`` counts the others.
    """

    kind = "categorical"

    def __init__(
        self,
        domain: Sequence[Any] | None = None,
        limit: int = DEFAULT_CATEGORY_LIMIT,
        lg_max_k: int = DEFAULT_FREQUENT_LG_MAX_K,
    ) -> None:
        self.domain: list[str] | None = None if domain is None else sorted({str(v) for v in domain})
        self._domain_set = None if self.domain is None else frozenset(self.domain)
        self.limit = int(limit)
        self.lg_max_k = int(lg_max_k)
        self.counts: dict[str, int] = {}
        self.sketch: datasketches.frequent_strings_sketch | None = None
        self.count = 0
        self.missing = 0
        self.unseen = 0

    @classmethod
    def from_values(
        cls, values: Any, domain: Sequence[Any] | None = None, limit: int = DEFAULT_CATEGORY_LIMIT
    ) -> CategoricalStats:
        """Stats of ``values``; the domain is ``domain`` when given, else the distinct values seen.

        A domain larger than ``limit`` is left open (None): so many categories are not a list of allowed values.
        """
        counts, missing = _category_counts(values)
        if domain is None and len(counts) <= limit:
            domain = list(counts)
        stats = cls(domain=domain, limit=limit)
        stats._add_counts(counts, missing)
        return stats

    @classmethod
    def empty_like(cls, other: CategoricalStats) -> CategoricalStats:
        """Stats with ``other``'s domain and limits and no data."""
        return cls(domain=other.domain, limit=other.limit, lg_max_k=other.lg_max_k)

    def update(self, values: Any) -> None:
        """Add a batch of values; None and NaN count as missing, everything else by its text."""
        counts, missing = _category_counts(values)
        self._add_counts(counts, missing)

    def _add_counts(self, counts: Mapping[str, int], missing: int) -> None:
        self.missing += missing
        self.count += sum(counts.values())
        if self._domain_set is not None:
            self.unseen += sum(n for v, n in counts.items() if v not in self._domain_set)
        if self.sketch is not None:
            for value, n in counts.items():
                self.sketch.update(value, n)
            return
        for value, n in counts.items():
            self.counts[value] = self.counts.get(value, 0) + n
        if len(self.counts) > self.limit:
            self._to_sketch()

    def _to_sketch(self) -> None:
        sketch = datasketches.frequent_strings_sketch(self.lg_max_k)
        for value, n in self.counts.items():
            sketch.update(value, n)
        self.sketch = sketch
        self.counts = {}

    @property
    def exact(self) -> bool:
        """True while ``counts`` holds every value's exact frequency."""
        return self.sketch is None

    def frequencies(self) -> dict[str, int]:
        """Frequency of each value, most frequent first; estimates once the sketch is in use."""
        if self.sketch is None:
            return dict(sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])))
        items = self.sketch.get_frequent_items(datasketches.frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
        return {item: int(estimate) for item, estimate, _lo, _hi in items}

    def merge(self, other: CategoricalStats) -> CategoricalStats:
        """A new stats object describing both inputs' values; neither input changes."""
        if not isinstance(other, CategoricalStats):
            raise StatsError(f"cannot merge categorical stats with {type(other).__name__}")
        if self.domain != other.domain:
            raise StatsError(
                f"cannot merge categorical stats with different domains: {self.domain} vs {other.domain}; "
                "build both from the same reference (empty_like)"
            )
        out = CategoricalStats.from_jcr(self.to_jcr())
        out.missing += other.missing
        out.count += other.count
        out.unseen += other.unseen
        if out.sketch is None and other.sketch is None:
            for value, n in other.counts.items():
                out.counts[value] = out.counts.get(value, 0) + n
            if len(out.counts) > out.limit:
                out._to_sketch()
            return out
        if out.sketch is None:
            out._to_sketch()
        assert out.sketch is not None
        if other.sketch is not None:
            out.sketch.merge(other.sketch)
        else:
            for value, n in other.counts.items():
                out.sketch.update(value, n)
        return out

    def to_jcr(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format": STATS_FORMAT,
            "domain": self.domain,
            "limit": self.limit,
            "lg_max_k": self.lg_max_k,
            "counts": dict(self.counts),
            "frequent_items": None if self.sketch is None else _b64(self.sketch.serialize()),
            "count": self.count,
            "missing": self.missing,
            "unseen": self.unseen,
        }

    @classmethod
    def from_jcr(cls, jcr: Mapping[str, Any]) -> CategoricalStats:
        jcr = _check_jcr(jcr, cls.kind)
        try:
            out = cls(domain=jcr["domain"], limit=jcr["limit"], lg_max_k=jcr["lg_max_k"])
            out.counts = {str(k): int(v) for k, v in jcr["counts"].items()}
            if jcr["frequent_items"] is not None:
                out.sketch = datasketches.frequent_strings_sketch.deserialize(_unb64(jcr["frequent_items"]))
            out.count, out.missing, out.unseen = int(jcr["count"]), int(jcr["missing"]), int(jcr["unseen"])
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            raise StatsError(f"malformed categorical stats document: {exc!r}") from exc
        return out

    def __repr__(self) -> str:
        return (
            f"CategoricalStats(count={self.count}, missing={self.missing}, unseen={self.unseen}, "
            f"distinct={len(self.frequencies())}, exact={self.exact})"
        )


Stats = NumericStats | CategoricalStats


def stats_from_jcr(jcr: Mapping[str, Any]) -> Stats:
    """Load either kind of stats from its document."""
    kind = jcr.get("kind") if isinstance(jcr, Mapping) else None
    if kind == NumericStats.kind:
        return NumericStats.from_jcr(jcr)
    if kind == CategoricalStats.kind:
        return CategoricalStats.from_jcr(jcr)
    raise StatsError(f"unknown stats kind {kind!r}: expected 'numeric' or 'categorical'")
