"""Dataset exports over HTTP on a real server: NDJSON and Parquet content, filters, streaming to a file."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest
from query_events import QueryProject, event, tags_event

import raymon.types as rt

BASE = datetime(2026, 4, 1, tzinfo=UTC)
N = 30


def _vector(i: int) -> np.ndarray:
    return np.full(3, i, dtype="int64")


@pytest.fixture(scope="module")
def project(server: Any) -> QueryProject:
    qp = QueryProject.create(server, "exports")
    events = []
    for i in range(N):
        ts = (BASE + timedelta(seconds=i)).isoformat()
        trace_id = f"e{i:02d}"
        events.append(tags_event(trace_id, ts, {"client": "bigshot" if i % 3 == 0 else "small", "i": i}))
        events.append(event(trace_id, "object", ts, ref="features", data=rt.Numpy(_vector(i)).to_jcr()))
        if i % 2 == 0:
            events.append(event(trace_id, "object", ts, ref="other", data=rt.Native(i).to_jcr()))
    qp.ingest(events)
    return qp


def _ndjson(project: QueryProject, **kwargs: Any) -> list[dict[str, Any]]:
    with project.api() as api:
        resp = api.export(project.project_id, "features", **kwargs)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in resp.content.splitlines()]


def test_ndjson_export_has_one_line_per_object_with_trace_id_tags_and_data(project: QueryProject) -> None:
    rows = _ndjson(project)
    assert [r["trace_id"] for r in rows] == [f"e{i:02d}" for i in range(N)]
    for i, row in enumerate(rows):
        assert row["ref"] == "features" and row["data_type"] == "raymon.types.Numpy"
        assert row["tags"] == {"client": "bigshot" if i % 3 == 0 else "small", "i": i}
        assert np.array_equal(rt.load_jcr(row["data"]).data, _vector(i))


def test_export_keeps_only_the_traces_the_filter_and_time_range_select(project: QueryProject) -> None:
    rows = _ndjson(project, slicestr="client==bigshot && i>=9")
    assert [r["trace_id"] for r in rows] == [f"e{i:02d}" for i in range(9, N, 3)]
    rows = _ndjson(project, begin=BASE + timedelta(seconds=5), end=BASE + timedelta(seconds=8))
    assert [r["trace_id"] for r in rows] == ["e05", "e06", "e07"]


def test_parquet_export_holds_the_same_rows(project: QueryProject) -> None:
    with project.api() as api:
        resp = api.export(project.project_id, "features", slicestr="client==small", format="parquet")
    assert resp.status_code == 200, resp.text
    table = pq.read_table(io.BytesIO(resp.content))
    assert table.column_names == ["trace_id", "obj_id", "ref", "ts", "data_type", "tags", "data"]
    rows = table.to_pylist()
    expected = [i for i in range(N) if i % 3]
    assert [r["trace_id"] for r in rows] == [f"e{i:02d}" for i in expected]
    for i, row in zip(expected, rows, strict=True):
        assert row["ts"] == BASE + timedelta(seconds=i)
        assert orjson.loads(row["tags"]) == {"client": "small", "i": i}
        assert np.array_equal(rt.load_jcr(orjson.loads(row["data"])).data, _vector(i))


def test_export_streams_to_a_file(project: QueryProject, tmp_path: Path) -> None:
    path = tmp_path / "features.parquet"
    with project.api() as api:
        resp = api.export(project.project_id, "features", format="parquet", path=path)
    assert resp.status_code == 200
    assert pq.read_table(path).num_rows == N
    assert 'filename="' in resp.headers["content-disposition"]


def test_a_ref_no_object_has_is_a_404_naming_the_refs_there_are(project: QueryProject) -> None:
    with project.api() as api:
        for fmt in ("ndjson", "parquet"):
            resp = api.export(project.project_id, "featurs", format=fmt)
            assert resp.status_code == 404, resp.text
            assert resp.json() == {
                "detail": f"no object in project {project.project_id!r} has ref 'featurs'; refs: features, other"
            }


def test_a_ref_whose_objects_the_filter_leaves_out_is_an_empty_200(project: QueryProject) -> None:
    assert _ndjson_any(project, "features", slicestr="i > 1000") == b""


def test_the_refs_named_in_a_404_are_bounded(server: Any) -> None:
    qp = QueryProject.create(server, "many-refs")
    ts = BASE.isoformat()
    qp.ingest([event("m", "object", ts, ref=f"r{i:02d}", data=rt.Native(i).to_jcr()) for i in range(25)])
    with qp.api() as api:
        resp = api.export(qp.project_id, "nope")
    assert resp.status_code == 404
    listed = resp.json()["detail"].split("refs: ")[1]
    assert listed == ", ".join(f"r{i:02d}" for i in range(20)) + ", ..."


def test_bad_requests_are_422(project: QueryProject) -> None:
    with project.api() as api:
        bad_filter = api.export(project.project_id, "features", slicestr="client==")
        bad_format = api.export(project.project_id, "features", format="csv")
        no_ref = api.get(f"/api/v1/projects/{project.project_id}/export")
        failed_file = api.export(project.project_id, "features", slicestr="(", path=Path("/nonexistent/x"))
    assert bad_filter.status_code == 422 and "position 9" in bad_filter.json()["detail"]
    assert bad_format.status_code == 422 and "format" in bad_format.text
    assert no_ref.status_code == 422 and "ref" in no_ref.text
    assert failed_file.status_code == 422


def _ndjson_any(project: QueryProject, ref: str, **kwargs: Any) -> bytes:
    with project.api() as api:
        resp = api.export(project.project_id, ref, **kwargs)
    assert resp.status_code == 200
    return resp.content
