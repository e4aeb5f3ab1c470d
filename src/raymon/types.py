"""Data wrappers: turn user objects into a JSON-compatible representation (jcr) and back.

A jcr is ``{"type": "<module>.<Class>", "params": {...}}``. ``load_jcr`` finds the
wrapper class again: the built-in ones and every subclass of ``RaymonDataType``
register themselves in ``raymon.registry`` when their class is defined, so a
user's own wrapper is found without editing this library (``load_jcr`` imports
the wrapper's module when it has not been imported yet; given the server's
``ClassTable`` it resolves only the registered classes and imports nothing).

Encodings, chosen so the round trip is exact and the JSON stays readable:

- ``Native``: the JSON value itself (tuples come back as lists).
- ``Numpy``: dtype, shape and the raw bytes in base64 (exact for every numeric,
  boolean, datetime and complex dtype); object arrays as a tagged value list.
- ``DataFrame``/``Series``: one entry per column with its pandas dtype and its
  values as a JSON list. Missing values are ``null``; non-finite floats are the
  strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` where they must be told
  apart from a missing value; datetimes are integers in the dtype's unit with
  the time zone in the dtype; categoricals keep categories, order and codes;
  column names and index labels keep their Python type.
- ``Image``: PNG in base64 for the modes PNG keeps exactly (1, L, LA, P, RGB,
  RGBA), zlib-compressed raw pixels for every other mode (I;16, I, F, CMYK...).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import math
import sys
import zlib
from typing import TYPE_CHECKING, Any, ClassVar, cast

import orjson

from raymon import config, registry
from raymon.exceptions import DataTypeError, ObjectTooLargeError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_MAX_OBJECT_BYTES = config.DEFAULT_MAX_OBJECT_BYTES


def max_object_bytes() -> int:
    """The size limit for one serialised object: ``RAYMON_MAX_OBJECT_BYTES`` or 16 MiB."""
    return config.max_object_bytes()


class RaymonDataType:
    """Base class of every data wrapper; subclass it to log your own kind of data.

    A subclass implements ``to_jcr()`` answering ``{"type": self.class2str(),
    "params": <JSON-compatible>}`` and the classmethod ``from_jcr(params)``.
    """

    type_name: ClassVar[str]

    def __init__(self, data: Any) -> None:
        self.data = data

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = registry.register("data_type", cls)

    def class2str(self) -> str:
        return type(self).type_name

    def to_jcr(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement to_jcr()")

    @classmethod
    def from_jcr(cls, params: Any) -> RaymonDataType:
        raise NotImplementedError(f"{cls.__name__} must implement from_jcr(params)")

    def to_json(self) -> str:
        return orjson.dumps(self.to_jcr()).decode()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.data!r})"


def load_jcr(jcr: dict[str, Any], classes: registry.ClassTable | None = None) -> RaymonDataType:
    """Answer the wrapper that ``jcr`` was made from; ``.data`` is the original object.

    ``classes`` (the server's): only the wrapper classes in it load; without it, the wrapper's
    module is imported when needed (``raymon.registry.resolve``).
    """
    if not isinstance(jcr, dict) or "type" not in jcr or "params" not in jcr:
        raise DataTypeError('a jcr must be a dict {"type": ..., "params": ...}')
    try:
        cls = cast(type[RaymonDataType], registry.resolve("data_type", jcr["type"], classes))
    except registry.UnknownClassError as exc:
        raise UnknownDataTypeError(str(exc), exc.kind, exc.name) from None
    return cls.from_jcr(jcr["params"])


class UnknownDataTypeError(DataTypeError, registry.UnknownClassError):
    """A jcr names a wrapper class that is not registered (or, on the client, cannot be imported)."""


def jcr_size_check(jcr: dict[str, Any], limit: int | None = None) -> bytes:
    """Serialise a jcr and refuse it when it is over ``limit`` bytes (default: ``max_object_bytes()``)."""
    try:
        raw = orjson.dumps(jcr)
    except TypeError as exc:
        raise DataTypeError(f"object is not JSON-serialisable: {exc}") from exc
    limit = max_object_bytes() if limit is None else limit
    if len(raw) > limit:
        raise ObjectTooLargeError(
            f"object is {len(raw)} bytes once serialised, over the limit of {limit} bytes "
            "(raise it with RAYMON_MAX_OBJECT_BYTES or the logger's max_object_bytes)"
        )
    return raw


# --- tagged scalars: Python values that JSON cannot hold as they are ---------------------------


def encode_value(value: Any) -> Any:
    """Encode one Python/NumPy/pandas scalar (or nested list/dict) so ``decode_value`` gives it back.

    NumPy and pandas values are recognised only when those libraries are loaded
    (a value of theirs cannot exist otherwise), so encoding never imports them.
    """
    cls = type(value)
    if value is None or cls is str or cls is bool:
        return value
    if cls is int:
        return value if -(2**63) <= value < 2**64 else {"$int": str(value)}
    if cls is float:
        return value if math.isfinite(value) else _nonfinite_tag(value)
    np_ = sys.modules.get("numpy")
    if np_ is not None and isinstance(value, np_.generic):  # before str/int/float: np.float64 is a float
        return _encode_numpy_scalar(value)
    pd_ = sys.modules.get("pandas")
    if pd_ is not None:
        if value is pd_.NaT:
            return {"$nat": None}
        if value is pd_.NA:
            return {"$na": None}
        if isinstance(value, pd_.Timestamp):
            return {"$ts": [value.value, str(value.tz) if value.tz else None, value.unit]}
        if isinstance(value, pd_.Timedelta):
            return {"$td": value.value}
    if isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return encode_value(int(value))
    if isinstance(value, float):
        return encode_value(float(value))
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, complex):
        return {"$complex": [encode_value(value.real), encode_value(value.imag)]}
    if isinstance(value, tuple):
        return {"$tuple": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[encode_value(k), encode_value(v)] for k, v in value.items()]}
    raise DataTypeError(f"cannot serialise a value of type {type(value).__name__}: {value!r}")


def _nonfinite_tag(value: float) -> dict[str, str]:
    return {"$float": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}


def _encode_numpy_scalar(value: Any) -> Any:
    """A NumPy scalar as ``$np`` (dtype and value), ``$dt64`` or ``$td64``: it comes back with its dtype."""
    import numpy as np

    if isinstance(value, np.datetime64 | np.timedelta64):
        unit, _ = np.datetime_data(value.dtype)
        kind = "$dt64" if isinstance(value, np.datetime64) else "$td64"
        return {kind: [None if np.isnat(value) else int(value.astype(np.int64)), unit]}
    item = value.item()
    if isinstance(item, np.generic):  # long double and its complex: no Python type holds them exactly
        return {"$np": [value.dtype.str, {"$repr": str(item)}]}
    return {"$np": [value.dtype.str, encode_value(item)]}


def decode_value(value: Any) -> Any:
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise DataTypeError(f"malformed tagged value {value!r}")
    ((tag, arg),) = value.items()
    if tag == "$float":
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[arg])
    if tag == "$int":
        return int(arg)
    if tag in ("$nat", "$na", "$ts", "$td"):
        return _decode_pandas_scalar(tag, arg)
    if tag in ("$dt64", "$td64", "$np"):
        return _decode_numpy_scalar(tag, arg)
    if tag == "$datetime":
        return dt.datetime.fromisoformat(arg)
    if tag == "$date":
        return dt.date.fromisoformat(arg)
    if tag == "$time":
        return dt.time.fromisoformat(arg)
    if tag == "$timedelta":
        return dt.timedelta(days=arg[0], seconds=arg[1], microseconds=arg[2])
    if tag == "$decimal":
        return decimal.Decimal(arg)
    if tag == "$bytes":
        return base64.b64decode(arg)
    if tag == "$complex":
        return complex(decode_value(arg[0]), decode_value(arg[1]))
    if tag == "$tuple":
        return tuple(decode_value(v) for v in arg)
    if tag == "$dict":
        return {_hashable(decode_value(k)): decode_value(v) for k, v in arg}
    raise DataTypeError(f"unknown tagged value {tag!r}")


def _decode_pandas_scalar(tag: str, arg: Any) -> Any:
    import pandas as pd

    if tag == "$nat":
        return pd.NaT
    if tag == "$na":
        return pd.NA
    if tag == "$ts":
        ts = pd.Timestamp(arg[0], tz="UTC").tz_convert(arg[1]) if arg[1] else pd.Timestamp(arg[0])
        return ts.as_unit(arg[2]) if len(arg) > 2 else ts
    return pd.Timedelta(arg)


def _decode_numpy_scalar(tag: str, arg: Any) -> Any:
    import numpy as np

    if tag in ("$dt64", "$td64"):
        ctor = np.datetime64 if tag == "$dt64" else np.timedelta64
        return ctor("NaT", arg[1]) if arg[0] is None else ctor(arg[0], arg[1])
    dtype = np.dtype(arg[0])
    raw = arg[1]
    if isinstance(raw, dict) and "$repr" in raw:  # long double: parsed from its full-precision text
        return dtype.type(raw["$repr"])
    return np.array(decode_value(raw), dtype=dtype)[()]


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


# --- wrappers ---------------------------------------------------------------------------------


class Native(RaymonDataType):
    """Any JSON-native value: dicts with string keys, lists, strings, numbers, booleans, None.

    NumPy scalars inside it (``np.float64`` from a computation, ``np.bool_``...) come back
    with their dtype: the params then say ``"tagged": true`` and hold them as tagged values.
    """

    def to_jcr(self) -> dict[str, Any]:
        try:
            orjson.dumps(self.data, default=_refuse_non_native, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
        except TypeError as exc:
            if not isinstance(exc.__cause__, _HoldsNumpy):
                raise DataTypeError(
                    f"rt.Native needs JSON-native data (dict, list, str, int, float, bool, None): {exc}"
                ) from exc
            return {"type": self.type_name, "params": {"data": _encode_native(self.data), "tagged": True}}
        return {"type": self.type_name, "params": {"data": self.data}}

    @classmethod
    def from_jcr(cls, params: Any) -> Native:
        if params.get("tagged"):
            return cls(_decode_native(params["data"]))
        return cls(params["data"])


class _HoldsNumpy(Exception):
    """Raised inside orjson's ``default`` to say a Native value holds a NumPy scalar."""


def _refuse_non_native(value: Any) -> Any:
    np_ = sys.modules.get("numpy")
    if np_ is not None and isinstance(value, np_.generic):
        raise _HoldsNumpy
    bases: tuple[type[Any], ...] = (str, int, float, dict, list)
    for base in bases:  # a subclass (an IntEnum, a str Enum...) as its base
        if isinstance(value, base):
            return base(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _encode_native(value: Any) -> Any:
    """A JSON-native value with its NumPy scalars as tagged values (dicts that look tagged escaped)."""
    np_ = sys.modules.get("numpy")
    if np_ is not None and isinstance(value, np_.generic):
        return encode_value(value)
    if isinstance(value, dict):
        if len(value) == 1 and str(next(iter(value))).startswith("$"):
            return encode_value(value)  # {"$x": ...} of the user's: as a $dict, never read as a tag
        return {k: _encode_native(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode_native(v) for v in value]
    return value


def _decode_native(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_native(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith("$"):
            return decode_value(value)
        return {k: _decode_native(v) for k, v in value.items()}
    return value


class Numpy(RaymonDataType):
    """A NumPy array of any shape and dtype."""

    def __init__(self, data: np.ndarray) -> None:
        np_ = sys.modules.get("numpy")
        if np_ is None or not isinstance(data, np_.ndarray):
            raise DataTypeError(f"rt.Numpy needs a numpy.ndarray, got {type(data).__name__}")
        super().__init__(data)

    def to_jcr(self) -> dict[str, Any]:
        import numpy as np

        arr = self.data
        params: dict[str, Any] = {"dtype": arr.dtype.str, "shape": list(arr.shape)}
        if arr.dtype.kind in "biufcmMSUV":
            params["dtype"] = arr.dtype.descr if arr.dtype.kind == "V" else arr.dtype.str
            params["b64"] = base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()
        elif arr.dtype.kind == "O":
            params["values"] = [encode_value(v) for v in arr.ravel().tolist()]
        else:
            raise DataTypeError(f"rt.Numpy cannot serialise arrays of dtype {arr.dtype}")
        return {"type": self.type_name, "params": params}

    @classmethod
    def from_jcr(cls, params: Any) -> Numpy:
        import numpy as np

        raw_dtype = params["dtype"]
        dtype = (
            np.dtype([tuple(f) for f in raw_dtype]) if isinstance(raw_dtype, list) else np.dtype(raw_dtype)
        )
        shape = tuple(params["shape"])
        if "b64" in params:
            arr = np.frombuffer(base64.b64decode(params["b64"]), dtype=dtype).reshape(shape).copy()
        else:
            values = [decode_value(v) for v in params["values"]]
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            arr = arr.reshape(shape)
        return cls(arr)


def _encode_column(values: Any) -> dict[str, Any]:
    """Encode a 1-D pandas array-like (Series, Index) with its dtype, losslessly."""
    import numpy as np
    import pandas as pd

    dtype = values.dtype
    out: dict[str, Any] = {"dtype": str(dtype)}
    if isinstance(dtype, pd.CategoricalDtype):
        out["categories"] = _encode_column(pd.Series(dtype.categories))
        out["ordered"] = bool(dtype.ordered)
        out["codes"] = np.asarray(pd.Categorical(values).codes).tolist()
        return out
    kind = getattr(dtype, "kind", "O")
    if isinstance(dtype, pd.DatetimeTZDtype) or kind in "mM" and isinstance(dtype, np.dtype):
        index = pd.TimedeltaIndex(values) if kind == "m" else pd.DatetimeIndex(values)
        ints = index.asi8
        missing = np.asarray(index.isna())
        out["values"] = [None if m else int(v) for v, m in zip(ints.tolist(), missing.tolist(), strict=True)]
        return out
    if isinstance(dtype, np.dtype) and kind == "f":
        arr = np.asarray(values)
        out["values"] = [v if math.isfinite(v) else _nonfinite(v) for v in arr.tolist()]
        return out
    if isinstance(dtype, np.dtype) and kind in "iub":
        out["values"] = np.asarray(values).tolist()
        return out
    if isinstance(dtype, np.dtype) and kind == "c":
        out["values"] = [encode_value(complex(v)) for v in np.asarray(values).tolist()]
        return out
    # Extension dtypes (Int64, boolean, string, str, Float64, ...) and object columns.
    mask: np.ndarray | None = None
    if not (isinstance(dtype, np.dtype) and kind == "O"):
        mask = np.asarray(pd.isna(values))
    items = list(values)
    if mask is not None:
        out["values"] = [
            None if m else encode_value(_py(v)) for v, m in zip(items, mask.tolist(), strict=True)
        ]
        if isinstance(dtype, pd.StringDtype) and getattr(dtype, "na_value", None) is not pd.NA:
            out["dtype_args"] = {"storage": dtype.storage, "na_value": "nan"}
        elif isinstance(dtype, pd.StringDtype):
            out["dtype_args"] = {"storage": dtype.storage, "na_value": "NA"}
    else:
        out["values"] = [encode_value(v) for v in items]
    return out


def _nonfinite(v: float) -> str | None:
    if math.isnan(v):
        return None
    return "Infinity" if v > 0 else "-Infinity"


def _py(v: Any) -> Any:
    import numpy as np

    return v.item() if isinstance(v, np.generic) and not isinstance(v, np.datetime64 | np.timedelta64) else v


def _decode_dtype(col: dict[str, Any]) -> Any:
    import numpy as np
    import pandas as pd

    args = col.get("dtype_args")
    if args is not None:
        na_value = np.nan if args["na_value"] == "nan" else pd.NA
        try:
            return pd.StringDtype(storage=args["storage"], na_value=na_value)
        except ImportError:  # written where pyarrow is installed, read where it is not
            return pd.StringDtype(storage="python", na_value=na_value)
    return pd.api.types.pandas_dtype(col["dtype"])


def _decode_column(col: dict[str, Any]) -> Any:
    """Answer a pandas array (ExtensionArray or ndarray) for an encoded column."""
    import numpy as np
    import pandas as pd

    if "categories" in col:
        categories = _decode_column(col["categories"])
        return pd.Categorical.from_codes(
            col["codes"], categories=pd.Index(categories), ordered=col["ordered"]
        )
    dtype = _decode_dtype(col)
    values = col["values"]
    if isinstance(dtype, pd.DatetimeTZDtype) or isinstance(dtype, np.dtype) and dtype.kind in "mM":
        ints = np.array([np.iinfo(np.int64).min if v is None else v for v in values], dtype="int64")
        if isinstance(dtype, pd.DatetimeTZDtype):
            naive = ints.view(f"M8[{dtype.unit}]")
            return pd.DatetimeIndex(naive).tz_localize("UTC").tz_convert(dtype.tz).array
        return ints.view(dtype)
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return np.array(
            [
                np.nan
                if v is None
                else (float("inf") if v == "Infinity" else float("-inf") if v == "-Infinity" else v)
                for v in values
            ],
            dtype=dtype,
        )
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return np.array(values, dtype=dtype)
    if isinstance(dtype, np.dtype) and dtype.kind == "c":
        return np.array([decode_value(v) for v in values], dtype=dtype)
    decoded = [decode_value(v) for v in values]
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        arr = np.empty(len(decoded), dtype=object)
        arr[:] = decoded
        return arr
    return pd.array(decoded, dtype=dtype)


def _encode_index(index: pd.Index) -> dict[str, Any]:
    import pandas as pd

    if isinstance(index, pd.RangeIndex):
        return {"range": [index.start, index.stop, index.step], "name": encode_value(index.name)}
    if isinstance(index, pd.MultiIndex):
        levels = [_encode_index(index.get_level_values(i)) for i in range(index.nlevels)]
        return {"multi": levels, "names": [encode_value(n) for n in index.names]}
    out = _encode_column(index)
    out["name"] = encode_value(index.name)
    if isinstance(index, pd.DatetimeIndex) and index.freq is not None:
        out["freq"] = index.freqstr
    return out


def _decode_index(enc: dict[str, Any]) -> pd.Index:
    import pandas as pd

    if "range" in enc:
        start, stop, step = enc["range"]
        return pd.RangeIndex(start, stop, step, name=decode_value(enc["name"]))
    if "multi" in enc:
        arrays = [_decode_index(level) for level in enc["multi"]]
        return pd.MultiIndex.from_arrays(arrays, names=[decode_value(n) for n in enc["names"]])
    index = pd.Index(_decode_column(enc), name=decode_value(enc["name"]), tupleize_cols=False)
    if "freq" in enc:
        index.freq = enc["freq"]
    return index


class DataFrame(RaymonDataType):
    """A pandas DataFrame, with dtypes, missing values, time zones and categoricals kept."""

    def __init__(self, data: pd.DataFrame) -> None:
        pd_ = sys.modules.get("pandas")
        if pd_ is None or not isinstance(data, pd_.DataFrame):
            raise DataTypeError(f"rt.DataFrame needs a pandas.DataFrame, got {type(data).__name__}")
        super().__init__(data)

    def to_jcr(self) -> dict[str, Any]:
        df = self.data
        columns = []
        for i in range(df.shape[1]):
            col = _encode_column(df.iloc[:, i])
            col["name"] = encode_value(df.columns[i])
            columns.append(col)
        params = {
            "columns": columns,
            "column_index": None if _plain_columns(df.columns) else _encode_index(df.columns),
            "index": _encode_index(df.index),
        }
        return {"type": self.type_name, "params": params}

    @classmethod
    def from_jcr(cls, params: Any) -> DataFrame:
        import pandas as pd

        index = _decode_index(params["index"])
        arrays = [_decode_column(col) for col in params["columns"]]
        if params.get("column_index") is not None:
            columns = _decode_index(params["column_index"])
        else:
            columns = pd.Index(
                [decode_value(col["name"]) for col in params["columns"]], dtype=object, tupleize_cols=False
            )
            if len(columns) == 0:
                columns = pd.RangeIndex(0)
        # Series with their dtype named, so pandas never re-infers one (e.g. object -> str).
        data = {i: pd.Series(arr, index=index, dtype=arr.dtype, copy=False) for i, arr in enumerate(arrays)}
        df = pd.DataFrame(data, index=index) if arrays else pd.DataFrame(index=index)
        df.columns = columns
        return cls(df)


def _plain_columns(columns: pd.Index) -> bool:
    """True when the column labels alone rebuild the column index (an object Index or an empty one)."""
    import pandas as pd

    return type(columns) is pd.Index and columns.dtype == object and columns.name is None


class Series(RaymonDataType):
    """A pandas Series, with its dtype, index and name."""

    def __init__(self, data: pd.Series) -> None:
        pd_ = sys.modules.get("pandas")
        if pd_ is None or not isinstance(data, pd_.Series):
            raise DataTypeError(f"rt.Series needs a pandas.Series, got {type(data).__name__}")
        super().__init__(data)

    def to_jcr(self) -> dict[str, Any]:
        col = _encode_column(self.data)
        col["name"] = encode_value(self.data.name)
        return {"type": self.type_name, "params": {"column": col, "index": _encode_index(self.data.index)}}

    @classmethod
    def from_jcr(cls, params: Any) -> Series:
        import pandas as pd

        col = params["column"]
        arr = _decode_column(col)
        index = _decode_index(params["index"])
        return cls(pd.Series(arr, index=index, name=decode_value(col["name"]), dtype=arr.dtype, copy=False))


_PNG_MODES = {"1", "L", "LA", "RGB", "RGBA"}


class Image(RaymonDataType):
    """A PIL image, any mode."""

    def __init__(self, data: Any) -> None:
        from PIL import Image as PILImage

        if not isinstance(data, PILImage.Image):
            raise DataTypeError(f"rt.Image needs a PIL.Image.Image, got {type(data).__name__}")
        super().__init__(data)

    def to_jcr(self) -> dict[str, Any]:
        img = self.data
        params: dict[str, Any] = {"mode": img.mode, "size": list(img.size)}
        if img.mode in _PNG_MODES:
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            params["png"] = base64.b64encode(buf.getvalue()).decode()
        else:
            params["raw_zlib"] = base64.b64encode(zlib.compress(img.tobytes(), 6)).decode()
            if img.mode in ("P", "PA"):
                palette = img.palette
                params["palette"] = [palette.mode, base64.b64encode(bytes(palette.palette)).decode()]
        return {"type": self.type_name, "params": params}

    @classmethod
    def from_jcr(cls, params: Any) -> Image:
        from PIL import Image as PILImage

        img: PILImage.Image
        if "png" in params:
            img = PILImage.open(io.BytesIO(base64.b64decode(params["png"])))
            img.load()
            if img.mode != params["mode"]:
                img = img.convert(params["mode"])
        elif "raw_zlib" in params:
            raw = zlib.decompress(base64.b64decode(params["raw_zlib"]))
            img = PILImage.frombytes(params["mode"], tuple(params["size"]), raw)
            if "palette" in params:
                img.putpalette(base64.b64decode(params["palette"][1]), rawmode=params["palette"][0])
        else:
            raise DataTypeError("an Image jcr needs 'png' or 'raw_zlib'")
        return cls(img)


__all__ = [
    "RaymonDataType",
    "Native",
    "Numpy",
    "DataFrame",
    "Series",
    "Image",
    "load_jcr",
    "UnknownDataTypeError",
    "encode_value",
    "decode_value",
    "max_object_bytes",
]
