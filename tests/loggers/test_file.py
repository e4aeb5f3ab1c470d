"""The file logger: NDJSON lines, rotation, threads and processes, durability options."""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
from pathlib import Path

import orjson
import pytest

import raymon.types as rt
from raymon import RaymonFileLogger, Tag, TagError, Trace
from raymon.tags import tags_to_jcr
from raymon.wire import object_event, tags_event, text_event, validate_event


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


def test_each_line_is_the_bytes_of_the_wire_modules_event(tmp_path):
    """The file logger builds a line without the event dict of ``raymon.wire``: the bytes stay the same."""
    logger = RaymonFileLogger(path=tmp_path, project_id="proj")
    trace = Trace(logger, trace_id="t-1")
    known = [
        {"name": "a", "value": 1.5, "type": "metric", "group": "g@1"},
        {"name": "b", "value": 2, "type": "metric", "group": None},
    ]
    trace.tag(known)  # checked in full
    trace.tag(known)  # known labels: the caller's list is written as it is
    mixed = [{"name": "c", "value": "x"}, Tag("d", 3, "metric")]
    trace.tag(mixed)
    objects = [Tag("e", 0.25, "metric", "g@1"), Tag("f", "v")]  # checked when made: written as they are
    trace.tag(objects)
    trace.warning("careful")
    trace.info(12)  # not a str: written as its str(), as text_event does
    trace.log("native", rt.Native({"a": [1, 2]}))
    logger.close()
    expected = [
        tags_event("proj", "t-1", tags_to_jcr(known)),
        tags_event("proj", "t-1", tags_to_jcr(known)),
        tags_event("proj", "t-1", tags_to_jcr(mixed)),
        tags_event("proj", "t-1", tags_to_jcr(objects)),
        text_event("proj", "t-1", "warning", "careful"),
        text_event("proj", "t-1", "info", 12),  # type: ignore[arg-type]
        object_event("proj", "t-1", "native", rt.Native({"a": [1, 2]}).to_jcr()),
    ]
    lines = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("raymon-*.ndjson"))).splitlines()
    assert len(lines) == len(expected)
    for line, event in zip(lines, expected, strict=True):
        written = orjson.loads(line)
        event["event_id"], event["ts"] = written["event_id"], written["ts"]  # new ones per call
        assert line == orjson.dumps(event)
        assert validate_event(written) == written  # what the server answers for it: the same event


def test_bad_tags_are_refused_even_when_their_labels_are_known(tmp_path):
    logger = RaymonFileLogger(path=tmp_path, project_id="proj")
    trace = Trace(logger)
    good = {"name": "score", "value": 1.0, "type": "metric", "group": None}
    trace.tag([good])  # its labels are now known: the next lists take the fast check first
    for bad in (math.nan, math.inf, -math.inf, True, None, "x\x00", "y" * 1025, [1], {"a": 1}):
        with pytest.raises(TagError, match="value"):
            trace.tag([good, {**good, "value": bad}])
    with pytest.raises(TagError, match="unknown fields"):
        trace.tag([good, {**good, "extra": 1}])
    with pytest.raises(TagError, match="name"):
        trace.tag([good, {**good, "name": ["score"]}])
    with pytest.raises(TagError, match="group"):
        trace.tag([good, {**good, "group": "bad group "}])
    logger.close()
    assert len(read_events(tmp_path)) == 1  # nothing of a refused list was written


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
