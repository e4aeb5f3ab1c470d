"""RaymonBatchLogger against a real ingest receiver process that is stopped, restarted and made to fail."""

from __future__ import annotations

import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from receiver_process import BATCH_CLIENT, ReceiverProcess, client_env, free_port

from raymon import LoggerError, RaymonBatchLogger, RaymonFileLogger, Trace
from raymon.loggers.batch import parse_retry_after
from raymon.loggers.spool import DEAD_LETTER_FILE, LOCK_FILE, project_spool_dir

PROJECT = "proj"


def make_logger(url: str, spool: Path, **kwargs: Any) -> RaymonBatchLogger:
    options: dict[str, Any] = {"flush_interval": 0.05, "backoff_base": 0.05, "backoff_max": 0.5}
    options.update(kwargs)
    return RaymonBatchLogger(url=url, project_id=PROJECT, spool_dir=spool, **options)


def log_messages(logger: RaymonBatchLogger, prefix: str, count: int) -> list[str]:
    messages = [f"{prefix}-{i}" for i in range(count)]
    for message in messages:
        Trace(logger, trace_id=message).info(message)
    return messages


def spool_segments(spool: Path) -> list[Path]:
    return sorted(project_spool_dir(spool, PROJECT).glob("*/*.ndjson"))


def spool_bytes(spool: Path) -> int:
    return sum(p.stat().st_size for p in spool_segments(spool) if p.exists())


def read_lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def wait_until(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


# -- delivery -------------------------------------------------------------------------------------


def test_events_arrive_in_batches_of_at_most_batch_size_and_the_spool_is_cleaned(
    receiver: ReceiverProcess, tmp_path: Path
) -> None:
    logger = make_logger(receiver.url, tmp_path / "spool", batch_size=300)
    sent = log_messages(logger, "m", 1000)
    assert logger.flush(30) is True
    logger.close()

    assert sorted(receiver.messages()) == sorted(sent)
    stats = receiver.stats()
    assert stats["duplicates"] == 0
    sizes = [records for _, status, records in stats["requests"] if status == 200]
    assert sum(sizes) == 1000 and max(sizes) <= 300
    assert logger.stats.sent == 1000
    assert spool_segments(tmp_path / "spool") == []
    assert list(project_spool_dir(tmp_path / "spool", PROJECT).iterdir()) == []


def test_tags_and_objects_are_sent_in_the_wire_format(receiver: ReceiverProcess, tmp_path: Path) -> None:
    import raymon.types as rt

    with make_logger(receiver.url, tmp_path / "spool") as logger:
        trace = Trace(logger, trace_id="t-1")
        trace.tag([{"name": "score", "value": 0.5, "type": "metric"}])
        trace.log("request", rt.Native({"a": [1, 2]}))
        assert logger.flush(30)
    assert receiver.stats()["distinct"] == 2


def test_every_event_is_stored_exactly_once_across_a_backend_restart_and_a_killed_client(
    make_receiver: Any, tmp_path: Path
) -> None:
    receiver = make_receiver().start()
    spool = tmp_path / "spool"
    returned_a, returned_b = tmp_path / "returned-a.txt", tmp_path / "returned-b.txt"
    common = ["--url", receiver.url, "--spool", str(spool), "--backoff-max", "0.5"]
    client_a = subprocess.Popen(
        [sys.executable, str(BATCH_CLIENT), *common, "--run", "a", "--count", "20000"]
        + ["--returned", str(returned_a), "--pause-every", "100", "--pause", "0.03"],
        env=client_env(),
        stdout=subprocess.PIPE,
    )
    try:
        assert wait_until(lambda: len(read_lines(returned_a)) >= 1000)
        receiver.stop()  # the backend goes away while the client keeps logging
        down_at = len(read_lines(returned_a))
        assert wait_until(lambda: len(read_lines(returned_a)) >= down_at + 1500)
        receiver.start()  # ... and comes back on the same port with the same database
        assert wait_until(lambda: len(receiver.messages()) >= down_at + 500)
        up_at = len(read_lines(returned_a))
        assert wait_until(lambda: len(read_lines(returned_a)) >= up_at + 1000)
        os.kill(client_a.pid, signal.SIGKILL)  # mid-run: its spool holds unsent events
        client_a.wait(10)
    finally:
        if client_a.poll() is None:
            client_a.kill()
            client_a.wait(10)
    logged_a = read_lines(returned_a)
    assert len(logged_a) < 20000, "client A finished before it could be killed"
    assert spool_segments(spool), "nothing was left in A's spool to replay"

    client_b = subprocess.run(
        [sys.executable, str(BATCH_CLIENT), *common, "--run", "b", "--count", "500"]
        + ["--returned", str(returned_b)],
        env=client_env(),
        capture_output=True,
        timeout=120,
    )
    assert client_b.returncode == 0, client_b.stderr.decode()
    assert b"flushed=True" in client_b.stdout

    stored = receiver.messages()
    counts = Counter(stored)
    assert [m for m, n in counts.items() if n > 1] == [], "an event was stored twice"
    expected = set(logged_a) | set(read_lines(returned_b))
    assert expected <= set(stored), f"{len(expected - set(stored))} accepted events were lost"
    # At most one more: the event A was writing when it was killed (logged, not yet recorded).
    assert set(stored) - expected <= {f"a-{len(logged_a)}"}
    assert spool_segments(spool) == [], "B did not drain A's spool"


def test_a_restarted_logger_replays_the_spool_of_a_killed_one(
    receiver: ReceiverProcess, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    down = f"http://127.0.0.1:{free_port()}"
    returned = tmp_path / "returned.txt"
    killed = subprocess.Popen(
        [sys.executable, str(BATCH_CLIENT), "--url", down, "--spool", str(spool), "--run", "k"]
        + ["--count", "100000", "--returned", str(returned)],
        env=client_env(),
        stdout=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: len(read_lines(returned)) >= 300)
    finally:
        killed.kill()
        killed.wait(10)
    logged = read_lines(returned)

    logger = make_logger(receiver.url, spool)
    assert logger.stats.adopted_dirs == 1
    assert logger.flush(30)
    logger.close()
    stored = receiver.messages()
    assert set(logged) <= set(stored) and len(stored) == len(set(stored))
    assert len(stored) - len(logged) <= 1


# -- failures -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["refusing connections", "hanging"])
def test_log_stays_fast_while_the_backend_is_down(tmp_path: Path, backend: str) -> None:
    # "hanging": a socket that accepts connections (in its backlog) and never answers, so every
    # request of the sending thread waits for its 2 s timeout while the caller keeps logging.
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    if backend == "hanging":
        black_hole.listen(16)
    url = f"http://127.0.0.1:{black_hole.getsockname()[1]}"
    logger = make_logger(url, tmp_path / "spool", backoff_max=0.2, timeout=2.0)
    durations = []
    try:
        for i in range(3000):
            start = time.perf_counter()
            Trace(logger, trace_id=f"t-{i}").info(f"message {i}")
            durations.append(time.perf_counter() - start)
            if i % 100 == 99:
                time.sleep(0.03)  # spread over a second: logging goes on while the thread tries
        assert logger.stats.requests > 0  # the thread did try the backend meanwhile
        logger.close(timeout=0.1)
    finally:
        black_hole.close()
    assert statistics.median(durations) < 0.0005, statistics.median(durations)
    assert sorted(durations)[int(len(durations) * 0.99)] < 0.05
    assert max(durations) < 1.0  # never a request's wait
    assert spool_bytes(tmp_path / "spool") > 0  # kept for the next logger


def test_retry_after_of_a_429_is_honoured(receiver: ReceiverProcess, tmp_path: Path) -> None:
    receiver.fail_next({"status": 429, "retry_after": 2})
    logger = make_logger(receiver.url, tmp_path / "spool", backoff_base=0.01)
    log_messages(logger, "r", 10)
    assert logger.flush(30)  # flush() cannot cut a Retry-After short
    logger.close()
    requests = receiver.stats()["requests"]
    assert requests[0][1] == 429
    assert requests[1][1] == 200
    assert requests[1][0] - requests[0][0] >= 1.9
    assert receiver.stats()["distinct"] == 10


@pytest.mark.parametrize(
    "value, seconds",
    [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("999999", 600.0), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_values_are_parsed_as_seconds_and_capped(
    value: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0


def test_server_errors_are_retried_with_growing_backoff_until_delivered(
    receiver: ReceiverProcess, tmp_path: Path
) -> None:
    receiver.fail_next({"status": 500}, {"status": 503}, {"status": 500}, {"status": 500})
    logger = make_logger(receiver.url, tmp_path / "spool", backoff_base=0.1, backoff_max=5)
    log_messages(logger, "e", 20)
    assert wait_until(lambda: receiver.stats()["distinct"] == 20)
    logger.close()
    requests = receiver.stats()["requests"]
    assert [status for _, status, _ in requests[:5]] == [500, 503, 500, 500, 200]
    gaps = [b[0] - a[0] for a, b in zip(requests, requests[1:5], strict=False)]
    # full jitter in [ceiling/2, ceiling], ceiling 0.1, 0.2, 0.4, 0.8 s
    assert gaps[3] > 0.35 and gaps[3] > gaps[0]
    assert logger.stats.failed_requests == 4


def test_a_batch_too_large_is_halved_until_it_fits(receiver: ReceiverProcess, tmp_path: Path) -> None:
    receiver.fail_next({"status": 413})
    spool = tmp_path / "spool"
    writer = make_logger(f"http://127.0.0.1:{free_port()}", spool, backoff_base=10)
    log_messages(writer, "big", 40)
    writer.close(timeout=0)  # the 40 events wait in the spool, to be sent as one batch
    logger = make_logger(receiver.url, spool)
    assert logger.flush(30)
    logger.close()
    requests = receiver.stats()["requests"]
    assert requests[0][1] == 413
    assert [r[2] for r in requests[1:3]] == [20, 20]
    assert receiver.stats()["distinct"] == 40 and logger.stats.dead_lettered == 0


def test_a_wrong_api_key_is_retried_not_dead_lettered_and_a_fixed_logger_sends_it(
    make_receiver: Any, tmp_path: Path
) -> None:
    receiver = make_receiver("--api-key", "right").start()
    spool = tmp_path / "spool"
    wrong = make_logger(receiver.url, spool, api_key="wrong")
    sent = log_messages(wrong, "k", 30)
    assert wrong.flush(1.0) is False
    wrong.close(timeout=0.1)
    assert wrong.stats.dead_lettered == 0 and receiver.stats()["distinct"] == 0

    right = make_logger(receiver.url, spool, api_key="right")
    assert right.flush(30)
    right.close()
    assert sorted(receiver.messages()) == sorted(sent)


def test_records_the_backend_refuses_go_to_the_dead_letter_file_and_the_rest_is_stored(
    make_receiver: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = make_receiver("--refuse", "poison").start()
    spool = tmp_path / "spool"
    logger = make_logger(receiver.url, spool)
    with caplog.at_level(logging.WARNING, logger="raymon.loggers.batch"):
        trace = Trace(logger)
        for i in range(10):
            trace.info("poison pill" if i == 3 else f"good-{i}")
        assert logger.flush(30)
    logger.close()
    assert receiver.stats()["distinct"] == 9
    letters = (project_spool_dir(spool, PROJECT) / DEAD_LETTER_FILE).read_bytes().splitlines()
    assert len(letters) == 1
    letter = orjson.loads(letters[0])
    assert letter["event"]["message"] == "poison pill" and "poison" in letter["error"]
    assert letter["status"] == 207
    assert logger.stats.dead_lettered == 1
    assert any("refused 1 event" in r.getMessage() for r in caplog.records)


def test_a_corrupt_spool_line_is_isolated_by_halving_and_dead_lettered(
    receiver: ReceiverProcess, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    writer = make_logger(f"http://127.0.0.1:{free_port()}", spool, backoff_base=10)
    log_messages(writer, "c", 7)
    segment = writer.writer.path
    assert segment is not None
    writer.close(timeout=0)  # leaves its spool behind
    with open(segment, "ab") as f:
        f.write(b'{"not json\n')
    with open(segment, "ab") as f:
        f.write(b'{"v": 1, "torn": ')  # a line its writer never finished

    logger = make_logger(receiver.url, spool)
    assert logger.flush(30)
    logger.close()
    assert sorted(receiver.messages()) == sorted(f"c-{i}" for i in range(7))
    letters = [orjson.loads(x) for x in (segment.parent.parent / DEAD_LETTER_FILE).read_bytes().splitlines()]
    assert sorted(letter["line"] for letter in letters) == ['{"not json', '{"v": 1, "torn": ']
    assert letters[0]["status"] == 400 or letters[1]["status"] == 400
    assert logger.stats.dead_lettered == 2


# -- the disk bound -------------------------------------------------------------------------------


def test_the_spool_bound_drops_the_oldest_segments_counts_them_and_warns(
    make_receiver: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = make_receiver()  # not started yet: the backend is down
    spool = tmp_path / "spool"
    bound = 16 * 1024
    logger = make_logger(receiver.url, spool, max_spool_bytes=bound, segment_bytes=4096, backoff_base=5)
    with caplog.at_level(logging.WARNING, logger="raymon.loggers.batch"):
        log_messages(logger, "d", 1000)
        assert wait_until(lambda: spool_bytes(spool) <= bound)
        time.sleep(0.2)
        assert spool_bytes(spool) <= bound
    assert logger.stats.dropped > 0
    assert any("over max_spool_bytes" in r.getMessage() for r in caplog.records)

    receiver.start()
    assert logger.flush(30)
    logger.close()
    stored = receiver.messages()
    assert len(stored) + logger.stats.dropped == 1000
    kept = sorted(int(m.split("-")[1]) for m in stored)
    assert kept == list(range(1000 - len(kept), 1000)), "the newest events must be the ones kept"


def test_a_spool_bound_smaller_than_two_segments_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_spool_bytes"):
        RaymonBatchLogger(
            url="http://127.0.0.1:1",
            project_id=PROJECT,
            spool_dir=tmp_path,
            max_spool_bytes=3000,
            segment_bytes=2048,
        )


def test_a_url_that_is_not_http_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ftp://example.com"):
        RaymonBatchLogger(url="ftp://example.com", project_id=PROJECT, spool_dir=tmp_path)
    assert not (tmp_path / f"project-{PROJECT}").exists()


# -- flush, close, exit ---------------------------------------------------------------------------


def test_flush_answers_false_on_timeout_and_keeps_the_events_for_the_next_logger(
    make_receiver: Any, tmp_path: Path
) -> None:
    receiver = make_receiver()
    spool = tmp_path / "spool"
    logger = make_logger(receiver.url, spool)
    sent = log_messages(logger, "f", 50)
    start = time.monotonic()
    assert logger.flush(0.5) is False
    assert 0.45 < time.monotonic() - start < 3
    logger.close(timeout=0.2)
    assert spool_bytes(spool) > 0

    receiver.start()
    again = make_logger(receiver.url, spool)
    assert again.flush(30)
    again.close()
    assert sorted(receiver.messages()) == sorted(sent)


def test_close_stops_the_thread_and_log_after_close_raises(receiver: ReceiverProcess, tmp_path: Path) -> None:
    logger = make_logger(receiver.url, tmp_path / "spool")
    log_messages(logger, "c", 5)
    logger.close()
    assert not logger._thread.is_alive()
    assert receiver.stats()["distinct"] == 5
    with pytest.raises(LoggerError, match="closed"):
        Trace(logger).info("too late")
    logger.close()  # twice is fine
    assert logger.flush() is True


def test_the_exit_flush_sends_what_a_process_never_closed(receiver: ReceiverProcess, tmp_path: Path) -> None:
    returned = tmp_path / "returned.txt"
    done = subprocess.run(
        [sys.executable, str(BATCH_CLIENT), "--url", receiver.url, "--spool", str(tmp_path / "spool")]
        + ["--run", "x", "--count", "200", "--returned", str(returned)]
        + ["--flush-interval", "60", "--exit-without-close", "--close-timeout", "30"],
        env=client_env(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert sorted(receiver.messages()) == sorted(read_lines(returned))
    assert len(read_lines(returned)) == 200


# -- sharing a spool directory --------------------------------------------------------------------


def test_two_live_loggers_sharing_a_spool_dir_never_send_each_others_events(
    make_receiver: Any, tmp_path: Path
) -> None:
    receiver = make_receiver()  # down while both loggers spool
    spool = tmp_path / "spool"
    first = make_logger(receiver.url, spool)
    second = make_logger(receiver.url, spool)
    sent = log_messages(first, "one", 300) + log_messages(second, "two", 300)
    third = make_logger(receiver.url, spool)  # starting up scans for orphans: there are none
    assert third.stats.adopted_dirs == 0
    owners = [p for p in project_spool_dir(spool, PROJECT).iterdir() if (p / LOCK_FILE).exists()]
    assert len(owners) == 3

    receiver.start()
    for logger in (first, second, third):
        assert logger.flush(30)
        logger.close()
    assert sorted(receiver.messages()) == sorted(sent)
    assert receiver.stats()["duplicates"] == 0
    assert first.stats.sent == 300 and second.stats.sent == 300 and third.stats.sent == 0


def test_two_live_client_processes_sharing_a_spool_dir_each_send_only_their_own(
    make_receiver: Any, tmp_path: Path
) -> None:
    receiver = make_receiver()  # down while both clients log and wait in flush()
    spool = tmp_path / "spool"
    clients, returned = [], []
    for run in ("p", "q"):
        returned.append(tmp_path / f"returned-{run}.txt")
        clients.append(
            subprocess.Popen(
                [sys.executable, str(BATCH_CLIENT), "--url", receiver.url, "--spool", str(spool)]
                + ["--run", run, "--count", "400", "--returned", str(returned[-1]), "--backoff-max", "0.3"],
                env=client_env(),
                stdout=subprocess.PIPE,
            )
        )
    try:
        assert wait_until(lambda: all(len(read_lines(r)) == 400 for r in returned))
        newcomer = make_logger(receiver.url, spool)  # both owners are alive: nothing to adopt
        assert newcomer.stats.adopted_dirs == 0
        receiver.start()
        outputs = [c.communicate(timeout=60)[0] for c in clients]
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
                c.wait(10)
    assert [c.returncode for c in clients] == [0, 0] and all(b"flushed=True" in o for o in outputs)
    newcomer.close()
    assert sorted(receiver.messages()) == sorted(read_lines(returned[0]) + read_lines(returned[1]))
    assert receiver.stats()["duplicates"] == 0  # nobody sent another's events
    assert newcomer.stats.sent == 0


def test_a_forked_child_logs_through_its_own_spool_and_thread(
    receiver: ReceiverProcess, tmp_path: Path
) -> None:
    logger = make_logger(receiver.url, tmp_path / "spool")
    log_messages(logger, "parent", 10)
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            log_messages(logger, "child", 10)
            code = 0 if logger.flush(30) and logger.owner.path.name.split("-")[1] == str(os.getpid()) else 2
            logger.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert logger.flush(30)
    logger.close()
    assert sorted(receiver.messages()) == sorted(
        [f"parent-{i}" for i in range(10)] + [f"child-{i}" for i in range(10)]
    )


def test_the_caller_pays_the_same_write_as_the_file_logger(tmp_path: Path) -> None:
    batch = make_logger(f"http://127.0.0.1:{free_port()}", tmp_path / "spool", backoff_base=10)
    file_logger = RaymonFileLogger(tmp_path / "files", project_id=PROJECT)
    Trace(batch).info("same bytes")
    Trace(file_logger).info("same bytes")
    batch_line = orjson.loads(spool_segments(tmp_path / "spool")[0].read_bytes())
    assert file_logger.current_file is not None
    file_line = orjson.loads(Path(file_logger.current_file).read_bytes())
    assert set(batch_line) == set(file_line) and batch_line["message"] == file_line["message"]
    batch.close(timeout=0)
    file_logger.close()
