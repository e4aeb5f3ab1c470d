"""Components: one named value a profile watches (a feature, an output, an actual, an evaluation).

A component pairs an extractor (how to get the value from a sample) with the
reference stats of that value. ``build_from_values`` turns a batch of extracted
values into stats, bounds and error counts in one vectorised pass; ``check`` and
``check_batch`` judge new values against the reference and answer the tag value
and error kind of each, using bounds and domains precomputed once (no pandas on
the one-value path). Components never extract from raw model data themselves
(``ModelProfile`` decides what data each role gets) and never build tags.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from raymon.exceptions import TagError
from raymon.profiling.errors import NotBuiltError, ProfileError
from raymon.profiling.extractors.base import EvalExtractor, Extractor, ExtractorBase, extractor_from_jcr
from raymon.profiling.names import name_key
from raymon.profiling.stats import (
    DEFAULT_NBINS,
    CategoricalStats,
    NumericStats,
    Stats,
    integer_edges,
    numeric_edges,
    stats_from_jcr,
)
from raymon.registry import ClassTable
from raymon.tags import NAME_MAX_LEN, TEXT_VALUE_MAX_LEN, tag_fields_to_jcr

FLOAT, INT, CAT = "FLOAT", "INT", "CAT"
DTYPES = (FLOAT, INT, CAT)

VALUE_NONE = "Value None"
VALUE_NAN = "Value NaN"
UPPER_BOUND = "UpperBoundError"
LOWER_BOUND = "LowerBoundError"
DOMAIN_ERROR = "Domain Error"
TYPE_ERROR = "Type Error"
EXTRACTOR_ERROR = "Extractor Error"
ERROR_KINDS = (VALUE_NONE, VALUE_NAN, UPPER_BOUND, LOWER_BOUND, DOMAIN_ERROR, TYPE_ERROR, EXTRACTOR_ERROR)
# Missing values: tagged "<name>-error: Value None/NaN" (the original Raymon's scheme) and counted in
# ``stats.missing``; reports and contrasts count them as missing, never again as errors.
MISSING_KINDS = frozenset({VALUE_NONE, VALUE_NAN})

ROLE_TAG_TYPES = {
    "input": "profile-input",
    "output": "profile-output",
    "actual": "profile-actual",
    "eval": "profile-score",
}

Domain = tuple[float, float] | Sequence[Any]
_EXACT_INT = 2.0**53  # whole floats below this are tagged as int by INT components
_HUGE_INT = 2**1023  # ints beyond this do not fit a float
_CONTAINERS = (list, dict, tuple, set, np.ndarray)  # never a category


def normalize_name(name: Any, what: str = "component") -> str:
    """A component or score name as it is stored and tagged (``names.name_key``), checked as a tag name."""
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f"a {what} name must be a non-empty string, got {name!r}")
    normalized = name_key(name)
    try:
        tag_fields_to_jcr(normalized + "-error", 0)
    except TagError as exc:
        raise ProfileError(f"{what} name {name!r} cannot name a tag: {exc}") from exc
    if len(normalized) + len("-error") > NAME_MAX_LEN:
        raise ProfileError(f"{what} name {name!r} is too long: at most {NAME_MAX_LEN - 6} characters")
    return normalized


def infer_dtype(values: Any) -> str:
    """FLOAT, INT or CAT for a batch of extracted values, from its dtype (or its contents when objects)."""
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        values = pd.Series(list(values), dtype=object)
        dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return CAT
    kind = getattr(dtype, "kind", "O")
    if kind == "f":
        return FLOAT
    if kind in "iu":
        return INT
    if kind == "b":
        return CAT
    if kind == "O":
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred == "integer":
            return INT
        if inferred in ("floating", "mixed-integer-float", "decimal"):
            return FLOAT
    return CAT


def _object_missing_kinds(values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split the missing entries of an object array into None (or pd.NA/NaT) and float NaN masks."""
    nan = np.zeros(len(values), dtype=bool)
    idx = np.flatnonzero(missing)
    if len(idx):
        is_nan = [isinstance(v, (float, np.floating)) and v != v for v in values[idx]]
        nan[idx[np.asarray(is_nan, dtype=bool)]] = True
    return missing & ~nan, nan


def _numeric_batch(values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Values as float64 plus masks of None, NaN and Type Error entries; one pass for numeric dtypes."""
    if isinstance(values, (pd.Series, pd.Index)):
        if values.dtype.kind in "fiub":
            arr = values.to_numpy(dtype=np.float64)
            return arr, np.zeros(len(arr), bool), np.isnan(arr), np.zeros(len(arr), bool)
        if pd.api.types.is_numeric_dtype(values.dtype):  # nullable Int64/Float64
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
            none = values.isna().to_numpy()
            return arr, none, np.isnan(arr) & ~none, np.zeros(len(arr), bool)
        obj = values.to_numpy(dtype=object)
    else:
        raw = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
        if raw.dtype.kind in "fiub":
            arr = raw.astype(np.float64, copy=False).ravel()
            return arr, np.zeros(len(arr), bool), np.isnan(arr), np.zeros(len(arr), bool)
        obj = raw.astype(object).ravel()
    missing = pd.isna(obj)
    none, nan = _object_missing_kinds(obj, missing)
    is_number = np.fromiter(
        (
            isinstance(v, (int, float, np.integer, np.floating, np.bool_)) or isinstance(v, numbers.Real)
            for v in obj
        ),
        dtype=bool,
        count=len(obj),
    )
    type_error = ~is_number & ~missing
    arr = np.full(len(obj), np.nan)
    ok = is_number & ~missing
    if ok.any():
        arr[ok] = np.asarray([float(v) for v in obj[ok]], dtype=np.float64)
    return arr, none, nan, type_error


class Component:
    """A named value of a model's data, its extractor, and (once built) its reference stats.

    ``dtype`` is ``"FLOAT"``, ``"INT"`` or ``"CAT"``, or None to infer it from the
    extracted values at build time. Names are lower-cased, as the original Raymon's
    tags were, so dashboards built on them carry over.
    """

    role: ClassVar[str] = ""
    extractor_base: ClassVar[type[ExtractorBase]] = Extractor

    def __init__(self, name: str, extractor: ExtractorBase, dtype: str | None = None) -> None:
        self.name = normalize_name(name)
        if not isinstance(extractor, self.extractor_base):
            raise ProfileError(
                f"{type(self).__name__} {self.name!r} needs a {self.extractor_base.__name__}, "
                f"got {type(extractor).__name__}: {extractor!r}"
            )
        # Extractor or EvalExtractor (by role): their extract() signatures differ, hence Any.
        self.extractor: Any = extractor
        if dtype is not None and (not isinstance(dtype, str) or dtype.upper() not in DTYPES):
            raise ProfileError(
                f"component {self.name!r}: dtype must be one of {DTYPES} or None, got {dtype!r}"
            )
        self.dtype: str | None = None if dtype is None else dtype.upper()
        self.declared_dtype = self.dtype  # what the user asked for; None: inferred at each build
        self.stats: Stats | None = None
        self.errors: dict[str, int] = {}
        self.bounds: tuple[float, float] | None = None
        self.domain_fixed = False
        self.group: str | None = None
        self._domain_set: frozenset[str] | None = None

    @property
    def tag_type(self) -> str:
        return ROLE_TAG_TYPES[self.role]

    @property
    def error_tag_type(self) -> str:
        return ROLE_TAG_TYPES[self.role] + "-error"

    @property
    def error_tag_name(self) -> str:
        return self.name + "-error"

    @property
    def is_built(self) -> bool:
        return self.stats is not None and self.extractor.is_fitted

    @property
    def value_errors(self) -> dict[str, int]:
        """The reference's error counts by kind, missing values left out (they are ``stats.missing``)."""
        return {kind: n for kind, n in self.errors.items() if kind not in MISSING_KINDS and n}

    @property
    def is_numeric(self) -> bool:
        return self.dtype in (FLOAT, INT)

    # --- building ------------------------------------------------------------------------------

    def build_from_values(
        self, values: Any, domain: Domain | None = None, nbins: int = DEFAULT_NBINS
    ) -> None:
        """Set stats, bounds and error counts from a batch of extracted values (one vectorised pass)."""
        dtype = self.dtype or infer_dtype(values)
        stats: Stats
        bounds: tuple[float, float] | None
        if dtype == CAT:
            stats, bounds, errors = self._categorical_from(values, domain)
        else:
            stats, bounds, errors = self._numeric_from(values, domain, nbins, integer=dtype == INT)
        self.dtype, self.stats, self.bounds, self.errors = dtype, stats, bounds, errors
        self.domain_fixed = domain is not None
        self.compile()

    def _numeric_from(
        self, values: Any, domain: Domain | None, nbins: int, integer: bool
    ) -> tuple[NumericStats, tuple[float, float], dict[str, int]]:
        arr, none, nan, type_error = _numeric_batch(values)
        if domain is not None:
            lo, hi = self._numeric_domain(domain)
        else:
            valid = arr[np.isfinite(arr)]
            if len(valid) == 0:
                raise ProfileError(
                    f"component {self.name!r} has no finite value to take its range from: "
                    "give it a domain=(min, max) or check the extractor"
                )
            lo, hi = float(valid.min()), float(valid.max())
        # INT components bin on whole numbers (one bin per integer when few), FLOAT ones evenly.
        edges = integer_edges(lo, hi, nbins) if integer else numeric_edges(lo, hi, nbins)
        stats = NumericStats(edges)
        stats.update(arr[~type_error] if type_error.any() else arr)
        # Out-of-range values are the outer bins (the edges span the bounds; for INT edges, whole numbers exactly).
        errors = {
            VALUE_NONE: int(none.sum()),
            VALUE_NAN: int(nan.sum()),
            TYPE_ERROR: int(type_error.sum()),
            LOWER_BOUND: int(np.count_nonzero(arr < lo)),
            UPPER_BOUND: int(np.count_nonzero(arr > hi)),
        }
        return stats, (lo, hi), {k: v for k, v in errors.items() if v}

    def _numeric_domain(self, domain: Domain) -> tuple[float, float]:
        if (
            isinstance(domain, (str, bytes))
            or not isinstance(domain, Sequence)
            or len(domain) != 2
            or not all(isinstance(x, numbers.Real) and math.isfinite(x) for x in domain)
            or domain[0] > domain[1]
        ):
            raise ProfileError(
                f"numeric component {self.name!r}: a domain must be (min, max) with finite min <= max, got {domain!r}"
            )
        return float(domain[0]), float(domain[1])

    def _categorical_from(
        self, values: Any, domain: Domain | None
    ) -> tuple[CategoricalStats, None, dict[str, int]]:
        if domain is not None and (
            isinstance(domain, (str, bytes, Mapping)) or not isinstance(domain, Sequence)
        ):
            raise ProfileError(
                f"categorical component {self.name!r}: a domain must be a list of allowed values, got {domain!r}"
            )
        series = (
            values
            if isinstance(values, pd.Series)
            else pd.Series(np.asarray(values, dtype=object).ravel(), dtype=object)
        )
        stats = CategoricalStats.from_values(series, domain=None if domain is None else list(domain))
        errors = {DOMAIN_ERROR: stats.unseen}
        if stats.missing:
            if series.dtype == object:
                obj = series.to_numpy()
                none, nan = _object_missing_kinds(obj, pd.isna(obj))
                errors[VALUE_NONE], errors[VALUE_NAN] = int(none.sum()), int(nan.sum())
            else:  # typed columns hold one kind of missing value: NaN (float, str) or NA/None
                na_value = getattr(series.dtype, "na_value", np.nan if series.dtype.kind == "f" else None)
                nan_like = isinstance(na_value, float) and na_value != na_value
                errors[VALUE_NAN if nan_like else VALUE_NONE] = stats.missing
        return stats, None, {k: v for k, v in errors.items() if v}

    def compile(self) -> None:
        """Precompute what ``check`` needs, so judging one value costs a few comparisons."""
        if isinstance(self.stats, CategoricalStats) and self.stats.domain is not None:
            self._domain_set = frozenset(self.stats.domain)
        else:
            self._domain_set = None
        for name, type_ in ((self.name, self.tag_type), (self.error_tag_name, self.error_tag_type)):
            tag_fields_to_jcr(name, 0, type_, self.group)  # checked once: tags then take the fast path

    def _require_built(self) -> None:
        if self.stats is None:
            raise NotBuiltError(f"component {self.name!r} is not built: call ModelProfile.build() first")

    # --- judging values ------------------------------------------------------------------------

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The tag value for ``value`` (None when it cannot be one) and its error kind (None when fine)."""
        if self.dtype == CAT:
            return self._check_category(value)
        if self.bounds is None:
            self._require_built()
        cls = type(value)
        if cls is float or cls is int:
            pass
        elif value is None or value is pd.NA or value is pd.NaT:
            return None, VALUE_NONE
        elif isinstance(value, (np.floating, np.integer, np.bool_)):
            value = value.item()
        elif isinstance(value, numbers.Real):
            value = float(value)
        else:
            return None, TYPE_ERROR
        if value != value:
            return None, VALUE_NAN
        if self.dtype == INT:
            if type(value) is float and value.is_integer() and abs(value) < _EXACT_INT:
                value = int(value)
        elif type(value) is int:
            value = float(value) if abs(value) < _HUGE_INT else math.copysign(math.inf, value)
        lo, hi = self.bounds  # type: ignore[misc]
        if value > hi:
            return (value if value != math.inf else None), UPPER_BOUND
        if value < lo:
            return (value if value != -math.inf else None), LOWER_BOUND
        return value, None

    def _check_category(self, value: Any) -> tuple[Any, str | None]:
        if type(value) is str:
            text = value
        elif value is None or value is pd.NA or value is pd.NaT:
            return None, VALUE_NONE
        elif isinstance(value, (float, np.floating)) and value != value:
            return None, VALUE_NAN
        elif isinstance(value, _CONTAINERS):
            return None, TYPE_ERROR
        else:
            text = str(value)
        if len(text) > TEXT_VALUE_MAX_LEN:
            text = text[:TEXT_VALUE_MAX_LEN]
        domain = self._domain_set
        if domain is not None and text not in domain:
            return text, DOMAIN_ERROR
        return text, None

    def check_batch(self, values: Any) -> tuple[list[Any], list[str | None]]:
        """``check`` for every value of a batch, vectorised: tag values and error kinds as two lists."""
        out, errors = self.check_batch_arrays(values)
        return out.tolist(), errors.tolist()

    def check_batch_arrays(self, values: Any) -> tuple[np.ndarray, np.ndarray]:
        """``check_batch`` as two object arrays (None where there is no tag value / no error)."""
        self._require_built()
        if self.dtype == CAT:
            return self._check_categories(values)
        arr, none, nan, type_error = _numeric_batch(values)
        lo, hi = self.bounds  # type: ignore[misc]
        errors = np.full(len(arr), None, dtype=object)
        errors[arr < lo] = LOWER_BOUND
        errors[arr > hi] = UPPER_BOUND
        errors[nan] = VALUE_NAN
        errors[none] = VALUE_NONE
        errors[type_error] = TYPE_ERROR
        valid = np.isfinite(arr)
        out = arr.astype(object)
        if self.dtype == INT:
            whole = valid & (arr == np.round(arr)) & (np.abs(arr) < _EXACT_INT)
            out[whole] = arr[whole].astype(np.int64).astype(object)
        out[~valid] = None
        return out, errors

    def _check_categories(self, values: Any) -> tuple[np.ndarray, np.ndarray]:
        series = (
            values
            if isinstance(values, pd.Series)
            else pd.Series(np.asarray(values, dtype=object).ravel(), dtype=object)
        )
        obj = series.to_numpy(dtype=object)
        missing = pd.isna(obj) if series.dtype == object else series.isna().to_numpy()
        none, nan = _object_missing_kinds(obj, missing)
        type_error = np.zeros(len(obj), dtype=bool)
        text = np.asarray([v if type(v) is str else str(v) for v in obj], dtype=object)
        if series.dtype == object:
            type_error[[i for i, v in enumerate(obj) if isinstance(v, _CONTAINERS)]] = True
        if len(text) and max(map(len, text)) > TEXT_VALUE_MAX_LEN:
            text = np.asarray([t[:TEXT_VALUE_MAX_LEN] for t in text], dtype=object)
        errors = np.full(len(obj), None, dtype=object)
        if self._domain_set is not None:
            outside = ~pd.Series(text, dtype=object).isin(self._domain_set).to_numpy()
            errors[outside] = DOMAIN_ERROR
        errors[nan] = VALUE_NAN
        errors[none] = VALUE_NONE
        errors[type_error] = TYPE_ERROR
        text[missing | type_error] = None
        return text, errors

    # --- saving --------------------------------------------------------------------------------

    def to_jcr(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "name": self.name,
            "dtype": self.dtype,
            "extractor": self.extractor.to_jcr(),
            "stats": None if self.stats is None else self.stats.to_jcr(),
            "bounds": None if self.bounds is None else list(self.bounds),
            "domain_fixed": self.domain_fixed,
            "errors": dict(self.errors),
        }

    @staticmethod
    def from_jcr(jcr: Mapping[str, Any], classes: ClassTable | None = None) -> Component:
        """Any role's component from its saved form; ``classes``: see ``extractor_from_jcr``."""
        if not isinstance(jcr, Mapping) or jcr.get("role") not in COMPONENT_CLASSES:
            got = jcr.get("role") if isinstance(jcr, Mapping) else jcr
            raise ProfileError(f"a saved component needs a role in {sorted(COMPONENT_CLASSES)}, got {got!r}")
        cls = COMPONENT_CLASSES[jcr["role"]]
        try:
            component = cls(jcr["name"], extractor_from_jcr(jcr["extractor"], classes), jcr.get("dtype"))
            component.stats = None if jcr.get("stats") is None else stats_from_jcr(jcr["stats"])
            bounds = jcr.get("bounds")
            component.bounds = None if bounds is None else (float(bounds[0]), float(bounds[1]))
            component.domain_fixed = bool(jcr.get("domain_fixed", False))
            component.errors = {str(k): int(v) for k, v in (jcr.get("errors") or {}).items()}
        except (KeyError, TypeError, IndexError) as exc:
            raise ProfileError(f"malformed saved component {jcr.get('name')!r}: {exc!r}") from exc
        return component

    def __repr__(self) -> str:
        built = "built" if self.stats is not None else "not built"
        return f"{type(self).__name__}(name={self.name!r}, dtype={self.dtype}, extractor={self.extractor!r}, {built})"


class InputComponent(Component):
    """A value of the model's input (a feature, an image property, an anomaly score...)."""

    role = "input"


class OutputComponent(Component):
    """A value of the model's output (a prediction, a class probability, a margin...)."""

    role = "output"


class ActualComponent(Component):
    """A value of the actual outcome (ground truth) that arrives after the prediction."""

    role = "actual"


class EvalComponent(Component):
    """A value computed from an output and its actual, e.g. an error; scores summarise these."""

    role = "eval"
    extractor_base = EvalExtractor


COMPONENT_CLASSES: dict[str, type[Component]] = {
    c.role: c for c in (InputComponent, OutputComponent, ActualComponent, EvalComponent)
}
