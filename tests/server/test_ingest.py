"""The ingest API against a real server: formats, idempotency (also under races), partial batches, storage."""

from __future__ import annotations

import gzip
import threading
import uuid
from pathlib import Path

import orjson
from server_helpers import BASE_TS, counts, obj, tags, text
from sqlalchemy import select

import raymon.types as rt
from raymon import RaymonFileLogger, Trace
from raymon.loggers import RaymonAPILogger
from raymon.server.store.models import DataObject, Tag
from raymon.server.store.models import Trace as TraceRow


def post(server, project, body, content_type="application/json", **headers):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with server.client(project.admin_key) as client:
        return client.post(
            f"/api/v1/projects/{project.project_id}/ingest",
            content=raw,
            headers={**({"Content-Type": content_type} if content_type else {}), **headers},
        )


def test_one_event_is_stored_and_answered_200(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    response = post(server, project, text(project.project_id, "t1"))
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "conflicts": [], "rejected": []}
    assert counts(server, project.project_id) == {
        "events": 1,
        "traces": 1,
        "tags": 0,
        "texts": 1,
        "objects": 0,
    }


def test_the_api_logger_and_trace_reach_the_core_tables(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    logger = RaymonAPILogger(url=server.url, project_id=project.project_id, api_key=project.admin_key)
    trace = Trace(logger, trace_id="from-logger")
    trace.info("started")
    trace.tag([{"name": "client", "value": "bigshot", "type": "label"}])
    logger.close()
    assert counts(server, project.project_id) == {
        "events": 2,
        "traces": 1,
        "tags": 1,
        "texts": 1,
        "objects": 0,
    }


def test_the_file_loggers_lines_are_stored_as_they_are_written(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The file logger builds its lines itself (caller's tag lists as they are): the server takes them whole."""
    project = server.new_project()
    logger = RaymonFileLogger(tmp_path, project_id=project.project_id)
    trace = Trace(logger, trace_id="from-file")
    scores = [
        {"name": "score", "value": 0.5, "type": "metric", "group": "m@1"},
        {"name": "who", "value": "big", "type": "label", "group": None},
    ]
    trace.tag(scores)  # checked in full
    trace.tag(
        [{"group": "m@1", "value": 0.75, "type": "metric", "name": "score"}]
    )  # known labels, keys reordered
    trace.info("served")
    trace.log("input", rt.Native({"a": [1, 2]}))
    logger.close()
    lines = b"".join(f.read_bytes() for f in sorted(tmp_path.glob("raymon-*.ndjson")))
    response = post(server, project, lines, "application/x-ndjson")
    assert response.json() == {"accepted": 4, "duplicates": 0, "conflicts": [], "rejected": []}
    assert (
        post(server, project, lines, "application/x-ndjson").json()["duplicates"] == 4
    )  # same content hashes
    database = server.database()
    with database.session() as session:
        rows = {r.name: r for r in session.scalars(select(Tag).where(Tag.project_id == project.project_id))}
    database.dispose()
    assert (rows["score"].value_num, rows["who"].value_text) == (0.75, "big")
    assert counts(server, project.project_id) == {
        "events": 4,
        "traces": 1,
        "tags": 2,
        "texts": 1,
        "objects": 1,
    }


def test_a_json_array_of_every_kind_is_stored_with_the_trace_span(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    events = [text(pid, "t1", at=10), tags(pid, "t1", {"a": 1}, at=5), obj(pid, "t1", "input", [1, 2], at=30)]
    response = post(server, project, events)
    assert response.json() == {"accepted": 3, "duplicates": 0, "conflicts": [], "rejected": []}
    database = server.database()
    with database.session() as session:
        row = session.scalars(select(TraceRow).where(TraceRow.project_id == pid)).one()
    database.dispose()
    assert (row.first_ts - BASE_TS).total_seconds() == 5
    assert (row.last_ts - BASE_TS).total_seconds() == 30


def test_ndjson_is_accepted_with_or_without_its_content_type(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    lines = b"\n".join(orjson.dumps(text(pid, f"t{i}")) for i in range(3)) + b"\n"
    assert post(server, project, lines, "application/x-ndjson").json()["accepted"] == 3
    lines = b"\n".join(orjson.dumps(text(pid, f"u{i}")) for i in range(3))
    assert post(server, project, lines, "text/plain").json()["accepted"] == 3
    assert post(server, project, lines, None).json()["duplicates"] == 3  # no Content-Type: sniffed


def test_a_gzip_body_is_decompressed(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    body = gzip.compress(orjson.dumps([text(project.project_id, "t1"), text(project.project_id, "t2")]))
    response = post(server, project, body, **{"Content-Encoding": "gzip"})
    assert response.json()["accepted"] == 2


def test_the_same_events_sent_twice_are_stored_once(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    events = [text(pid, "t1"), tags(pid, "t1", {"x": "y"}), obj(pid, "t2", "out", {"k": 1})]
    assert post(server, project, events).json() == {
        "accepted": 3,
        "duplicates": 0,
        "conflicts": [],
        "rejected": [],
    }
    assert post(server, project, events).json() == {
        "accepted": 0,
        "duplicates": 3,
        "conflicts": [],
        "rejected": [],
    }
    assert post(server, project, events + events).json() == {
        "accepted": 0,
        "duplicates": 6,
        "conflicts": [],
        "rejected": [],
    }
    assert counts(server, pid) == {"events": 3, "traces": 2, "tags": 1, "texts": 1, "objects": 1}


def test_racing_requests_with_the_same_events_store_them_once(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    events = [text(pid, f"t{i % 20}", message=f"m{i}") for i in range(300)]
    events += [tags(pid, f"t{i}", {"n": i}) for i in range(20)]
    answers: list[dict[str, int]] = []
    barrier = threading.Barrier(4)

    def send(batch: list[dict[str, object]]) -> None:
        barrier.wait()
        answers.append(post(server, project, batch).json())

    orders = [events, list(reversed(events)), events[::2] + events[1::2], events]
    threads = [threading.Thread(target=send, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a["accepted"] for a in answers) == len(events)
    assert sum(a["duplicates"] for a in answers) == 3 * len(events)
    assert counts(server, pid) == {"events": 320, "traces": 20, "tags": 20, "texts": 300, "objects": 0}


def test_a_batch_with_bad_records_stores_the_good_ones_and_names_each_bad_one(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    bad_level = {**text(pid, "t1"), "level": "loud"}
    other_project = text("someone-else", "t1")
    batch = [text(pid, "t1"), bad_level, 42, text(pid, "t2"), other_project]
    response = post(server, project, batch)
    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2, 4]
    assert "level" in body["rejected"][0]["error"] and "'loud'" in body["rejected"][0]["error"]
    assert "JSON object" in body["rejected"][1]["error"]
    assert "someone-else" in body["rejected"][2]["error"]
    assert counts(server, pid)["texts"] == 2


def test_nul_characters_are_refused_by_index_on_both_databases(server) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL's text cannot hold U+0000: both stores refuse it the same way, and keep the rest."""
    project = server.new_project()
    pid = project.project_id
    batch = [text(pid, "t1", "a\x00b"), tags(pid, "t1", {"client": "x\x00y"}), text(pid, "t1", "fine")]
    response = post(server, project, batch)
    assert response.status_code == 207, response.text
    assert [r["index"] for r in response.json()["rejected"]] == [0, 1]
    assert all("NUL" in r["error"] for r in response.json()["rejected"])
    assert counts(server, pid) == {"events": 1, "traces": 1, "tags": 0, "texts": 1, "objects": 0}


def test_a_batch_of_only_bad_records_is_answered_422_and_stores_nothing(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    response = post(server, project, [{"v": 2}, {"nothing": "known"}])
    assert response.status_code == 422
    assert [r["index"] for r in response.json()["rejected"]] == [0, 1]
    assert counts(server, project.project_id)["events"] == 0


def test_a_bad_ndjson_line_is_refused_by_its_index_and_the_rest_stored(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    body = orjson.dumps(text(pid, "a")) + b"\n{not json\n" + orjson.dumps(text(pid, "b")) + b"\n"
    response = post(server, project, body, "application/x-ndjson")
    assert response.status_code == 207
    assert response.json()["rejected"][0]["index"] == 1
    assert "line 2 is not JSON" in response.json()["rejected"][0]["error"]


def test_a_body_that_is_not_json_is_refused_with_its_reason(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    response = post(server, project, b"{oops")
    assert response.status_code == 422
    assert "not JSON" in response.json()["rejected"][0]["error"]


def test_tags_keep_numbers_and_text_apart_and_the_latest_tag_wins(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    post(server, project, tags(pid, "t1", {"score": 0.5, "client": "big", "ms": "120", "late": "new"}, at=20))
    post(server, project, tags(pid, "t1", {"late": "old"}, at=10))  # arrives after, but is older
    post(server, project, tags(pid, "t1", {"score": 0.75}, at=30))
    database = server.database()
    with database.session() as session:
        rows = {r.name: r for r in session.scalars(select(Tag).where(Tag.project_id == pid))}
    database.dispose()
    assert (rows["score"].value_num, rows["score"].value_text) == (0.75, None)
    assert (rows["client"].value_num, rows["client"].value_text) == (None, "big")
    assert (rows["ms"].value_num, rows["ms"].value_text) == (120.0, "120")
    assert rows["late"].value_text == "new"


def test_large_objects_go_to_the_object_store_and_small_ones_stay_inline(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    big = obj(pid, "t1", "big", "x" * 100_000)
    small = obj(pid, "t1", "small", [1, 2, 3])
    assert post(server, project, [big, small]).json()["accepted"] == 2
    database = server.database()
    with database.session() as session:
        rows = {r.ref: r for r in session.scalars(select(DataObject).where(DataObject.project_id == pid))}
    database.dispose()
    assert rows["small"].body is not None and orjson.loads(rows["small"].body) == small["data"]
    assert rows["big"].body is None and rows["big"].store_key
    stored = Path(server.data_dir, "objects", rows["big"].store_key).read_bytes()
    assert orjson.loads(stored) == big["data"]
    assert rows["big"].size == len(stored)
    assert rows["big"].id == str(uuid.UUID(big["event_id"]))


def test_a_ref_logged_twice_on_a_trace_keeps_both_objects(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    post(server, project, [obj(pid, "t1", "input", 1, at=1), obj(pid, "t1", "input", 2, at=2)])
    assert counts(server, pid)["objects"] == 2


def test_ingest_batch_is_the_same_endpoint_for_the_original_client(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    with server.client(project.admin_key) as client:
        response = client.post(
            f"/api/v1/projects/{project.project_id}/ingest_batch", json=[text(project.project_id, "t")]
        )
    assert response.json()["accepted"] == 1


def test_events_written_before_now_have_utc_times(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    event = text(project.project_id, "tz")
    event["ts"] = "2026-01-01T14:00:00+02:00"
    post(server, project, event)
    database = server.database()
    with database.session() as session:
        row = session.scalars(select(TraceRow).where(TraceRow.project_id == project.project_id)).one()
    database.dispose()
    assert row.first_ts == BASE_TS


def test_the_original_clients_batch_records_are_stored_once_however_often_sent(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id

    def record(dtype: str, data: object, ref: str | None = None) -> dict[str, object]:
        return {
            "dtype": dtype,
            "timestamp": "2021-03-01T10:00:00+00:00",
            "trace_id": "old",
            "project_id": pid,
            "ref": ref,
            "data": data,
        }

    records = [
        record("info", "prediction started"),
        record("tags", [{"name": "client", "value": "bigshot_client", "type": "label", "group": None}]),
        record("data", {"type": "raymon.types.Native", "params": {"data": [1]}}, ref="request"),
        record("data", {"no": "jcr"}, ref="broken"),
    ]
    with server.api(project.admin_key) as api:
        first = api.ingest_batch(pid, records)
        again = api.ingest_batch(pid, records)
    assert first.status_code == 207
    assert first.json()["accepted"] == 3 and first.json()["rejected"][0]["index"] == 3
    assert again.json()["duplicates"] == 3
    assert counts(server, pid) == {"events": 3, "traces": 1, "tags": 1, "texts": 1, "objects": 1}
