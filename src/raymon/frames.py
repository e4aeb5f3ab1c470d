"""Export rows back into one pandas DataFrame, decoded column by column.

An export row (``RaymonAPI.export``, NDJSON) holds a trace id, the trace's tags
and one object's jcr. ``export_frame`` turns many rows into one frame: the
trace id, object id and time, one ``tags.<name>`` column per tag name, and the
object's own columns (a ``rt.DataFrame`` gives its rows, a ``rt.Series`` one
row with its index labels as columns, ``rt.Native`` dicts one row with their
keys as columns, any other type one ``data`` column of the loaded objects).

Objects with the same column layout are decoded together, one array per column
for all of them (never one ``load_jcr`` per row); objects of another layout are
decoded as their own group and the groups concatenated, so no value is lost.
Imports pandas when called (the client's base install has no pandas).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from raymon import types as rt
from raymon.exceptions import DataTypeError

if TYPE_CHECKING:
    import pandas as pd

META_COLUMNS = ("trace_id", "obj_id", "ts")
TAG_PREFIX = "tags."
_DATAFRAME = rt.DataFrame.type_name
_SERIES = rt.Series.type_name
_NATIVE = rt.Native.type_name


def export_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One DataFrame of export rows (dicts with ``trace_id``, ``obj_id``, ``ts``, ``tags``, ``data``)."""
    import pandas as pd

    rows = list(rows)
    meta: dict[str, list[Any]] = {name: [] for name in META_COLUMNS}
    tags: dict[str, list[Any]] = {}
    groups: dict[tuple[Any, ...], _Group] = {}
    position = 0
    for row in rows:
        jcr = row.get("data")
        key, n = _layout(jcr)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key[0])
        group.add(jcr, position, n)
        row_tags = row.get("tags") or {}
        for name in META_COLUMNS:
            meta[name].extend([row.get(name)] * n)
        for name, values in tags.items():
            values.extend([row_tags.get(name)] * n)
        for name, value in row_tags.items():
            if name not in tags:
                tags[name] = [None] * position + [value] * n
        position += n
    head = pd.DataFrame(meta)
    head["ts"] = pd.to_datetime(head["ts"], utc=True, format="ISO8601")
    tag_frame = pd.DataFrame(
        {TAG_PREFIX + name: pd.Series(values).infer_objects() for name, values in tags.items()},
        index=head.index,
    )
    parts = [group.frame() for group in groups.values()]
    if not parts:
        body = pd.DataFrame(index=head.index)
    elif len(parts) == 1:
        body = parts[0]
    else:
        body = pd.concat(parts, axis=0, sort=False).sort_index()
    body.index = head.index
    return pd.concat([head, tag_frame, body], axis=1)


def _layout(jcr: Any) -> tuple[tuple[Any, ...], int]:
    """The key of the objects that decode together, and how many rows this one gives."""
    if not isinstance(jcr, dict):
        return ("other",), 1
    kind = jcr.get("type")
    params = jcr.get("params")
    if kind == _DATAFRAME and isinstance(params, dict) and _column_names(params) is not None:
        columns = params["columns"]
        n = len(columns[0]["values"]) if columns and "values" in columns[0] else _index_length(params)
        layout = tuple(
            _hashable_name(name) + (col["dtype"],)
            for name, col in zip(_column_names(params) or [], columns, strict=True)
        )
        return (_DATAFRAME, layout), n
    if kind == _SERIES and isinstance(params, dict):
        index = params["index"]
        col = params["column"]
        if "values" in index and "values" in col and "categories" not in col:
            names = tuple(_hashable_name(v) for v in index["values"])
            return (_SERIES, index["dtype"], col["dtype"], names), 1
    if kind == _NATIVE and isinstance(params, dict) and isinstance(params.get("data"), dict):
        if not params.get("tagged"):
            return (_NATIVE, tuple(params["data"])), 1
    return ("other",), 1


def _column_names(params: dict[str, Any]) -> list[Any] | None:
    """The encoded column labels of a DataFrame jcr, or None for a MultiIndex (or a range) of columns."""
    column_index = params.get("column_index")
    if column_index is None:
        return [col["name"] for col in params["columns"]]
    if "values" in column_index and "categories" not in column_index:
        return list(column_index["values"])
    return None


def _index_length(params: dict[str, Any]) -> int:
    index = params["index"]
    if "range" in index:
        start, stop, step = index["range"]
        return len(range(start, stop, step))
    return len(rt.DataFrame.from_jcr(params).data)


def _hashable_name(name: Any) -> tuple[Any, ...]:
    return (name,) if isinstance(name, str | int | float | bool) or name is None else (repr(name),)


class _Group:
    """Objects of one layout: their raw column values gathered, decoded once at the end."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.positions: list[int] = []
        self.jcrs: list[Any] = []

    def add(self, jcr: Any, position: int, n: int) -> None:
        self.positions.extend(range(position, position + n))
        self.jcrs.append(jcr)

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        if self.kind == _DATAFRAME:
            data = self._dataframe_columns()
        elif self.kind == _SERIES:
            data = self._series_columns()
        elif self.kind == _NATIVE:
            data = self._native_columns()
        else:
            data = {"data": [_loaded(jcr) for jcr in self.jcrs]}
        index = pd.Index(self.positions)
        frame = pd.DataFrame(
            {i: _as_series(values, index) for i, (_, values) in enumerate(data.items())}, index=index
        )
        frame.columns = pd.Index(list(data), dtype=object, tupleize_cols=False)
        if self.kind in (_SERIES, _NATIVE):  # a row of a mixed frame: each column finds its dtype again
            frame = frame.infer_objects()
        return frame

    def _dataframe_columns(self) -> dict[Any, Any]:
        first = self.jcrs[0]["params"]["columns"]
        names = _column_names(self.jcrs[0]["params"]) or []
        out: dict[Any, Any] = {}
        for i, (encoded_name, col) in enumerate(zip(names, first, strict=True)):
            name = rt.decode_value(encoded_name)
            if "categories" in col:
                out[name] = _categorical([jcr["params"]["columns"][i] for jcr in self.jcrs])
                continue
            values: list[Any] = []
            for jcr in self.jcrs:
                values.extend(jcr["params"]["columns"][i]["values"])
            out[name] = _decoded_column({**col, "values": values})
        return out

    def _series_columns(self) -> dict[Any, Any]:
        params = self.jcrs[0]["params"]
        names = [rt.decode_value(v) for v in params["index"]["values"]]
        dtype = params["column"]["dtype"]
        columns = zip(*(jcr["params"]["column"]["values"] for jcr in self.jcrs), strict=True)
        return {
            name: _decoded_column({**params["column"], "dtype": dtype, "values": list(values)})
            for name, values in zip(names, columns, strict=True)
        }

    def _native_columns(self) -> dict[Any, Any]:
        names = list(self.jcrs[0]["params"]["data"])
        return {name: [jcr["params"]["data"][name] for jcr in self.jcrs] for name in names}


def _loaded(jcr: Any) -> Any:
    if jcr is None:
        return None
    try:
        return rt.load_jcr(jcr).data
    except DataTypeError:
        return jcr


def _decoded_column(col: dict[str, Any]) -> Any:
    """One encoded column of many objects, as one array; object columns of NumPy scalars typed again."""
    import numpy as np

    if col["dtype"] == "object":
        fast = _uniform_numpy_scalars(col["values"])
        if fast is not None:
            return fast
        return np.asarray(rt._decode_column(col), dtype=object)
    return rt._decode_column(col)


def _uniform_numpy_scalars(values: list[Any]) -> Any:
    """``[{"$np": [dtype, v]}, ...]`` of one numeric dtype as one array of it, else None."""
    import numpy as np

    if not values or not isinstance(values[0], dict) or "$np" not in values[0]:
        return None
    dtype = values[0]["$np"][0]
    try:
        raw = [v["$np"][1] for v in values if v["$np"][0] == dtype]
    except (TypeError, KeyError, IndexError):
        return None
    if len(raw) != len(values) or np.dtype(dtype).kind not in "biuf" or any(isinstance(v, dict) for v in raw):
        return None
    return np.array(raw, dtype=dtype)


def _categorical(cols: list[dict[str, Any]]) -> Any:
    import pandas as pd

    first = cols[0]
    if all(col["categories"] == first["categories"] and col["ordered"] == first["ordered"] for col in cols):
        codes: list[int] = []
        for col in cols:
            codes.extend(col["codes"])
        return rt._decode_column({**first, "codes": codes})
    return pd.api.types.union_categoricals([rt._decode_column(col) for col in cols])


def _as_series(values: Any, index: Any) -> pd.Series:
    import pandas as pd

    if isinstance(values, list):
        return pd.Series(values, index=index, dtype=object).infer_objects()
    return pd.Series(values, index=index, dtype=values.dtype, copy=False)


__all__ = ["export_frame", "META_COLUMNS", "TAG_PREFIX"]
