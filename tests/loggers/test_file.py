"""The file logger: NDJSON lines, rotation, threads and processes, durability options."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import orjson
import pytest

import raymon.types as rt
from raymon import RaymonFileLogger, Tag, Trace


def read_events(directory: Path) -> list[dict]:
    events = []
    for path in sorted(directory.glob("raymon-*.ndjson")):
        data = path.read_bytes()
        assert data == b"" or data.endswith(b"\n"), f"{path} ends in half a line"
        events.extend(orjson.loads(line) for line in data.splitlines())
    return events


def test_every_line_is_one_event_valid_against_the_schema(tmp_path, event_validator):
    logger = RaymonFileLogger(path=tmp_path, project_id="proj")
    trace = Trace(logger)
    trace.info("hello")
    trace.tag([{"name": "client", "value": "bigshot", "type": "label"}, Tag("ms", 12.5, "metric")])
    trace.log("native", rt.Native({"a": [1, 2]}))
    logger.close()
    events = read_events(tmp_path)
    assert [e["kind"] for e in events] == ["text", "tags", "object"]
    for event in events:
        event_validator.validate(event)
    assert len({e["event_id"] for e in events}) == 3


def test_file_names_follow_the_documented_scheme(tmp_path):
    logger = RaymonFileLogger(path=tmp_path, project_id="proj")
    Trace(logger).info("x")
    name = Path(logger.current_file or "").name
    logger.close()
    prefix, host, pid, start, seq = name.removesuffix(".ndjson").split("-")
    assert prefix == "raymon" and host and int(pid) == os.getpid() and start.endswith("Z") and seq == "000000"


def test_rotation_starts_a_new_file_before_the_size_limit_and_loses_nothing(tmp_path):
    logger = RaymonFileLogger(path=tmp_path, project_id="proj", max_bytes=4096)
    trace = Trace(logger)
    for i in range(200):
        trace.info(f"message {i:04d}")
    logger.close()
    files = sorted(tmp_path.glob("raymon-*.ndjson"))
    assert len(files) > 5
    assert all(f.stat().st_size <= 4096 for f in files)
    seqs = [int(f.name.removesuffix(".ndjson").rsplit("-", 1)[1]) for f in files]
    assert seqs == list(range(len(files)))
    assert [e["message"] for e in read_events(tmp_path)] == [f"message {i:04d}" for i in range(200)]


def test_many_threads_write_whole_lines_and_lose_none(tmp_path):
    logger = RaymonFileLogger(path=tmp_path, project_id="proj", max_bytes=64 * 1024)

    def work(t: int) -> None:
        trace = Trace(logger, trace_id=f"thread-{t}")
        for i in range(300):
            trace.info(f"{t}:{i}" + "x" * (i % 50))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logger.close()
    events = read_events(tmp_path)
    assert len(events) == 8 * 300
    for t in range(8):
        mine = [e["message"].split("x")[0] for e in events if e["trace_id"] == f"thread-{t}"]
        assert mine == [f"{t}:{i}" for i in range(300)]


def _process_writer(directory: str, worker: int, count: int) -> None:
    logger = RaymonFileLogger(path=directory, project_id="proj", max_bytes=32 * 1024)
    trace = Trace(logger, trace_id=f"proc-{worker}")
    for i in range(count):
        trace.tag(
            [
                {"name": "i", "value": i, "type": "metric"},
                {"name": "pad", "value": "y" * (i % 80), "type": "label"},
            ]
        )
    logger.close()


def test_several_processes_write_their_own_files_with_no_line_lost_or_interleaved(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_writer, args=(str(tmp_path), w, 400)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    events = read_events(tmp_path)
    assert len(events) == 4 * 400
    for w in range(4):
        values = [e["tags"][0]["value"] for e in events if e["trace_id"] == f"proc-{w}"]
        assert sorted(values) == list(range(400))
    pids = {f.name.split("-")[2] for f in tmp_path.glob("raymon-*.ndjson")}
    assert len(pids) == 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_writes_to_a_file_of_its_own(tmp_path):
    logger = RaymonFileLogger(path=tmp_path, project_id="proj")
    Trace(logger, trace_id="parent").info("before fork")
    pid = os.fork()
    if pid == 0:  # child
        try:
            Trace(logger, trace_id="child").info("in child")
            logger.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    Trace(logger, trace_id="parent").info("after fork")
    logger.close()
    files = list(tmp_path.glob("raymon-*.ndjson"))
    assert len(files) == 2
    assert sorted(e["message"] for e in read_events(tmp_path)) == ["after fork", "before fork", "in child"]


def test_fsync_option_and_flush_close_are_safe_to_call_repeatedly(tmp_path):
    logger = RaymonFileLogger(path=tmp_path, project_id="proj", fsync=True)
    Trace(logger).info("durable")
    logger.flush()
    logger.close()
    logger.close()
    assert read_events(tmp_path)[0]["message"] == "durable"
    with pytest.raises(ValueError, match="closed"):
        Trace(logger).info("after close")


def test_file_logger_never_touches_the_network(tmp_path, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the file logger opened a socket")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    logger = RaymonFileLogger(path=tmp_path, project_id="proj")
    Trace(logger).info("offline")
    logger.close()
    assert len(read_events(tmp_path)) == 1


def test_project_id_is_required_and_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("RAYMON_PROJECT_ID", raising=False)
    with pytest.raises(ValueError, match="project_id"):
        RaymonFileLogger(path=tmp_path)
    with pytest.raises(ValueError, match="project_id"):
        RaymonFileLogger(path=tmp_path, project_id="bad id!")
    monkeypatch.setenv("RAYMON_PROJECT_ID", "from-env")
    assert RaymonFileLogger(path=tmp_path).project_id == "from-env"
