"""The flat columns of a Parquet export: an object's fields and a trace's tags as typed columns.

For a ref of ``rt.DataFrame``, ``rt.Series`` and ``rt.Native`` dict objects the Parquet
export holds one row per row of the object (a DataFrame's rows; a Series or a dict as
one row) with the columns ``trace_id``, ``obj_id``, ``ts``, one ``tags.<name>`` column
per tag and one column per field, typed from the values: ``bool``, ``int`` (int64),
``float`` (float64; ints and floats together are floats), ``str`` (string), and
``null`` for a column of missing values only, ``json`` for a column whose values mix those kinds (string holding each value's
``rt.encode_value`` JSON text, marked by the field metadata ``raymon.encoding: json``).
Tag numbers are always float64.

Parquet needs the file's schema before the first row group, so ``derive`` reads it off
a first batch of rows. A later row that does not fit it (a field or tag the schema
lacks, a value of another kind) and an object that cannot go flat at all (a field of
another type: timestamps, categoricals, nested values; labels that are not text or
that clash with the columns above) is kept whole: one row with its tags and jcr as
JSON text in the ``tags`` and ``data`` columns and every flat column empty. Nothing is
lost; a row is either flat (``data`` empty) or whole in ``tags``/``data``.

Pure: no I/O, no SQL, no HTTP; imports pyarrow only to build the schema.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from raymon import types as rt
from raymon.frames import (  # the export's wire format, shared with the client that reads it
    DATA_COLUMN,
    ENCODING_KEY,
    FLAT,
    JSON,
    META_COLUMNS,
    SHAPE_KEY,
    TAG_PREFIX,
    TAGS_COLUMN,
)

Kind = Literal["bool", "int", "float", "str", "json"]
Plain = bool | int | float | str | None
Record = dict[str, Plain]

RESERVED = frozenset({*META_COLUMNS, TAGS_COLUMN, DATA_COLUMN})
FLAT_TYPES = frozenset({rt.DataFrame.type_name, rt.Series.type_name, rt.Native.type_name})

_INT64 = (-(2**63), 2**63)
_TEXT_DTYPES = ("object", "str", "string")


class _NotFlat(Exception):
    """An object (or a value of it) that has no place in flat columns."""


# --- an object's rows --------------------------------------------------------------------------


def flat_records(jcr: Any) -> list[Record] | None:
    """The rows of a DataFrame/Series/Native-dict jcr as ``{field: plain value}``, or None if it cannot go flat."""
    if not isinstance(jcr, dict) or not isinstance(jcr.get("params"), dict):
        return None
    kind = jcr.get("type")
    params = jcr["params"]
    try:
        if kind == rt.DataFrame.type_name:
            return _dataframe_records(params)
        if kind == rt.Series.type_name:
            return [_series_record(params)]
        if kind == rt.Native.type_name:
            return [_native_record(params)]
    except (_NotFlat, KeyError, TypeError, ValueError, IndexError):
        return None
    return None


def _dataframe_records(params: dict[str, Any]) -> list[Record]:
    columns = params["columns"]
    column_index = params.get("column_index")
    if column_index is None:
        names = [col["name"] for col in columns]
    else:
        _check_text_index(column_index)
        names = column_index["values"]
    _check_labels(names)
    if not columns:
        raise _NotFlat
    values = [_column_values(col) for col in columns]
    n = len(values[0])
    if any(len(v) != n for v in values):
        raise _NotFlat
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def _series_record(params: dict[str, Any]) -> Record:
    index = params["index"]
    _check_text_index(index)
    names = index["values"]
    _check_labels(names)
    values = _column_values(params["column"])
    if len(values) != len(names):
        raise _NotFlat
    return dict(zip(names, values, strict=True))


def _native_record(params: dict[str, Any]) -> Record:
    data = params["data"]
    if not isinstance(data, dict):
        raise _NotFlat
    _check_labels(list(data))
    tagged = bool(params.get("tagged"))
    return {name: _plain(value) if tagged else _untagged(value) for name, value in data.items()}


def _check_text_index(index: dict[str, Any]) -> None:
    if "values" not in index or "categories" in index or index.get("dtype") not in _TEXT_DTYPES:
        raise _NotFlat
    if index.get("name") is not None:
        raise _NotFlat


def _check_labels(names: Sequence[Any]) -> None:
    """Labels that can name columns: text, unique, not one of the export's own columns."""
    if not all(type(name) is str for name in names) or len(set(names)) != len(names):
        raise _NotFlat
    if any(name in RESERVED or name.startswith(TAG_PREFIX) for name in names):
        raise _NotFlat


def _column_values(col: dict[str, Any]) -> list[Plain]:
    """An encoded column's values as plain Python values (what ``Series.to_dict`` would answer)."""
    if "categories" in col or "dtype_args" in col and col["dtype"] not in ("str", "string"):
        raise _NotFlat
    dtype = col["dtype"]
    values = col["values"]
    if dtype == "bool":
        return [bool(v) for v in values]
    if dtype.startswith(("int", "uint")) and dtype[-1].isdigit():
        return [_int(v) for v in values]
    if dtype.startswith("float") and dtype[-1].isdigit():
        return [_float_of_column(v) for v in values]
    if dtype == "object":
        return [_plain(v) for v in values]
    if dtype in ("str", "string") and col.get("dtype_args", {}).get("na_value", "nan") == "nan":
        if not all(v is None or type(v) is str for v in values):
            raise _NotFlat
        return list(values)
    raise _NotFlat


def _int(value: Any) -> int:
    if type(value) is not int or not _INT64[0] <= value < _INT64[1]:
        raise _NotFlat
    return value


def _float_of_column(value: Any) -> float:
    """A float column's value: ``None`` is NaN, infinities are text."""
    if value is None:
        return math.nan
    if value == "Infinity":
        return math.inf
    if value == "-Infinity":
        return -math.inf
    if type(value) in (int, float):
        return float(value)
    raise _NotFlat


_SCALARS = frozenset({str, float, bool, type(None)})


def _untagged(value: Any) -> Plain:
    """A JSON-native value of an untagged ``rt.Native`` dict: only scalars go flat."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is int:
        return _int(value)
    raise _NotFlat


def _plain(value: Any) -> Plain:
    """A tagged (``rt.encode_value``) scalar as a plain value; NumPy numbers as Python numbers."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is int:
        return _int(value)
    if cls is not dict or len(value) != 1:
        raise _NotFlat
    ((tag, arg),) = value.items()
    if tag == "$float":
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[arg])
    if tag == "$np" and type(arg) is list and len(arg) == 2 and type(arg[0]) is str:
        code = arg[0].lstrip("<>|=")[:1]
        raw = arg[1]
        raw_cls = type(raw)
        if raw_cls is dict:
            raw = _plain(raw)
            raw_cls = type(raw)
        if code == "b" and raw_cls is bool:
            return raw
        if code in ("i", "u") and raw_cls is int:
            return _int(raw)
        if code == "f" and raw_cls in (int, float):
            return float(raw)
    raise _NotFlat


# --- the schema --------------------------------------------------------------------------------


def kind_of(value: Plain) -> Kind | None:
    """The column kind a value asks for (None: a missing value, fits any column)."""
    if value is None:
        return None
    if type(value) is bool:
        return "bool"
    if type(value) is int:
        return "int"
    if type(value) is float:
        return "float"
    return "str"


def widened(a: Kind | None, b: Kind | None) -> Kind | None:
    """The kind of a column holding values of kinds ``a`` and ``b``."""
    if a is None or a == b:
        return b if a is None else a
    if b is None:
        return a
    if {a, b} == {"int", "float"}:
        return "float"
    return "json"


def fits(kind: Kind | None, value: Plain) -> bool:
    """Whether ``value`` goes in a column of ``kind`` as it is (ints into float columns too)."""
    own = kind_of(value)
    return own is None or own == kind or kind == "json" or (kind == "float" and own == "int")


def _tag_kind(value: Any) -> Kind | None:
    own = kind_of(value)
    return "float" if own == "int" else own


_FITTING: dict[Kind | None, frozenset[type]] = {  # the value types each column kind takes as they are
    None: frozenset({type(None)}),
    "bool": frozenset({bool, type(None)}),
    "int": frozenset({int, type(None)}),
    "float": frozenset({float, int, type(None)}),
    "str": frozenset({str, type(None)}),
    "json": frozenset({str, float, int, bool, type(None)}),
}


@dataclass(slots=True)
class FlatSchema:
    """The flat columns of one export: tag names and field names, each with its kind, in order."""

    tags: dict[str, Kind | None]
    fields: dict[str, Kind | None]
    _tag_types: dict[str, frozenset[type]] = field(init=False, repr=False)
    _field_types: dict[str, frozenset[type]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._tag_types = {name: _FITTING[kind] for name, kind in self.tags.items()}
        self._field_types = {name: _FITTING[kind] for name, kind in self.fields.items()}

    def row_fits(self, tags: Mapping[str, Any], records: list[Record]) -> bool:
        """Whether a row's tags and records go in these columns as they are (``fits`` of each value)."""
        nothing: frozenset[type] = frozenset()
        tag_types = self._tag_types
        for name, value in tags.items():
            if type(value) not in tag_types.get(name, nothing):
                return False
        field_types = self._field_types
        for record in records:
            for name, value in record.items():
                if type(value) not in field_types.get(name, nothing):
                    return False
        return True

    def column_names(self) -> list[str]:
        return [
            *META_COLUMNS,
            *(TAG_PREFIX + name for name in self.tags),
            *self.fields,
            TAGS_COLUMN,
            DATA_COLUMN,
        ]

    def arrow_schema(self) -> Any:
        import pyarrow as pa

        arrow = {None: pa.null(), "bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}

        def column(name: str, kind: Kind | None) -> Any:
            if kind == "json":
                return pa.field(name, pa.string(), metadata={ENCODING_KEY: JSON})
            return pa.field(name, arrow.get(kind, pa.string()))

        return pa.schema(
            [
                pa.field("trace_id", pa.string()),
                pa.field("obj_id", pa.string()),
                pa.field("ts", pa.timestamp("us", tz="UTC")),
                *(column(TAG_PREFIX + name, kind) for name, kind in self.tags.items()),
                *(column(name, kind) for name, kind in self.fields.items()),
                pa.field(TAGS_COLUMN, pa.string()),
                pa.field(DATA_COLUMN, pa.string()),
            ],
            metadata={
                b"raymon.export": b"2",
                SHAPE_KEY: FLAT,
                b"raymon.data": b"rows kept whole: tags and jcr as JSON text; flat columns empty",
            },
        )


def derive(rows: Iterable[tuple[Mapping[str, Any], list[Record] | None]]) -> FlatSchema | None:
    """The schema of a first batch of (tags, records) rows; None when no row of it goes flat."""
    tags: dict[str, Kind | None] = {}
    fields: dict[str, Kind | None] = {}
    flat = False
    for row_tags, records in rows:
        if records is None:
            continue
        flat = True
        for name, value in row_tags.items():
            tags[name] = widened(tags.get(name), _tag_kind(value))
        for record in records:
            for name, value in record.items():
                fields[name] = widened(fields.get(name), kind_of(value))
    return FlatSchema(tags, fields) if flat else None


# --- the columns -------------------------------------------------------------------------------


class FlatColumns:
    """The columns of one row group in the making: rows appended, then ``take`` answers and clears them."""

    def __init__(self, schema: FlatSchema) -> None:
        self.schema = schema
        self.columns: dict[str, list[Any]] = {name: [] for name in schema.column_names()}
        self.rows = 0

    def add(
        self,
        trace_id: str,
        obj_id: str,
        ts: Any,
        tags: Mapping[str, Any],
        records: list[Record] | None,
        jcr_text: str,
    ) -> None:
        """Append an object: its records as flat rows when they fit the schema, else one row kept whole."""
        cols = self.columns
        if records is None or not self.schema.row_fits(tags, records):
            for values in cols.values():
                values.append(None)
            cols["trace_id"][-1] = trace_id
            cols["obj_id"][-1] = obj_id
            cols["ts"][-1] = ts
            cols[TAGS_COLUMN][-1] = orjson.dumps(dict(tags)).decode()
            cols[DATA_COLUMN][-1] = jcr_text
            self.rows += 1
            return
        n = len(records)
        cols["trace_id"].extend([trace_id] * n)
        cols["obj_id"].extend([obj_id] * n)
        cols["ts"].extend([ts] * n)
        for name, kind in self.schema.tags.items():
            cols[TAG_PREFIX + name].extend([_cell(kind, _tag_number(tags.get(name)))] * n)
        for name, kind in self.schema.fields.items():
            if kind == "json":
                cols[name].extend([_cell(kind, record.get(name)) for record in records])
            elif n == 1:  # pyarrow takes the plain values as they are (ints into float64 too)
                cols[name].append(records[0].get(name))
            else:
                cols[name].extend([record.get(name) for record in records])
        cols[TAGS_COLUMN].extend([None] * n)
        cols[DATA_COLUMN].extend([None] * n)
        self.rows += n

    def take(self) -> dict[str, list[Any]]:
        out = {name: list(values) for name, values in self.columns.items()}
        for values in self.columns.values():
            values.clear()
        self.rows = 0
        return out


def _tag_number(value: Any) -> Any:
    """Tag numbers are floats (as the backend stores them), in a mixed column too."""
    return float(value) if type(value) is int else value


def _cell(kind: Kind | None, value: Any) -> Any:
    if value is None:
        return None
    if kind == "json":
        return orjson.dumps(rt.encode_value(value)).decode()
    if kind == "float":
        return float(value)
    return value


__all__ = [
    "DATA_COLUMN",
    "FLAT_TYPES",
    "FlatColumns",
    "FlatSchema",
    "META_COLUMNS",
    "TAGS_COLUMN",
    "TAG_PREFIX",
    "derive",
    "flat_records",
    "fits",
    "kind_of",
    "widened",
]
