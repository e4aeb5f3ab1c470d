import threading
import uuid

import pytest

import raymon.types as rt
from raymon import DataTypeError, DuplicateRefError, Trace, WireFormatError
from raymon.loggers import RaymonLoggerBase


class ListLogger(RaymonLoggerBase):
    """Keeps events in memory: a user's own logger, as the docs say users may write."""

    def __init__(self) -> None:
        super().__init__(project_id="proj")
        self.events: list[dict] = []
        self._lock = threading.Lock()

    def emit(self, event):
        with self._lock:
            self.events.append(event)


def test_trace_id_defaults_to_a_uuid4_and_can_be_given():
    logger = ListLogger()
    trace = Trace(logger)
    assert uuid.UUID(trace.trace_id).version == 4
    assert Trace(logger, trace_id="abc-123").trace_id == "abc-123"


def test_another_service_continues_the_same_trace_by_passing_its_id():
    a, b = ListLogger(), ListLogger()
    first = Trace(a)
    first.info("service A")
    second = Trace(b, trace_id=first.trace_id)
    second.info("service B")
    assert a.events[0]["trace_id"] == b.events[0]["trace_id"] == first.trace_id


def test_bad_trace_id_is_refused():
    with pytest.raises(WireFormatError, match="trace_id"):
        Trace(ListLogger(), trace_id="has spaces and ;")


def test_text_levels_are_logged():
    logger = ListLogger()
    trace = Trace(logger)
    trace.debug("d")
    trace.info("i")
    trace.warning("w")
    trace.error("e")
    assert [(e["kind"], e["level"], e["message"]) for e in logger.events] == [
        ("text", "debug", "d"),
        ("text", "info", "i"),
        ("text", "warning", "w"),
        ("text", "error", "e"),
    ]


def test_logging_the_same_ref_twice_on_a_trace_raises_and_keeps_the_first():
    logger = ListLogger()
    trace = Trace(logger)
    trace.log("x", rt.Native({"a": 1}))
    with pytest.raises(DuplicateRefError, match="'x'"):
        trace.log("x", rt.Native({"a": 2}))
    assert len(logger.events) == 1 and logger.events[0]["data"]["params"]["data"] == {"a": 1}


def test_a_ref_that_failed_to_log_can_be_logged_again():
    logger = ListLogger()
    trace = Trace(logger)
    with pytest.raises(DataTypeError, match="JSON-native"):
        trace.log("x", rt.Native({"a": object()}))
    trace.log("x", rt.Native({"a": 1}))
    assert len(logger.events) == 1


def test_log_refuses_data_that_is_not_a_wrapper():
    with pytest.raises(DataTypeError, match="raymon.types wrapper"):
        Trace(ListLogger()).log("x", {"a": 1})  # type: ignore[arg-type]


def test_many_threads_logging_refs_on_one_trace_never_log_a_ref_twice():
    logger = ListLogger()
    trace = Trace(logger)
    errors: list[Exception] = []

    def work(i: int) -> None:
        for j in range(50):
            try:
                trace.log(f"ref-{j}", rt.Native(i))
            except DuplicateRefError as exc:
                errors.append(exc)
            trace.tag([{"name": "thread", "value": i, "type": "label"}])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    objects = [e for e in logger.events if e["kind"] == "object"]
    assert sorted(e["ref"] for e in objects) == sorted(f"ref-{j}" for j in range(50))
    assert len(errors) == 8 * 50 - 50
    assert sum(e["kind"] == "tags" for e in logger.events) == 8 * 50
