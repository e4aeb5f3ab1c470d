"""Event ids against a real server: per project (two projects may send the same id), and a re-sent id
with another content answered as a conflict, never as a silent duplicate (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from server_helpers import counts, obj, text
from sqlalchemy import update

from raymon.server.store.models import IngestedEvent

BIG = "x" * 70_000  # over inline_object_max_bytes (64 KiB): the body goes to the object store


def post(server, project, events: list[Any]):  # type: ignore[no-untyped-def]
    with server.client(project.admin_key) as client:
        return client.post(f"/api/v1/projects/{project.project_id}/ingest", content=orjson.dumps(events))


def object_data(server, project, obj_id: str) -> Any:  # type: ignore[no-untyped-def]
    with server.client(project.admin_key) as client:
        response = client.get(f"/api/v1/projects/{project.project_id}/objects/{obj_id}")
    assert response.status_code == 200, response.text
    return response.json()["obj_data"]["params"]["data"]


def answer(accepted: int = 0, duplicates: int = 0, conflicts: Any = (), rejected: Any = ()) -> dict[str, Any]:
    return {
        "accepted": accepted,
        "duplicates": duplicates,
        "conflicts": list(conflicts),
        "rejected": list(rejected),
    }


def conflict(index: int, event_id: str) -> dict[str, Any]:
    return {
        "index": index,
        "event_id": event_id,
        "error": f"event_id {event_id} was stored before with a different content; the stored event "
        "is kept: send new content under a new event_id",
    }


@pytest.mark.parametrize("size", ["inline", "object store"])
def test_the_same_event_id_in_two_projects_is_stored_in_each_and_each_reads_its_own(
    server, size: str
) -> None:  # type: ignore[no-untyped-def]
    first, second = server.new_project(), server.new_project()
    shared_id = str(uuid.uuid4())
    sent = {}
    for project in (first, second):
        value = f"{project.project_id}:{BIG if size == 'object store' else 'small'}"
        event = {**obj(project.project_id, "t1", "features", value), "event_id": shared_id}
        other = text(project.project_id, "t1")  # a good event beside it: the batch must not fail
        assert post(server, project, [other, event]).json() == answer(accepted=2)
        sent[project.project_id] = (event, value)
    for project in (first, second):
        event, value = sent[project.project_id]
        assert object_data(server, project, shared_id) == value
        assert post(server, project, [event]).json() == answer(duplicates=1)  # a resend: known
        assert counts(server, project.project_id)["objects"] == 1


def test_a_resent_event_id_with_another_content_is_a_conflict_and_the_stored_event_is_kept(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    stored = obj(pid, "t1", "features", [1, 2, 3])
    assert post(server, project, [stored]).json() == answer(accepted=1)

    changed = {**stored, "data": {"type": "raymon.types.Native", "params": {"data": [9, 9, 9]}}}
    fresh = text(pid, "t2")
    response = post(server, project, [fresh, changed, stored])
    assert response.status_code == 200
    assert response.json() == answer(accepted=1, duplicates=1, conflicts=[conflict(1, stored["event_id"])])
    assert object_data(server, project, stored["event_id"]) == [1, 2, 3]
    assert counts(server, pid)["events"] == 2


def test_an_event_id_twice_in_one_batch_with_two_contents_stores_the_first_and_flags_the_second(
    server,
) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    first = text(project.project_id, "t1", "first")
    second = {**first, "message": "second"}
    assert post(server, project, [first, first, second]).json() == answer(
        accepted=1, duplicates=1, conflicts=[conflict(2, first["event_id"])]
    )
    assert post(server, project, [second, first]).json() == answer(
        duplicates=1, conflicts=[conflict(0, first["event_id"])]
    )


def test_the_same_content_with_its_keys_in_another_order_is_a_duplicate(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    event = obj(project.project_id, "t1", "features", {"a": 1, "b": 2})
    reordered = dict(reversed(list(event.items())))
    reordered["data"] = {"params": {"data": {"b": 2, "a": 1}}, "type": event["data"]["type"]}
    assert post(server, project, [event]).json() == answer(accepted=1)
    assert post(server, project, [reordered]).json() == answer(duplicates=1)


def test_events_stored_before_content_hashes_existed_count_as_duplicates(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    event = text(project.project_id, "t1", "first")
    assert post(server, project, [event]).json() == answer(accepted=1)
    database = server.database()
    try:  # what a ledger row written before migration 0004 looks like
        with database.session() as session:
            session.execute(
                update(IngestedEvent)
                .where(IngestedEvent.project_id == project.project_id)
                .values(content_hash=None)
            )
    finally:
        database.dispose()
    assert post(server, project, [{**event, "message": "other"}]).json() == answer(duplicates=1)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("type", "data.type contains a NUL character (U+0000)"),
        ("ref", "ref must be 1 to 256 characters"),
        ("trace_id", "trace_id must be 1 to 128 characters"),
    ],
)
def test_a_nul_in_object_fields_that_reach_a_text_column_refuses_that_record_alone(  # type: ignore[no-untyped-def]
    server, field: str, expected: str
) -> None:
    project = server.new_project()
    good = obj(project.project_id, "t1", "features", 1)
    bad = obj(project.project_id, "t1", "features", 2)
    if field == "type":
        bad["data"]["type"] = "raymon.types.Na\x00tive"
    else:
        bad[field] = "a\x00b"
    response = post(server, project, [good, bad])
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["accepted"], [r["index"] for r in body["rejected"]]) == (1, [1])
    assert expected in body["rejected"][0]["error"]
    assert counts(server, project.project_id)["objects"] == 1


def test_a_nul_inside_object_params_is_stored_and_read_back_on_every_database(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    for value in ("a\x00b", "a\x00" + BIG):  # inline JSON text, and the object store
        event = obj(project.project_id, "t1", "features", value)
        assert post(server, project, [event]).json() == answer(accepted=1)
        assert object_data(server, project, event["event_id"]) == value


def test_the_batch_logger_moves_a_conflicting_event_to_its_dead_letter_file(server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from raymon import RaymonBatchLogger
    from raymon.loggers.spool import DEAD_LETTER_FILE, project_spool_dir

    project = server.new_project()
    stored = text(project.project_id, "t1", "first")
    assert post(server, project, [stored]).json() == answer(accepted=1)
    logger = RaymonBatchLogger(
        url=server.url,
        project_id=project.project_id,
        api_key=project.admin_key,
        spool_dir=tmp_path,
        flush_interval=0.05,
    )
    try:
        logger.emit({**stored, "message": "second"})
        logger.emit(text(project.project_id, "t1", "fresh"))
        assert logger.flush(30)
    finally:
        logger.close()
    assert logger.stats.dead_lettered == 1 and logger.stats.sent == 1
    letters = (project_spool_dir(tmp_path, project.project_id) / DEAD_LETTER_FILE).read_bytes().splitlines()
    [letter] = [orjson.loads(line) for line in letters]
    assert letter["event"]["message"] == "second"
    assert "was stored before with a different content" in letter["error"]
    assert counts(server, project.project_id)["texts"] == 2
