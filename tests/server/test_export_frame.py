"""``RaymonAPI.export_frame``: an export back into one pandas DataFrame, against a real server."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from query_events import QueryProject, event, tags_event

import raymon.types as rt

BASE = datetime(2026, 5, 1, tzinfo=UTC)
N = 12
MIXED = pd.DataFrame(
    {
        "price": [100.0 + i / 4 for i in range(N)],
        "rooms": list(range(N)),
        "city": [["Gent", "Brussel", "Luik"][i % 3] for i in range(N)],
        "new": [i % 2 == 0 for i in range(N)],
    }
)


def _frame(i: int) -> pd.DataFrame:
    """Two rows per object: float with a NaN, nullable ints, a categorical and zoned datetimes."""
    return pd.DataFrame(
        {
            "x": [float(i), np.nan],
            "n": pd.array([i, None], dtype="Int64"),
            "kind": pd.Categorical(["a", "b"], categories=["a", "b", "c"]),
            "at": pd.to_datetime([BASE + timedelta(hours=i)] * 2).tz_convert("Europe/Brussels"),
        }
    )


def _client(i: int) -> str:
    return "bigshot" if i % 3 == 0 else "small"


@pytest.fixture(scope="module")
def project(server: Any) -> QueryProject:
    qp = QueryProject.create(server, "export-frame")
    events = []
    for i in range(N):
        ts = (BASE + timedelta(seconds=i)).isoformat()
        trace_id = f"f{i:02d}"
        events.append(tags_event(trace_id, ts, {"client": _client(i), "i": i}))
        row = MIXED.iloc[i]  # an object Series of NumPy scalars, as the original Raymon's demo logs
        events.append(event(trace_id, "object", ts, ref="row", data=rt.Series(row).to_jcr()))
        events.append(event(trace_id, "object", ts, ref="frame", data=rt.DataFrame(_frame(i)).to_jcr()))
        native = {"score": 0.5 * i, "label": f"l{i}"} if i != 5 else {"score": 2.5, "extra": True}
        events.append(event(trace_id, "object", ts, ref="dict", data=rt.Native(native).to_jcr()))
        events.append(event(trace_id, "object", ts, ref="vector", data=rt.Numpy(np.arange(i)).to_jcr()))
    qp.ingest(events)
    return qp


@pytest.fixture(params=["parquet", "ndjson"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways ``export_frame`` reads an export: Parquet (pyarrow there) and NDJSON (pyarrow missing)."""
    if request.param == "ndjson":
        monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import pyarrow.parquet fails
    return str(request.param)


def test_a_series_ref_answers_one_row_per_trace_with_tags_as_columns_and_the_rows_dtypes(project, decoder):
    with project.api() as api:
        frame = api.export_frame(project.project_id, "row", filter="client==small")
    kept = [i for i in range(N) if _client(i) == "small"]
    assert list(frame.columns) == ["trace_id", "obj_id", "ts", "tags.client", "tags.i", *MIXED.columns]
    assert frame["trace_id"].tolist() == [f"f{i:02d}" for i in kept]
    assert (frame["tags.client"] == "small").all() and frame["tags.i"].tolist() == kept
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert frame["ts"].tolist() == [BASE + timedelta(seconds=i) for i in kept]
    expected = MIXED.iloc[kept].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame[list(MIXED.columns)], expected, check_exact=True)


def test_a_dataframe_ref_answers_every_row_of_every_object_with_dtypes_kept(project, decoder):
    with project.api() as api:
        frame = api.export_frame(project.project_id, "frame")
    assert len(frame) == 2 * N
    assert frame["trace_id"].tolist() == [f"f{i:02d}" for i in range(N) for _ in (0, 1)]
    expected = pd.concat([_frame(i) for i in range(N)], ignore_index=True)
    pd.testing.assert_frame_equal(frame[list(expected.columns)], expected, check_exact=True)


def test_objects_of_another_layout_keep_their_values_and_the_others_get_missing_ones(project, decoder):
    with project.api() as api:
        frame = api.export_frame(project.project_id, "dict")
    assert frame["score"].tolist() == [0.5 * i if i != 5 else 2.5 for i in range(N)]
    assert frame["label"].tolist()[:5] == [f"l{i}" for i in range(5)] and pd.isna(frame["label"][5])
    assert frame["extra"][5] is True or frame["extra"][5] == True  # noqa: E712
    assert frame["extra"].drop(index=5).isna().all()


def test_other_data_types_come_back_as_one_column_of_the_loaded_objects(project, decoder):
    with project.api() as api:
        frame = api.export_frame(project.project_id, "vector", filter="i >= 10")
    assert frame["trace_id"].tolist() == ["f10", "f11"]
    assert [a.tolist() for a in frame["data"]] == [list(range(10)), list(range(11))]


def test_a_ref_nothing_was_logged_under_is_refused_with_a_404(project, decoder):
    import httpx

    with project.api() as api, pytest.raises(httpx.HTTPStatusError) as caught:
        api.export_frame(project.project_id, "no-such-ref")
    assert caught.value.response.status_code == 404
    assert "refs: dict, frame, row, vector" in caught.value.response.text


def test_a_filter_that_selects_nothing_answers_an_empty_frame_with_the_trace_columns(project, decoder):
    with project.api() as api:
        frame = api.export_frame(project.project_id, "row", filter="i > 1000")
    assert len(frame) == 0 and list(frame.columns)[:3] == ["trace_id", "obj_id", "ts"]


def test_the_parquet_export_of_a_series_ref_has_flat_typed_columns(project):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with project.api() as api:
        resp = api.export(project.project_id, "row", format="parquet")
    assert resp.status_code == 200, resp.text
    table = pq.read_table(pa.BufferReader(resp.content))
    assert table.column_names == [
        "trace_id", "obj_id", "ts", "tags.client", "tags.i", "price", "rooms", "city", "new", "tags", "data"
    ]  # fmt: skip
    types = {f.name: str(f.type) for f in table.schema}
    assert types["tags.i"] == "double" and types["tags.client"] == "string"
    assert (types["price"], types["rooms"], types["city"], types["new"]) == (
        "double",
        "int64",
        "string",
        "bool",
    )
    assert table.column("data").null_count == N  # every row flat, none kept whole
    assert table.column("rooms").to_pylist() == list(range(N))


def test_the_parquet_export_keeps_whole_the_objects_that_do_not_fit_its_columns(project):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with project.api() as api:
        resp = api.export(project.project_id, "dict", format="parquet")
    table = pq.read_table(pa.BufferReader(resp.content))
    assert {"score", "label", "extra"} <= set(table.column_names)  # one first batch: every field flat
    assert table.column("data").null_count == N
    with project.api() as api:
        resp = api.export(project.project_id, "frame", format="parquet")
    table = pq.read_table(pa.BufferReader(resp.content))  # nullable ints, categoricals, time zones
    assert "data_type" in table.column_names  # no object can go flat: the jcr columns
    assert table.num_rows == N and table.column("data").null_count == 0
    assert rt.DataFrame.from_jcr(orjson.loads(table.column("data")[0].as_py())["params"]).data.equals(
        _frame(0)
    )
    with project.api() as api:
        resp = api.export(project.project_id, "vector", format="parquet")
    table = pq.read_table(pa.BufferReader(resp.content))
    assert table.column_names == ["trace_id", "obj_id", "ref", "ts", "data_type", "tags", "data"]


def test_a_bad_filter_is_refused_by_the_backend(project, decoder):
    import httpx

    with project.api() as api, pytest.raises(httpx.HTTPStatusError):
        api.export_frame(project.project_id, "row", filter="client ==")
