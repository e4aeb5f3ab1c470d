"""``raymon server --workers N`` on PostgreSQL: N processes share the port, share the load, and outlive one another.

One real server process with two workers for the module: concurrent ingest is served by both (each worker's
CPU time grows), every event is stored once, a worker killed with SIGKILL is replaced while the
other keeps answering, and stopping the server stops every worker.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import PostgresDatabases, RaymonServer
from raymon.wire import tags_event

WORKERS = 2


@pytest.fixture(scope="module")
def workers_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaymonServer]:
    databases = PostgresDatabases(postgres_url)
    database_url = databases.create()
    instance = RaymonServer(tmp_path_factory.mktemp("workers"), database_url, {"RAYMON_ENGINE": "off"})
    try:
        yield instance.start("--workers", str(WORKERS))
    finally:
        instance.stop()
        databases.drop(database_url)


def _children(pid: int) -> list[int]:
    """The server's worker processes (not multiprocessing's resource tracker beside them)."""
    pids = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [p for p in pids if b"spawn_main" in _cmdline(p)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:  # gone meanwhile
        return b""


def _dead(pid: int) -> bool:
    """Gone, or a zombie its parent has not reaped yet (it accepts no more connections)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def _batch(project_id: str, n: int) -> list[dict[str, object]]:
    return [
        tags_event(project_id, uuid.uuid4().hex, [{"name": "client", "value": f"c{i % 7}", "type": "label"}])
        for i in range(n)
    ]


def _ingest(server: RaymonServer, batches: int, per_batch: int, threads: int) -> None:
    path = f"/api/v1/projects/{server.project_id}/ingest"
    errors: list[str] = []

    def send(count: int) -> None:
        for _ in range(count):
            with server.client() as client:  # a new connection each time: each is accepted anew
                response = client.post(path, json=_batch(server.project_id, per_batch))
            if response.status_code != 200 or response.json()["accepted"] != per_batch:
                errors.append(f"{response.status_code}: {response.text[:200]}")

    workers = [threading.Thread(target=send, args=(batches // threads,)) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert not errors, errors[:3]


def _trace_count(server: RaymonServer) -> int:
    database = server.database()
    try:
        with database.engine.connect() as conn:
            return int(conn.scalar(text("SELECT COUNT(*) FROM traces")) or 0)
    finally:
        database.dispose()


def test_two_workers_share_the_load_and_store_every_event_once(workers_server: RaymonServer) -> None:
    assert workers_server.process is not None
    children = _children(workers_server.process.pid)
    assert len(children) == WORKERS, children
    before = {pid: _cpu_ticks(pid) for pid in children}
    _ingest(workers_server, batches=80, per_batch=200, threads=8)
    grew = {pid: _cpu_ticks(pid) - before[pid] for pid in children}
    assert all(ticks > 0 for ticks in grew.values()), f"a worker served nothing: CPU ticks {grew}"
    assert _trace_count(workers_server) == 80 * 200


def test_a_killed_worker_is_replaced_nothing_accepted_is_lost_and_stopping_stops_all(
    workers_server: RaymonServer,
) -> None:
    assert workers_server.process is not None
    parent = workers_server.process.pid
    stored = _trace_count(workers_server)
    _ingest(workers_server, batches=8, per_batch=50, threads=2)
    first = _children(parent)
    os.kill(first[0], signal.SIGKILL)
    _wait_for(lambda: _dead(first[0]), 10, "the killed worker dead")
    _ingest(workers_server, batches=8, per_batch=50, threads=2)  # the other worker answers meanwhile
    _wait_for(
        lambda: len(_children(parent)) == WORKERS and first[0] not in _children(parent),
        30,
        "the killed worker replaced",
    )
    _ingest(workers_server, batches=2, per_batch=10, threads=1)
    assert _trace_count(workers_server) == stored + 16 * 50 + 2 * 10

    children = _children(parent)
    workers_server.stop()
    _wait_for(lambda: all(_dead(pid) for pid in children), 15, "every worker gone")
