"""``generate_components``: one component per column of a DataFrame, typed by the column's dtype.

This module only creates component objects; it never looks at the data itself.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from raymon.profiling.components import CAT, FLOAT, INT, Component, InputComponent
from raymon.profiling.errors import ProfileError
from raymon.profiling.extractors.structured.element import ElementExtractor


def dtype_of_column(dtype: Any) -> str:
    """FLOAT, INT or CAT for a pandas/NumPy dtype; booleans, text and categoricals are categorical."""
    if isinstance(dtype, pd.CategoricalDtype):
        return CAT
    if pd.api.types.is_bool_dtype(dtype):
        return CAT
    if pd.api.types.is_float_dtype(dtype):
        return FLOAT
    if pd.api.types.is_integer_dtype(dtype):
        return INT
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise ProfileError(
            f"columns of dtype {dtype} have no component type: convert them (e.g. to a number of days) first"
        )
    if pd.api.types.is_complex_dtype(dtype):
        raise ProfileError(f"columns of dtype {dtype} have no component type")
    return CAT


def generate_components(
    dtypes: pd.Series | dict[Any, Any],
    complass: type[Component] = InputComponent,
    name_prefix: str = "",
) -> list[Component]:
    """One ``complass`` component per column (``df.dtypes``), reading the column with an ``ElementExtractor``.

    Float columns get numeric stats as FLOAT, integer columns as INT; text, boolean and
    categorical columns get categorical stats. ``name_prefix`` is put before each
    column name (e.g. to tell apart an output column from an input of the same name).
    """
    if not (isinstance(complass, type) and issubclass(complass, Component)) or complass is Component:
        raise ProfileError(
            f"complass must be InputComponent, OutputComponent or ActualComponent, got {complass!r}"
        )
    items = dtypes.items() if isinstance(dtypes, (pd.Series, dict)) else None
    if items is None:
        raise ProfileError(
            f"generate_components needs df.dtypes (a Series of dtypes), got {type(dtypes).__name__}"
        )
    components = []
    for column, dtype in items:
        try:
            kind = dtype_of_column(dtype)
        except ProfileError as exc:
            raise ProfileError(f"column {column!r}: {exc}") from exc
        element = column if isinstance(column, (str, int)) and not isinstance(column, bool) else str(column)
        components.append(
            complass(name=f"{name_prefix}{column}", extractor=ElementExtractor(element), dtype=kind)
        )
    return components
