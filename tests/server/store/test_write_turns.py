"""SQLite's one writer, handed to requests first: background writers yield, for a bounded time only."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from raymon.server.store.db import Database, WriteTurns, background_writer


def _holder(
    turns: WriteTurns, order: list[str], name: str, hold_s: float, background: bool
) -> threading.Thread:
    def run() -> None:
        def take() -> None:
            with turns.turn():
                order.append(name)
                time.sleep(hold_s)

        if background:
            with background_writer():
                take()
        else:
            take()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def _wait_for(condition: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_waiting_request_goes_before_a_background_writer_that_came_first() -> None:
    turns = WriteTurns(defer_s=5.0)
    order: list[str] = []
    first = _holder(turns, order, "request-1", 0.3, background=False)
    _wait_for(lambda: order == ["request-1"])
    engine = _holder(turns, order, "engine", 0.0, background=True)
    time.sleep(0.05)  # the engine waits first
    second = _holder(turns, order, "request-2", 0.0, background=False)
    for thread in (first, engine, second):
        thread.join(10)
    assert order == ["request-1", "request-2", "engine"]


def test_a_background_writer_gets_its_turn_within_its_deferral_under_a_stream_of_requests() -> None:
    turns = WriteTurns(defer_s=0.2)
    stop = threading.Event()
    requests = 0

    def busy() -> None:  # two request threads: one of them is always waiting while the other writes
        nonlocal requests
        while not stop.is_set():
            with turns.turn():
                requests += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=busy) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: requests > 5)
        started = time.monotonic()
        with background_writer(), turns.turn():
            waited = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert 0.15 <= waited < 2.0, waited  # it yielded to the requests, and was not starved


def test_a_background_writer_takes_a_free_writer_at_once_and_the_mark_ends_with_its_block() -> None:
    turns = WriteTurns(defer_s=5.0)
    started = time.monotonic()
    with background_writer():
        with turns.turn():
            pass
        assert time.monotonic() - started < 0.5
    order: list[str] = []
    holder = _holder(turns, order, "request", 0.3, background=False)
    _wait_for(lambda: order == ["request"])
    waiter = _holder(turns, order, "after", 0.0, background=False)  # this thread is no longer marked
    holder.join(10)
    waiter.join(10)
    assert order == ["request", "after"]


def test_sqlite_writes_of_a_background_thread_still_commit(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with database.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (v INTEGER)")
        with background_writer(), database.write_session() as session:
            session.connection().exec_driver_sql("INSERT INTO t VALUES (1)")
        with database.session() as session:
            assert session.connection().exec_driver_sql("SELECT COUNT(*) FROM t").scalar() == 1
    finally:
        database.engine.dispose()


def test_without_exclusivity_requests_write_together_and_a_background_writer_waits_for_them() -> None:
    turns = WriteTurns(defer_s=5.0, exclusive=False)  # PostgreSQL: many writers
    order: list[str] = []
    first = _holder(turns, order, "request-1", 0.8, background=False)
    second = _holder(turns, order, "request-2", 0.8, background=False)
    _wait_for(lambda: len(order) == 2, 0.3)  # both write at once: neither waited for the other
    started = time.monotonic()
    with background_writer(), turns.turn():  # waits for the requests' writes to end
        waited = time.monotonic() - started
    for thread in (first, second):
        thread.join(10)
    assert waited >= 0.2, waited
    started = time.monotonic()
    with background_writer(), turns.turn():  # no request writing: at once
        assert time.monotonic() - started < 0.5
