"""Objects over HTTP on a real server: logged with the client, fetched back through ``rt.load_jcr`` exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from PIL import Image
from query_events import QueryProject

import raymon.types as rt
from raymon import Trace
from raymon.loggers.api import RaymonAPILogger

ARR = np.arange(12, dtype="float32").reshape(3, 4)
BIG = np.random.default_rng(0).normal(size=(300, 100))  # ~240 KB of JSON: kept in the object store
DF = pd.DataFrame(
    {"a": [1, 2, None], "b": ["x", "y", "z"], "t": pd.to_datetime(["2026-01-01"] * 3, utc=True)}
)
IMG = Image.fromarray(np.arange(64, dtype="uint8").reshape(8, 8))


@pytest.fixture(scope="module")
def project(server: Any) -> QueryProject:
    qp = QueryProject.create(server, "objects")
    logger = RaymonAPILogger(url=server.url, project_id=qp.project_id, api_key=qp.admin_key)
    trace = Trace(logger=logger, trace_id="req-1")
    trace.info("logging objects")
    trace.tag([{"name": "client", "value": "bigshot", "type": "label"}])
    trace.log(ref="numpy-ref", data=rt.Numpy(ARR))
    trace.log(ref="pandas-ref", data=rt.DataFrame(DF))
    trace.log(ref="native-ref", data=rt.Native({"foo": "bar", "whatever": ["you", "want"]}))
    trace.log(ref="image-ref", data=rt.Image(IMG))
    trace.log(ref="big-ref", data=rt.Numpy(BIG))
    other = Trace(logger=logger, trace_id="req-2")
    other.log(ref="numpy-ref", data=rt.Numpy(ARR * 2))
    return qp


def test_object_search_gives_back_what_was_logged_as_the_original_docs_show(project: QueryProject) -> None:
    with project.api() as api:
        resp = api.object_search(project_id=project.project_id, trace_id="req-1", ref="numpy-ref")
        assert resp.ok
        data = resp.json()
        obj_id = data["obj_id"]
        restored = rt.load_jcr(data["obj_data"]).data
    assert isinstance(obj_id, str) and obj_id
    assert restored.dtype == ARR.dtype and np.array_equal(restored, ARR)


@pytest.mark.parametrize("ref", ["pandas-ref", "native-ref", "image-ref", "big-ref"])
def test_every_kind_of_object_round_trips_exactly(project: QueryProject, ref: str) -> None:
    with project.api() as api:
        data = api.object_search(project.project_id, "req-1", ref).json()
    restored = rt.load_jcr(data["obj_data"]).data
    if ref == "pandas-ref":
        pd.testing.assert_frame_equal(restored, DF)
    elif ref == "native-ref":
        assert restored == {"foo": "bar", "whatever": ["you", "want"]}
    elif ref == "image-ref":
        assert restored.mode == IMG.mode and restored.tobytes() == IMG.tobytes()
    else:
        assert np.array_equal(restored, BIG)
        assert data["size"] > 64 * 1024


def test_trace_get_lists_objects_as_references_without_data(project: QueryProject) -> None:
    with project.api() as api:
        trace = api.trace_get(project.project_id, "req-1").json()
    refs = {o["ref"]: o for o in trace["objects"]}
    assert set(refs) == {"numpy-ref", "pandas-ref", "native-ref", "image-ref", "big-ref"}
    assert refs["numpy-ref"]["data_type"] == "raymon.types.Numpy"
    assert all(o["size"] > 0 and "obj_data" not in o for o in trace["objects"])


def test_object_get_by_id_and_as_a_download(project: QueryProject) -> None:
    with project.api() as api:
        found = api.object_search(project.project_id, "req-1", "big-ref").json()
        by_id = api.object_get(project.project_id, found["obj_id"])
        download = api.get(
            f"/api/v1/projects/{project.project_id}/objects/{found['obj_id']}", params={"download": "true"}
        )
    assert by_id.json() == found
    assert "content-disposition" not in by_id.headers
    assert download.headers["content-disposition"] == f'attachment; filename="big-ref-{found["obj_id"]}.json"'
    assert download.json() == found


def test_a_whole_trace_downloads_with_every_objects_data(project: QueryProject) -> None:
    with project.api() as api:
        resp = api.trace_download(project.project_id, "req-1")
    assert resp.status_code == 200
    assert resp.headers["content-disposition"] == 'attachment; filename="trace-req-1.json"'
    trace = orjson.loads(resp.content)
    assert [t["message"] for t in trace["texts"]] == ["logging objects"]
    assert {t["name"]: t["value"] for t in trace["tags"]} == {"client": "bigshot"}
    objects = {o["ref"]: rt.load_jcr(o["obj_data"]).data for o in trace["objects"]}
    assert np.array_equal(objects["numpy-ref"], ARR) and np.array_equal(objects["big-ref"], BIG)


def test_object_ls_filters_by_trace_and_ref_and_pages(project: QueryProject) -> None:
    with project.api() as api:
        by_ref = api.object_ls(project.project_id, ref="numpy-ref").json()
        by_trace = api.object_ls(project.project_id, trace_id="req-2").json()
        seen, cursor = [], None
        while True:
            page = api.object_ls(project.project_id, limit=2, cursor=cursor).json()
            seen += [o["obj_id"] for o in page["objects"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert sorted(o["trace_id"] for o in by_ref["objects"]) == ["req-1", "req-2"]
    assert [o["ref"] for o in by_trace["objects"]] == ["numpy-ref"]
    assert len(seen) == len(set(seen)) == 6


def test_refs_ls_counts_objects_per_ref(project: QueryProject) -> None:
    with project.api() as api:
        refs = {r["ref"]: r for r in api.refs_ls(project.project_id).json()}
    assert refs["numpy-ref"]["count"] == 2
    assert refs["numpy-ref"]["data_types"] == ["raymon.types.Numpy"]
    assert set(refs) == {"numpy-ref", "pandas-ref", "native-ref", "image-ref", "big-ref"}


def test_missing_objects_answer_404_naming_what_is_missing(project: QueryProject) -> None:
    with project.api() as api:
        no_ref = api.object_search(project.project_id, "req-1", "nope-ref")
        no_trace = api.object_search(project.project_id, "nope", "numpy-ref")
        no_id = api.object_get(project.project_id, "00000000-0000-0000-0000-000000000000")
        no_params = api.get(f"/api/v1/projects/{project.project_id}/objects/search")
    assert no_ref.status_code == 404 and "nope-ref" in no_ref.json()["detail"]
    assert no_trace.status_code == 404 and "nope" in no_trace.json()["detail"]
    assert no_id.status_code == 404
    assert no_params.status_code == 422


def test_objects_of_one_project_are_invisible_to_another(project: QueryProject) -> None:
    other = project.server.new_project("object thief")
    with project.api() as api:
        obj_id = api.object_search(project.project_id, "req-1", "numpy-ref").json()["obj_id"]
    with project.api(key=other.admin_key) as api:
        assert api.object_get(project.project_id, obj_id).status_code == 403
        assert api.object_get(other.project_id, obj_id).status_code == 404
