"""The flat Parquet export's columns: a frame read from them equals one decoded row by row with ``load_jcr``.

Pure (no server): export rows are made as the server makes them and written with the
server's own ``parquet_chunks``, with first row groups of a few rows so that later
objects bring fields and kinds the schema lacks (and are kept whole in ``data``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import raymon.types as rt
from raymon.frames import export_frame_from_parquet
from raymon.server.services import export_columns
from raymon.server.services.exports import ExportRow, parquet_chunks

BASE = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = ["a", "b", "c", "d"]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(alphabet="xyz", max_size=3),
)
records = st.dictionaries(st.sampled_from(FIELDS), values, min_size=1)
tag_sets = st.dictionaries(
    st.sampled_from(["client", "n"]), st.one_of(st.integers(-100, 100), st.text(alphabet="pq", max_size=2))
)


@st.composite
def objects(draw: Any) -> rt.RaymonDataType:
    kind = draw(st.sampled_from(["native", "series", "frame"]))
    if kind == "native":
        return rt.Native(draw(records))
    if kind == "series":
        return rt.Series(pd.Series(draw(records)))
    rows = draw(st.lists(records, min_size=1, max_size=3))
    return rt.DataFrame(pd.DataFrame(rows))


def _export_rows(objs: list[rt.RaymonDataType], tags: list[dict[str, Any]]) -> list[ExportRow]:
    return [
        ExportRow(
            trace_id=f"t{i}",
            obj_id=f"o{i}",
            ref="r",
            ts=BASE + timedelta(seconds=i),
            data_type=obj.type_name,
            tags=tags[i % len(tags)],
            data=orjson.dumps(obj.to_jcr()),
        )
        for i, obj in enumerate(objs)
    ]


def reference_frame(rows: list[ExportRow]) -> pd.DataFrame:
    """The reference: every row's jcr through ``rt.load_jcr``, one record per row of the object."""
    out = []
    for row in rows:
        data = rt.load_jcr(orjson.loads(row.data)).data
        if isinstance(data, pd.DataFrame):
            objs = data.to_dict("records")
        elif isinstance(data, pd.Series):
            objs = [data.to_dict()]
        else:
            objs = [data]
        head = {"trace_id": row.trace_id, "obj_id": row.obj_id, "ts": row.ts}
        tags = {f"tags.{k}": float(v) if type(v) is int else v for k, v in row.tags.items()}
        out.extend({**head, **tags, **obj} for obj in objs)
    frame = pd.DataFrame.from_records(out)
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    return frame


def parquet_of(rows: list[ExportRow], row_group_rows: int) -> bytes:
    return b"".join(parquet_chunks(iter(rows), row_group_rows=row_group_rows))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    objs=st.lists(objects(), min_size=1, max_size=12),
    tags=st.lists(tag_sets, min_size=1, max_size=3),
    row_group_rows=st.integers(1, 5),
)
def test_a_frame_of_the_flat_parquet_equals_the_frame_decoded_row_by_row(
    objs: list[rt.RaymonDataType], tags: list[dict[str, Any]], row_group_rows: int
) -> None:
    rows = _export_rows(objs, tags)
    note(f"objects: {[row.data for row in rows]}, tags: {[row.tags for row in rows]}")
    expected = reference_frame(rows)
    frame = export_frame_from_parquet(parquet_of(rows, row_group_rows))
    assert set(frame.columns) == set(expected.columns)
    # A column with no value at all has no type to keep (pandas gives it object or float64 by chance).
    empty = [name for name in expected.columns if expected[name].isna().all()]
    assert all(frame[name].isna().all() for name in empty)
    columns = [name for name in frame.columns if name not in empty]
    pd.testing.assert_frame_equal(frame[columns], expected[columns], check_exact=True)


def test_the_schema_comes_from_the_first_row_group_and_later_misfits_are_kept_whole() -> None:
    objs = [
        rt.Native({"a": 1, "b": "x"}),
        rt.Native({"a": 2.5, "b": "y"}),  # ints and floats: a float column
        rt.Native({"a": 3, "b": 4}),  # later, b a number in a text column: kept whole
        rt.Native({"a": 4, "z": True}),  # later, a field the schema lacks: kept whole
        rt.Native({"a": 5}),  # fits (b missing)
    ]
    rows = _export_rows(objs, [{"client": "p"}])
    table = pq.read_table(pa.BufferReader(parquet_of(rows, row_group_rows=2)))
    assert table.column_names == ["trace_id", "obj_id", "ts", "tags.client", "a", "b", "tags", "data"]
    assert str(table.schema.field("a").type) == "double" and str(table.schema.field("b").type) == "string"
    assert table.column("a").to_pylist() == [1.0, 2.5, None, None, 5.0]
    kept = table.column("data").to_pylist()
    assert [orjson.loads(k)["params"]["data"] if k else None for k in kept] == [
        None,
        None,
        {"a": 3, "b": 4},
        {"a": 4, "z": True},
        None,
    ]
    assert table.column("tags").to_pylist()[2] == '{"client":"p"}'


def test_a_column_of_mixed_kinds_holds_json_text_marked_in_its_metadata() -> None:
    rows = _export_rows([rt.Native({"a": 1}), rt.Native({"a": "x"}), rt.Native({"a": True})], [{}])
    table = pq.read_table(pa.BufferReader(parquet_of(rows, row_group_rows=10)))
    field = table.schema.field("a")
    assert str(field.type) == "string" and field.metadata == {b"raymon.encoding": b"json"}
    assert table.column("a").to_pylist() == ["1", '"x"', "true"]
    assert export_frame_from_parquet(parquet_of(rows, 10))["a"].tolist() == [1, "x", True]


def test_objects_that_cannot_go_flat_are_named_by_flat_records() -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2026-01-01"], utc=True)})
    assert export_columns.flat_records(rt.DataFrame(frame).to_jcr()) is None  # a timestamp column
    assert export_columns.flat_records(rt.Native({"trace_id": 1}).to_jcr()) is None  # clashes with a column
    assert export_columns.flat_records(rt.Native({"a": [1, 2]}).to_jcr()) is None  # a nested value
    assert export_columns.flat_records(rt.Series(pd.Series([1, 2])).to_jcr()) is None  # labels not text
    past_int64 = pd.Series({"a": 2**64 - 1}, dtype="uint64")
    assert export_columns.flat_records(rt.Series(past_int64).to_jcr()) is None  # past int64
    assert export_columns.flat_records(rt.Native({"a": 1, "b": "x"}).to_jcr()) == [{"a": 1, "b": "x"}]


def test_a_ref_of_no_flat_objects_keeps_the_jcr_shape() -> None:
    rows = _export_rows([rt.Native([1, 2]), rt.Native("text")], [{}])
    table = pq.read_table(pa.BufferReader(parquet_of(rows, row_group_rows=10)))
    assert table.column_names == ["trace_id", "obj_id", "ref", "ts", "data_type", "tags", "data"]


def test_the_flat_file_streams_one_row_group_at_a_time() -> None:
    objs = [rt.Native({"a": i, "b": f"x{i}"}) for i in range(7)]
    chunks = list(parquet_chunks(iter(_export_rows(objs, [{"client": "p"}])), row_group_rows=2))
    assert len(chunks) > 2  # bytes handed on as each row group is done, not at the end
    parquet = pq.ParquetFile(pa.BufferReader(b"".join(chunks)))
    assert parquet.metadata.num_row_groups == 4
    assert parquet.read().column("a").to_pylist() == list(range(7))
