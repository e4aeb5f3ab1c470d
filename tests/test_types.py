"""Round trips of every data wrapper through JSON, as hypothesis properties."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image as PILImage

import raymon.types as rt
from raymon import DataTypeError, ObjectTooLargeError, Trace
from raymon.loggers import RaymonLoggerBase


def through_json(wrapper: rt.RaymonDataType) -> rt.RaymonDataType:
    """What a backend or another process sees: the jcr serialised to bytes and parsed again."""
    return rt.load_jcr(orjson.loads(orjson.dumps(wrapper.to_jcr())))


SCALAR_DTYPES = [
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "bool", "complex64", "complex128", "datetime64[s]", "datetime64[ns]", "timedelta64[ms]", "<U4",
]  # fmt: skip


def numpy_scalars(allow_nan: bool = True) -> st.SearchStrategy:
    """NumPy scalars of every kind (what ``df.iloc[0]`` of a mixed frame or a computation hands a user)."""

    def of(name: str) -> st.SearchStrategy:
        dtype = np.dtype(name)
        if dtype.kind in "fc":
            values = hnp.from_dtype(dtype, allow_nan=allow_nan)
        elif dtype.kind in "mM":  # ticks of the unit; the lowest int64 is NaT
            ticks = st.integers(-(2**40), 2**40)
            if allow_nan:
                ticks = ticks | st.just(np.iinfo(np.int64).min)
            return ticks.map(lambda v: np.array(v, dtype="int64").view(dtype)[()])
        else:
            values = hnp.from_dtype(dtype)
        return values.map(lambda v: np.array(v, dtype=dtype)[()])

    return st.sampled_from(SCALAR_DTYPES).flatmap(of)


def assert_same(back, value):
    """Equal and of the same type, all the way down (a NumPy scalar must not come back as a float)."""
    assert type(back) is type(value), (back, value)
    if isinstance(value, dict):
        assert list(back) == list(value)
        for k in value:
            assert_same(back[k], value[k])
    elif isinstance(value, list):
        assert len(back) == len(value)
        for b, v in zip(back, value, strict=True):
            assert_same(b, v)
    elif isinstance(value, np.generic):
        assert back.dtype == value.dtype
        if value.dtype.kind in "fc" and np.isnan(value):  # any NaN: JSON keeps no sign or payload
            assert np.isnan(back)
        else:
            assert back.tobytes() == value.tobytes()
    else:
        assert back == value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_native_round_trips_json_values(value):
    back = through_json(rt.Native(value))
    assert isinstance(back, rt.Native)
    assert back.data == value


native_values_with_numpy = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | numpy_scalars(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(native_values_with_numpy)
def test_native_round_trips_numpy_scalars_with_their_dtype(value):
    back = through_json(rt.Native(value))
    assert_same(back.data, value)


def test_native_without_numpy_scalars_keeps_its_plain_json_params():
    assert rt.Native({"a": [1, 2.5, "x"]}).to_jcr()["params"] == {"data": {"a": [1, 2.5, "x"]}}


def test_native_with_numpy_scalars_keeps_a_users_dollar_keyed_dict_as_it_was():
    value = {"$np": [1, 2], "score": np.float32(0.25), "rows": [{"$float": "NaN"}]}
    assert_same(through_json(rt.Native(value)).data, value)


def test_native_refuses_values_json_cannot_hold():
    with pytest.raises(DataTypeError, match="JSON-native"):
        rt.Native({"when": object()}).to_jcr()


numpy_dtypes = st.one_of(
    hnp.integer_dtypes(endianness="="),
    hnp.unsigned_integer_dtypes(endianness="="),
    hnp.floating_dtypes(endianness="="),
    hnp.complex_number_dtypes(endianness="="),
    hnp.boolean_dtypes(),
    hnp.datetime64_dtypes(endianness="="),
    hnp.timedelta64_dtypes(endianness="="),
    hnp.unicode_string_dtypes(endianness="=", max_len=5),
    hnp.byte_string_dtypes(max_len=5),
)


@given(hnp.arrays(numpy_dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
def test_numpy_round_trips_every_dtype_and_shape_bit_for_bit(arr):
    back = through_json(rt.Numpy(arr)).data
    assert back.dtype == arr.dtype
    assert back.shape == arr.shape
    assert back.tobytes() == arr.tobytes()


def test_numpy_object_arrays_round_trip():
    arr = np.array([1, "two", None, 3.5, dt.date(2020, 1, 2), decimal.Decimal("1.10")], dtype=object).reshape(
        2, 3
    )
    back = through_json(rt.Numpy(arr)).data
    assert back.dtype == object and back.shape == (2, 3)
    assert back.tolist() == arr.tolist()


# --- DataFrames and Series ---------------------------------------------------------------------


def _column(kind: str, n: int) -> st.SearchStrategy:
    maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
    if kind == "float":
        return st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="float64")
        )
    if kind == "float32":
        return st.lists(st.floats(width=32), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="float32")
        )
    if kind == "int":
        return st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="int64")
        )
    if kind == "uint8":
        return st.lists(st.integers(0, 255), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="uint8")
        )
    if kind == "bool":
        return st.lists(st.booleans(), min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="bool"))
    if kind == "Int64":
        return st.lists(maybe(st.integers(-(2**63), 2**63 - 1)), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="Int64")
        )
    if kind == "boolean":
        return st.lists(maybe(st.booleans()), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="boolean")
        )
    if kind == "str":
        return st.lists(maybe(st.text(max_size=6)), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="str")
        )
    if kind == "string":
        return st.lists(maybe(st.text(max_size=6)), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="string")
        )
    if kind == "object":
        scalar = st.one_of(
            st.none(),
            st.text(max_size=4),
            st.integers(-5, 5),
            st.floats(allow_nan=True),
            st.booleans(),
            numpy_scalars(),
        )
        return st.lists(scalar, min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype=object))
    if kind in ("datetime", "datetime_tz"):
        stamps = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))
        tz = "Europe/Brussels" if kind == "datetime_tz" else None

        def make(v: list) -> pd.Series:
            s = pd.Series(pd.to_datetime(v))
            return s.dt.tz_localize("UTC").dt.tz_convert(tz) if tz else s

        return st.lists(maybe(stamps), min_size=n, max_size=n).map(make)
    if kind == "timedelta":
        return st.lists(maybe(st.integers(-(10**15), 10**15)), min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.to_timedelta(v))
        )
    if kind == "category":
        cats = ["low", "mid", "hígh", "漢"]
        return st.tuples(st.lists(maybe(st.sampled_from(cats)), min_size=n, max_size=n), st.booleans()).map(
            lambda t: pd.Series(pd.Categorical(t[0], categories=cats, ordered=t[1]))
        )
    raise AssertionError(kind)


KINDS = [
    "float", "float32", "int", "uint8", "bool", "Int64", "boolean", "str", "string", "object",
    "datetime", "datetime_tz", "timedelta", "category",
]  # fmt: skip


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    kinds = draw(st.lists(st.sampled_from(KINDS), max_size=6))
    names = draw(
        st.lists(
            st.one_of(st.text(max_size=5), st.integers(-3, 100)),
            min_size=len(kinds),
            max_size=len(kinds),
            unique=True,
        )
    )
    data = {
        name: draw(_column(kind, n)).reset_index(drop=True) for name, kind in zip(names, kinds, strict=True)
    }
    df = pd.DataFrame(data) if data else pd.DataFrame(index=pd.RangeIndex(n))
    if draw(st.booleans()) and n:
        df.index = pd.Index(draw(st.lists(st.text(max_size=3), min_size=n, max_size=n)), name="idx")
    return df


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_dataframe_round_trip_keeps_dtypes_missing_values_timezones_and_names(df):
    back = through_json(rt.DataFrame(df)).data
    pd.testing.assert_frame_equal(back, df, check_exact=True)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(KINDS).flatmap(lambda kind: _column(kind, 4)),
    st.one_of(st.none(), st.text(max_size=4), st.integers()),
)
def test_series_round_trip_keeps_dtype_and_name(series, name):
    series.name = name
    back = through_json(rt.Series(series)).data
    pd.testing.assert_series_equal(back, series, check_exact=True)


@st.composite
def mixed_frame_rows(draw: st.DrawFn) -> pd.Series:
    """A row of a frame of several dtypes, ``df.iloc[i]``: an object Series of NumPy scalars and more."""
    n = draw(st.integers(1, 4))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=2, max_size=6))
    data = {f"c{i}": draw(_column(kind, n)).reset_index(drop=True) for i, kind in enumerate(kinds)}
    return pd.DataFrame(data).iloc[draw(st.integers(0, n - 1))]


def _assert_same_values(back: pd.Series, series: pd.Series) -> None:
    assert [type(v) for v in back] == [type(v) for v in series]
    for b, v in zip(back, series, strict=True):
        if isinstance(v, np.generic):
            assert_same(b, v)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_frame_rows())
def test_a_row_of_a_mixed_frame_logs_and_round_trips_with_its_numpy_scalars(row):
    sink = _Sink()
    Trace(sink).log("request_data", rt.Series(row))  # the original Raymon's demo logs exactly this
    back = rt.load_jcr(orjson.loads(orjson.dumps(sink.events[0]["data"]))).data
    pd.testing.assert_series_equal(back, row, check_exact=True)
    _assert_same_values(back, row)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(numpy_scalars(), min_size=1, max_size=5))
def test_object_columns_of_numpy_scalars_keep_each_scalars_dtype(values):
    series = pd.Series(values, dtype=object)
    back = through_json(rt.Series(series)).data
    _assert_same_values(back, series)
    frame = through_json(rt.DataFrame(pd.DataFrame({"x": series}))).data
    _assert_same_values(frame["x"], series)


def test_the_mixed_frame_row_of_the_issue_logs():
    df = pd.DataFrame({"price": [1.5], "rooms": [3], "city": ["Gent"], "new": [True]})
    row = df.iloc[0]
    assert isinstance(row["price"], np.float64)
    sink = _Sink()
    Trace(sink).log("request_data", rt.Series(row))
    back = rt.load_jcr(sink.events[0]["data"]).data
    assert [type(v) for v in back] == [np.float64, np.int64, str, np.bool_]


def test_long_double_scalars_keep_every_bit():
    value = np.longdouble(1) / np.longdouble(3)
    back = through_json(rt.Native({"third": value})).data["third"]
    assert type(back) is np.longdouble and back == value


def test_dataframe_examples_from_the_issue():
    df = pd.DataFrame(
        {
            "price": [1.5, np.nan, 3.0],
            "when": pd.to_datetime(["2021-01-01 10:00", None, "2021-06-01 00:00"]).tz_localize(
                "America/New_York"
            ),
            "naive": pd.to_datetime(["2021-01-01", "2021-01-02", None]),
            "city": pd.Categorical(["Gent", None, "Brussel"]),
            "name": ["Zoë", None, "مرحبا"],
            0: [1, 2, 3],
            ("tuple", "name"): [None, "x", "y"],
        }
    )
    back = through_json(rt.DataFrame(df)).data
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    empty = pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="str")})
    pd.testing.assert_frame_equal(through_json(rt.DataFrame(empty)).data, empty)
    pd.testing.assert_frame_equal(through_json(rt.DataFrame(pd.DataFrame())).data, pd.DataFrame())


def test_multiindex_and_datetime_index_round_trip():
    idx = pd.MultiIndex.from_arrays([["a", "a", "b"], [1, 2, 1]], names=["letter", "number"])
    df = pd.DataFrame({"v": [0.1, 0.2, 0.3]}, index=idx)
    pd.testing.assert_frame_equal(through_json(rt.DataFrame(df)).data, df)
    ts = pd.Series([1, 2, 3], index=pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC"), name="daily")
    back = through_json(rt.Series(ts)).data
    pd.testing.assert_series_equal(back, ts)
    assert back.index.freq == ts.index.freq


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(["L", "RGB", "RGBA", "I;16", "1", "LA", "I", "F", "P", "CMYK"]),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    seed=st.integers(0, 2**32 - 1),
)
def test_image_round_trip_keeps_mode_size_and_pixels(mode, size, seed):
    rng = np.random.default_rng(seed)
    img = PILImage.new(mode, size)
    img.frombytes(rng.integers(0, 256, size=len(img.tobytes()), dtype=np.uint8).tobytes())
    if mode == "P":
        img.putpalette(list(range(256)) * 3)
    back = through_json(rt.Image(img)).data
    assert back.mode == img.mode and back.size == img.size
    assert back.tobytes() == img.tobytes()
    if mode == "P":
        assert back.getpalette() == img.getpalette()


def test_wrappers_refuse_the_wrong_kind_of_data_clearly():
    with pytest.raises(DataTypeError, match="pandas.DataFrame"):
        rt.DataFrame([1, 2])
    with pytest.raises(DataTypeError, match="numpy.ndarray"):
        rt.Numpy([1, 2])
    with pytest.raises(DataTypeError, match="PIL"):
        rt.Image(np.zeros((2, 2)))


class Point(rt.RaymonDataType):
    """A user's own wrapper, defined outside the library."""

    def to_jcr(self):
        return {"type": self.class2str(), "params": {"x": self.data[0], "y": self.data[1]}}

    @classmethod
    def from_jcr(cls, params):
        return cls((params["x"], params["y"]))


def test_a_users_own_wrapper_is_found_again_by_load_jcr():
    jcr = Point((1, 2)).to_jcr()
    assert jcr["type"] == f"{__name__}.Point"
    back = rt.load_jcr(orjson.loads(orjson.dumps(jcr)))
    assert isinstance(back, Point) and back.data == (1, 2)


def test_a_users_wrapper_in_a_module_not_yet_imported_is_imported_by_load_jcr(tmp_path, monkeypatch):
    (tmp_path / "my_wrappers_mod.py").write_text(
        "import raymon.types as rt\n"
        "class Word(rt.RaymonDataType):\n"
        "    def to_jcr(self):\n"
        "        return {'type': self.class2str(), 'params': self.data}\n"
        "    @classmethod\n"
        "    def from_jcr(cls, params):\n"
        "        return cls(params)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    back = rt.load_jcr({"type": "my_wrappers_mod.Word", "params": "hello"})
    assert type(back).__name__ == "Word" and back.data == "hello"


def test_load_jcr_names_an_unknown_type():
    with pytest.raises(DataTypeError, match="no_such_module"):
        rt.load_jcr({"type": "no_such_module.Thing", "params": {}})
    with pytest.raises(DataTypeError, match="jcr"):
        rt.load_jcr({"params": {}})


class _Sink(RaymonLoggerBase):
    def __init__(self, **kw):
        super().__init__(project_id="p", **kw)
        self.events: list = []

    def emit(self, event):
        self.events.append(event)


def test_objects_over_the_size_limit_are_refused_at_log_and_nothing_is_emitted(monkeypatch):
    sink = _Sink(max_object_bytes=1000)
    trace = Trace(sink)
    with pytest.raises(ObjectTooLargeError, match="limit of 1000 bytes"):
        trace.log("big", rt.Numpy(np.zeros(1000)))
    assert sink.events == []
    trace.log("small", rt.Numpy(np.zeros(3)))
    assert len(sink.events) == 1
    monkeypatch.setenv("RAYMON_MAX_OBJECT_BYTES", "200")
    with pytest.raises(ObjectTooLargeError, match="RAYMON_MAX_OBJECT_BYTES"):
        Trace(_Sink()).log("env", rt.Native("x" * 500))
