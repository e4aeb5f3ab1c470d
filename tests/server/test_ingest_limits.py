"""Ingestion stays bounded: size limits answered 413/422 naming the limit, overload answered 429, nothing lost."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator

import orjson
import pytest
from server_helpers import counts, obj, text


@pytest.fixture
def small_limits(make_server):  # type: ignore[no-untyped-def]
    return make_server(
        RAYMON_MAX_REQUEST_BYTES="20000", RAYMON_MAX_BATCH_EVENTS="5", RAYMON_MAX_OBJECT_BYTES="1000"
    )


def _post(server, body: bytes, **headers: str):  # type: ignore[no-untyped-def]
    with server.client() as client:
        return client.post(
            f"/api/v1/projects/{server.project_id}/ingest",
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )


def test_limits_are_answered_with_the_setting_they_broke(small_limits) -> None:  # type: ignore[no-untyped-def]
    server = small_limits
    pid = server.project_id

    too_big = orjson.dumps([text(pid, "t", message="x" * 25_000)])
    response = _post(server, too_big)
    assert response.status_code == 413
    assert "max_request_bytes=20000" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield b"["
        for _ in range(30):
            yield orjson.dumps(text(pid, "t", message="y" * 1000)) + b","
        yield orjson.dumps(text(pid, "t")) + b"]"

    with server.client() as client:
        response = client.post(f"/api/v1/projects/{pid}/ingest", content=chunks())
    assert response.status_code == 413

    bomb = gzip.compress(b"[" + b" " * 1_000_000 + b"]")  # small on the wire, large once inflated
    assert len(bomb) < 20000
    response = _post(server, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413

    response = _post(server, orjson.dumps([text(pid, f"t{i}") for i in range(6)]))
    assert response.status_code == 413
    assert "max_batch_events=5" in response.json()["detail"]

    response = _post(server, orjson.dumps([obj(pid, "t", "big", "z" * 2000), text(pid, "ok")]))
    assert response.status_code == 207
    assert response.json()["rejected"][0]["index"] == 0
    assert "max_object_bytes=1000" in response.json()["rejected"][0]["error"]

    assert counts(server, pid)["events"] == 1  # only the good text of the last request


def test_overload_is_answered_429_with_retry_after_and_nothing_accepted_is_lost(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(RAYMON_INGEST_MAX_INFLIGHT="1", RAYMON_INGEST_SLOT_WAIT_SECONDS="0.01")
    pid = server.project_id
    batches = [[text(pid, f"b{b}-t{i % 50}", message=f"{b}-{i}") for i in range(1500)] for b in range(8)]
    statuses: dict[int, int] = {}
    accepted: dict[int, int] = {}
    retry_after: list[str] = []
    barrier = threading.Barrier(len(batches))

    def send(number: int) -> None:
        barrier.wait()
        response = _post(server, orjson.dumps(batches[number]))
        statuses[number] = response.status_code
        if response.status_code == 200:
            accepted[number] = response.json()["accepted"]
        elif response.status_code == 429:
            retry_after.append(response.headers.get("Retry-After", ""))
            assert "busy" in response.json()["detail"]

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses.values()) <= {200, 429}
    assert 429 in statuses.values(), statuses
    assert retry_after and all(value.isdigit() for value in retry_after)
    assert counts(server, pid)["events"] == sum(accepted.values()) == 1500 * len(accepted)

    for number, status in statuses.items():  # a client retrying what was refused gets everything in
        if status == 429:
            for _ in range(50):
                response = _post(server, orjson.dumps(batches[number]))
                if response.status_code == 200:
                    break
            assert response.status_code == 200
    assert counts(server, pid)["events"] == 1500 * len(batches)
