"""One bad record is refused by its index, never a failed batch: timestamps, versions, nesting, big ints.

Each class of bad input is sent on every record path that takes it (wire
events, the shipper shapes wrapping them, the original client's records),
next to good records, through a real server.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import orjson
import pytest
from server_helpers import counts, obj, text

from raymon.server.services.ingest import check_records
from raymon.server.settings import Settings

OUT_OF_RANGE_TS = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
OUT_OF_RANGE_SECONDS = [1e20, -1e20, 1e300, -(2**63)]


def _post(server, project, records: list[Any]):  # type: ignore[no-untyped-def]
    with server.client(project.admin_key) as client:
        return client.post(f"/api/v1/projects/{project.project_id}/ingest", content=orjson.dumps(records))


def _shipped(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The same event as Fluent Bit (``log``) and Vector (``message``) wrap it."""
    line = orjson.dumps(event).decode()
    return [{"date": 1.5, "log": line}, {"message": line, "source_type": "file", "host": "web1"}]


def _legacy(pid: str, timestamp: Any) -> list[dict[str, Any]]:
    """The original client's batch record, single post and file line, all carrying ``timestamp``."""
    return [
        {
            "dtype": "info",
            "timestamp": timestamp,
            "trace_id": "t",
            "project_id": pid,
            "ref": None,
            "data": "x",
        },
        {"timestamp": timestamp, "trace_id": "t", "ref": None, "data": "hello"},
        {"type": "info", "jcr": {"timestamp": timestamp, "trace_id": "t", "data": "line"}},
    ]


def _assert_only_good_stored(server, project, response, bad: list[int], good: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 207, response.text
    body = response.json()
    assert [r["index"] for r in body["rejected"]] == bad
    for rejection in body["rejected"]:
        assert reason in rejection["error"], rejection
    assert body["accepted"] == good
    assert counts(server, project.project_id)["events"] == good


def test_timestamps_out_of_range_in_utc_are_refused_by_index_on_every_path(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    bad: list[dict[str, Any]] = []
    for ts in OUT_OF_RANGE_TS:
        event = {**text(pid, "t"), "ts": ts}
        bad += [event, *_shipped({**event, "event_id": str(uuid.uuid4())}), *_legacy(pid, ts)]
    for seconds in OUT_OF_RANGE_SECONDS:
        bad += _legacy(pid, seconds)
    records = [text(pid, "good-1"), *bad, text(pid, "good-2")]
    response = _post(server, project, records)
    _assert_only_good_stored(server, project, response, list(range(1, len(bad) + 1)), 2, "out of range")


def test_a_nan_or_infinite_timestamp_line_is_refused_by_its_index(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    good = orjson.dumps(text(pid, "good"))
    lines = [good]
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        lines.append(b'{"dtype": "info", "timestamp": %s, "trace_id": "t", "data": "x"}' % literal)
    with server.client(project.admin_key) as client:
        response = client.post(
            f"/api/v1/projects/{pid}/ingest",
            content=b"\n".join(lines),
            headers={"Content-Type": "application/x-ndjson"},
        )
    _assert_only_good_stored(server, project, response, [1, 2, 3, 4], 1, "not JSON")


def test_v_must_be_the_integer_1_not_true_nor_1_0(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    bad = [{**text(pid, "t"), "v": True}, {**text(pid, "t"), "v": 1.0}]
    bad += _shipped({**text(pid, "t"), "v": True})
    response = _post(server, project, [text(pid, "good"), *bad])
    _assert_only_good_stored(server, project, response, [1, 2, 3, 4], 1, "v must be 1")


def test_object_data_nested_too_deep_to_store_is_refused_by_its_index(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    jcr = {"type": "raymon.types.Native", "params": {"data": "@@"}}
    records = [
        text(pid, "good"),
        {**obj(pid, "t", "deep", None), "data": jcr},
        text(pid, "good-2"),
        {"dtype": "data", "timestamp": 1.0, "trace_id": "t", "ref": "deep", "data": jcr},
    ]
    # orjson reads 1024 levels but writes only 254: spliced in as text, as another client would send it
    deep = b"[" * 300 + b"1" + b"]" * 300
    body = orjson.dumps(records).replace(b'"@@"', deep)
    with server.client(project.admin_key) as client:
        response = client.post(f"/api/v1/projects/{pid}/ingest", content=body)
    _assert_only_good_stored(server, project, response, [1, 3], 2, "cannot be stored as JSON")


def test_a_line_nested_past_what_json_readers_take_is_refused_by_its_index(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    deep = b'{"v": 1, "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    body = b"\n".join([orjson.dumps(text(pid, "a")), deep, orjson.dumps(text(pid, "b"))])
    with server.client(project.admin_key) as client:
        response = client.post(
            f"/api/v1/projects/{pid}/ingest", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
    _assert_only_good_stored(server, project, response, [1], 2, "line 2 is not JSON")


def test_an_integer_over_64_bits_in_object_data_never_fails_the_batch(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    placeholder = obj(pid, "t", "big", "@@")
    big = orjson.dumps(placeholder).replace(b'"@@"', str(2**70).encode())
    body = b"[" + orjson.dumps(text(pid, "good")) + b"," + big + b"]"
    with server.client(project.admin_key) as client:
        response = client.post(f"/api/v1/projects/{pid}/ingest", content=body)
    assert response.status_code == 200, response.text  # orjson reads it as a float (documented)
    assert counts(server, pid)["events"] == 2


def test_the_per_record_boundary_refuses_what_cannot_be_written_as_json() -> None:
    settings = Settings()
    good, fine = text("p", "t"), obj("p", "t", "ok", 1)
    big = obj("p", "t", "big", 2**70)  # what a caller of the service (demo, tests) could hand in
    checked = check_records([good, big, fine], "p", settings)
    assert [e["event_id"] for e in checked.events] == [good["event_id"], fine["event_id"]]
    assert checked.indices == [0, 2]
    assert checked.rejected == [
        {"index": 1, "error": "the record cannot be stored as JSON: Integer exceeds 64-bit range"}
    ]


@pytest.mark.parametrize("kind", ["data", "info"])
def test_the_same_legacy_record_sent_to_two_projects_is_stored_in_each(server, kind: str) -> None:  # type: ignore[no-untyped-def]
    staging, production = server.new_project(), server.new_project()
    data: Any = {"type": "raymon.types.Native", "params": {"data": [1, 2]}} if kind == "data" else "hi"
    record = {
        "dtype": kind,
        "timestamp": "2021-03-01T10:00:00",
        "trace_id": "t1",
        "ref": "input",
        "data": data,
    }
    for project in (staging, production):
        response = _post(server, project, [record])
        assert response.json() == {"accepted": 1, "duplicates": 0, "conflicts": [], "rejected": []}, (
            response.text
        )
        assert _post(server, project, [record]).json()["duplicates"] == 1
        assert counts(server, project.project_id)["events"] == 1


def test_nan_and_infinity_in_a_json_array_refuse_only_their_records(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    before = text(pid, "stored-before")
    assert _post(server, project, [before]).status_code == 200
    records = [
        text(pid, "good-1"),
        obj(pid, "t", "score", float("nan")),
        text(pid, "good-2"),
        obj(pid, "t", "limit", float("inf")),
        {"dtype": "info", "timestamp": float("-inf"), "trace_id": "t", "data": "x"},
        text(pid, "good-3"),
    ]
    body = json.dumps(records).encode()  # Python's json writes NaN, Infinity, -Infinity: not JSON
    with server.client(project.admin_key) as client:
        response = client.post(f"/api/v1/projects/{pid}/ingest", content=body)
    assert response.status_code == 207, response.text
    rejected = response.json()["rejected"]
    assert [(r["index"], r["error"].split(",")[0]) for r in rejected] == [
        (1, "the record holds NaN"),
        (3, "the record holds Infinity"),
        (4, "the record holds -Infinity"),
    ]
    assert all("not JSON" in r["error"] for r in rejected)
    assert response.json()["accepted"] == 3
    assert counts(server, pid)["events"] == 4  # the three good ones and the one stored before
    assert _post(server, project, [before]).json()["duplicates"] == 1  # what was stored before is intact


def test_a_record_nested_too_deep_in_a_json_array_refuses_only_itself(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    deep = b"[" * 5000 + b"]" * 5000  # past orjson's 1024 levels and Python's recursion limit
    tricky = orjson.dumps(obj(pid, "t", "brackets", {"s": "]]]}}}[[[", "q": 'a \\" ]'}))
    body = b'[%s, %s, %s, {"v": 1, "data": %s}, %s]' % (
        orjson.dumps(text(pid, "good-1")),
        deep,
        tricky,  # brackets inside strings after a deep record do not end it early
        deep,
        orjson.dumps(text(pid, "good-2")),
    )
    with server.client(project.admin_key) as client:
        response = client.post(f"/api/v1/projects/{pid}/ingest", content=body)
    _assert_only_good_stored(server, project, response, [1, 3], 3, "nested too deeply")


@pytest.mark.parametrize(
    "body",
    [
        b'[{"v": 1}, {"v": NaN}',  # truncated
        b'[{"v": 1} {"v": NaN}]',  # a missing comma: where the record ends is unknown
        b'{"v": 1, "x": NaN}',  # one event, not an array
        b'[{"v": NaN}] trailing',
    ],
)
def test_a_body_that_is_not_one_json_array_is_still_refused_whole(server, body: bytes) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    with server.client(project.admin_key) as client:
        response = client.post(f"/api/v1/projects/{project.project_id}/ingest", content=body)
    assert response.status_code == 422, response.text
    assert response.json()["rejected"] == [{"index": 0, "error": response.json()["rejected"][0]["error"]}]
    assert response.json()["rejected"][0]["error"].startswith("the body is not JSON")
    assert counts(server, project.project_id)["events"] == 0
