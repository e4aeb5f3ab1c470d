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
``export_frame_from_parquet`` reads the server's flat Parquet export (written by
``raymon.server.services.export_columns``, whose wire constants are defined here)
with pyarrow, and decodes only the rows kept whole as above.
Imports pandas (and pyarrow) when called (the client's base install has neither).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from raymon import types as rt
from raymon.exceptions import DataTypeError

if TYPE_CHECKING:
    import pandas as pd

META_COLUMNS = ("trace_id", "obj_id", "ts")
TAG_PREFIX = "tags."
# The flat Parquet export (written by ``raymon.server.services.export_columns``):
TAGS_COLUMN = "tags"  # rows kept whole: the trace's tags as JSON text
DATA_COLUMN = "data"  # rows kept whole: the object's jcr as JSON text
SHAPE_KEY = b"raymon.shape"  # schema metadata: b"flat" for the flat shape
FLAT = b"flat"
ENCODING_KEY = b"raymon.encoding"  # field metadata: b"json" for a column of mixed values as JSON text
JSON = b"json"
_DATAFRAME = rt.DataFrame.type_name
_SERIES = rt.Series.type_name
_NATIVE = rt.Native.type_name


def export_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One DataFrame of export rows (dicts with ``trace_id``, ``obj_id``, ``ts``, ``tags``, ``data``)."""
    import pandas as pd

    expanded: list[Mapping[str, Any]] = []  # each export row once per row of its object
    groups: dict[tuple[Any, ...], _Group] = {}
    for row in rows:
        jcr = row.get("data")
        key, n = _layout(jcr)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key[0])
        group.add(jcr, len(expanded), n)
        if n == 1:
            expanded.append(row)
        else:
            expanded.extend([row] * n)
    head = pd.DataFrame({name: [row.get(name) for row in expanded] for name in META_COLUMNS})
    head["ts"] = pd.to_datetime(head["ts"], utc=True, format="ISO8601")
    tag_rows = [row.get("tags") or {} for row in expanded]
    tag_names = list(dict.fromkeys(name for tags in _distinct(tag_rows) for name in tags))
    tag_frame = pd.DataFrame(
        {TAG_PREFIX + name: _tag_column([tags.get(name) for tags in tag_rows]) for name in tag_names},
        index=head.index,
    )
    parts = [group.frame() for group in groups.values()]
    if not parts:
        body = pd.DataFrame(index=head.index)
    elif len(parts) == 1:
        body = parts[0]
    else:
        body = _concat_typed(parts)
    body.index = head.index
    return pd.concat([head, tag_frame, body], axis=1)


def export_frame_from_ndjson(body: bytes) -> pd.DataFrame:
    """``export_frame`` of an NDJSON export's bytes.

    The cyclic garbage collector is paused while the lines are parsed and decoded
    (they make millions of young dicts and lists and no cycles; collecting them
    as they are made costs more than the decoding) and put back as it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return export_frame([orjson.loads(line) for line in body.splitlines() if line])
    finally:
        if was_enabled:
            gc.enable()


def _tag_column(values: list[Any]) -> pd.Series:
    """A tag's values: numbers as float64 (as the backend stores them), text as text."""
    import pandas as pd

    numbers = [float(v) if type(v) is int else v for v in values]
    return pd.Series(numbers, dtype=object).infer_objects()


def export_frame_from_parquet(body: bytes) -> pd.DataFrame:
    """``export_frame`` of a Parquet export's bytes (needs pyarrow).

    A flat export's columns are read by pyarrow as they are (its ``json`` columns decoded
    cell by cell); its rows kept whole (``data`` set) are decoded as ``export_frame`` does
    and put back in their place. An export of another shape (one ``data`` jcr column) is
    decoded from its ``tags`` and ``data`` columns.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(body))
    if (table.schema.metadata or {}).get(SHAPE_KEY) != FLAT:
        return _frame_of_jcr_rows(table)
    return _flat_frame(table)


def _frame_of_jcr_rows(table: Any) -> pd.DataFrame:
    names = table.column_names
    columns = {
        name: table.column(name).to_pylist() for name in (*META_COLUMNS, "tags", "data") if name in names
    }
    n = table.num_rows
    rows = [
        {
            "trace_id": columns["trace_id"][i],
            "obj_id": columns["obj_id"][i],
            "ts": columns["ts"][i],
            "tags": orjson.loads(columns["tags"][i]) if columns["tags"][i] else {},
            "data": orjson.loads(columns["data"][i]) if columns["data"][i] is not None else None,
        }
        for i in range(n)
    ]
    frame = export_frame(rows)
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    return frame


def _flat_frame(table: Any) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc

    kept_whole = table.column(DATA_COLUMN).is_valid()
    n_whole = pc.sum(kept_whole).as_py() or 0
    flat_table = table.drop_columns([TAGS_COLUMN, DATA_COLUMN])
    json_names = [f.name for f in flat_table.schema if (f.metadata or {}).get(ENCODING_KEY) == JSON]
    if n_whole:
        whole_table = table.filter(kept_whole)
        flat_table = flat_table.filter(pc.invert(kept_whole))
    frame = flat_table.to_pandas()
    for name in json_names:
        frame[name] = pd.Series(
            [
                None if v is None else rt.decode_value(orjson.loads(v))
                for v in flat_table.column(name).to_pylist()
            ],
            index=frame.index,
            dtype=object,
        ).infer_objects()
    if not n_whole:
        return frame
    # Rows kept whole expand to their objects' rows, in their place among the flat ones.
    whole = _frame_of_jcr_rows(whole_table)
    is_whole = kept_whole.to_numpy(zero_copy_only=False)
    sizes = np.ones(len(is_whole), dtype=np.int64)
    sizes[is_whole] = [_layout(orjson.loads(text))[1] for text in whole_table.column(DATA_COLUMN).to_pylist()]
    starts = np.cumsum(sizes) - sizes
    frame.index = starts[~is_whole]
    spans = [np.arange(s, s + k) for s, k in zip(starts[is_whole], sizes[is_whole], strict=True)]
    whole.index = np.concatenate([np.empty(0, dtype=np.int64), *spans])
    out = _concat_typed([frame, whole]).reset_index(drop=True)
    tags = [c for c in out.columns if isinstance(c, str) and c.startswith(TAG_PREFIX)]
    rest = [c for c in out.columns if c not in META_COLUMNS and c not in tags]
    return out[[*META_COLUMNS, *tags, *rest]]


def _concat_typed(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The parts' rows in index order, each column typed as one frame of the same values would be.

    pandas' concatenation keeps ``object`` for ``[None]`` and ``[0]`` (one frame of those values
    is float64) and turns ``[False]`` and ``[0]`` into ``[0, 0]``: a column that some part holds
    as objects, or whose parts have different dtypes of those pandas infers (NumPy bool and
    numbers, ``str``), is typed again from its values. Other dtypes (categoricals, nullable,
    time zones) follow pandas' rules.
    """
    import numpy as np
    import pandas as pd

    out = pd.concat(parts, axis=0, sort=False).sort_index()
    dtypes: dict[Any, set[Any]] = {}
    for part in parts:
        for name, dtype in part.dtypes.items():
            dtypes.setdefault(name, set()).add(dtype)
    for name, kinds in dtypes.items():
        inferred = all(_inferred_dtype(d) for d in kinds)
        if any(_is_object(d) for d in kinds) or (len(kinds) > 1 and inferred):
            values: list[Any] = []
            for part in parts:  # each part's own values (the concatenation may have cast them)
                values.extend(part[name].tolist() if name in part.columns else [None] * len(part))
            index = np.concatenate([part.index.to_numpy() for part in parts])
            out[name] = pd.Series(values, index=index)
    return out


def _is_object(dtype: Any) -> bool:
    import numpy as np

    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _inferred_dtype(dtype: Any) -> bool:
    """A dtype pandas infers from plain values (NumPy bool and numbers, ``str``), not one chosen to keep."""
    import numpy as np
    import pandas as pd

    if isinstance(dtype, np.dtype):
        return dtype.kind in "biuf"
    return isinstance(dtype, pd.StringDtype) and dtype.na_value is not pd.NA


def _distinct(tag_rows: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The tag dicts of different key sets (most traces share one), in order of first appearance."""
    seen: set[tuple[str, ...]] = set()
    for tags in tag_rows:
        keys = tuple(tags)
        if keys not in seen:
            seen.add(keys)
            yield tags


def _layout(jcr: Any) -> tuple[tuple[Any, ...], int]:
    """The key of the objects that decode together, and how many rows this one gives."""
    if not isinstance(jcr, dict):
        return ("other",), 1
    kind = jcr.get("type")
    params = jcr.get("params")
    names = _column_names(params) if kind == _DATAFRAME and isinstance(params, dict) else None
    if names is not None and isinstance(params, dict):
        columns = params["columns"]
        n = len(columns[0]["values"]) if columns and "values" in columns[0] else _index_length(params)
        return (_DATAFRAME, _hashable_names(names), tuple([col["dtype"] for col in columns])), n
    if kind == _SERIES and isinstance(params, dict):
        index = params["index"]
        col = params["column"]
        if "values" in index and "values" in col and "categories" not in col:
            return (_SERIES, index["dtype"], col["dtype"], _hashable_names(index["values"])), 1
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


def _hashable_names(names: list[Any]) -> tuple[Any, ...]:
    """The encoded labels as a dict key (tagged labels, being dicts, by their JSON text)."""
    try:
        return tuple(names)
    except TypeError:
        return tuple(orjson.dumps(name) if isinstance(name, dict | list) else name for name in names)


class _Group:
    """Objects of one layout: their raw column values gathered, decoded once at the end."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.positions: list[int] = []
        self.jcrs: list[Any] = []
        self.one_row_each = True

    def add(self, jcr: Any, position: int, n: int) -> None:
        if n == 1:
            self.positions.append(position)
        else:
            self.positions.extend(range(position, position + n))
            self.one_row_each = False
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
        objects = [jcr["params"]["columns"] for jcr in self.jcrs]
        names = _column_names(self.jcrs[0]["params"]) or []
        out: dict[Any, Any] = {}
        for i, (encoded_name, col) in enumerate(zip(names, objects[0], strict=True)):
            name = rt.decode_value(encoded_name)
            if "categories" in col:
                out[name] = _categorical([columns[i] for columns in objects])
                continue
            if self.one_row_each:
                values = [columns[i]["values"][0] for columns in objects]
            else:
                values = []
                for columns in objects:
                    values.extend(columns[i]["values"])
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
    kind = np.dtype(dtype).kind
    if len(raw) != len(values) or kind not in "biuf":
        return None
    if kind == "f":  # NaN and infinities are tagged: {"$float": "NaN"}
        raw = [rt.decode_value(v) if isinstance(v, dict) else v for v in raw]
    elif any(isinstance(v, dict) for v in raw):  # integers past 64 bits
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


__all__ = [
    "export_frame",
    "export_frame_from_ndjson",
    "export_frame_from_parquet",
    "META_COLUMNS",
    "TAG_PREFIX",
]
