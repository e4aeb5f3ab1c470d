"""Record shapes to wire events: shipper wrappers, the original client's shapes, derived event ids."""

from __future__ import annotations

import uuid

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from raymon.exceptions import WireFormatError
from raymon.server.services.ingest_formats import (
    LEGACY_NAMESPACE,
    UndecodableRecord,
    decode_body,
    record_to_event,
)
from raymon.wire import text_event

PID = "proj"


def legacy_batch(dtype: str, data: object, ref: str | None = None, trace_id: str = "t1") -> dict[str, object]:
    return {
        "dtype": dtype,
        "timestamp": "2021-03-01 10:00:00.5",
        "trace_id": trace_id,
        "project_id": PID,
        "ref": ref,
        "data": data,
    }


def test_a_wire_event_passes_through_normalised() -> None:
    event = text_event(PID, "t", "info", "hi")
    assert record_to_event(event, PID) == event


def test_shipper_fields_next_to_an_event_are_dropped_but_unknown_fields_are_refused() -> None:
    event = text_event(PID, "t", "info", "hi")
    assert record_to_event({**event, "date": 1.5, "@timestamp": "x", "host": {"name": "a"}}, PID) == event
    with pytest.raises(WireFormatError, match="unknown fields"):
        record_to_event({**event, "colour": "red"}, PID)


def test_a_line_under_log_or_message_is_unwrapped() -> None:
    event = text_event(PID, "t", "info", "hi")
    line = orjson.dumps(event).decode()
    assert record_to_event({"log": line, "date": 1.0}, PID) == event
    assert record_to_event({"message": line, "source_type": "file"}, PID) == event
    with pytest.raises(WireFormatError, match="not JSON"):
        record_to_event({"log": "{half"}, PID)


def test_the_original_batch_records_map_to_each_kind() -> None:
    text = record_to_event(legacy_batch("info", "hello"), PID)
    assert (text["kind"], text["level"], text["message"]) == ("text", "info", "hello")
    assert text["ts"] == "2021-03-01T10:00:00.500000+00:00"
    tags = record_to_event(legacy_batch("tags", [{"name": "client", "value": "big", "type": "label"}]), PID)
    assert tags["tags"] == [{"name": "client", "value": "big", "type": "label", "group": None}]
    jcr = {"type": "raymon.types.Native", "params": {"data": 1}}
    data = record_to_event(legacy_batch("data", jcr, ref="input"), PID)
    assert (data["kind"], data["ref"], data["data"]) == ("object", "input", jcr)


def test_the_original_file_lines_and_single_posts_map_too() -> None:
    jcr = {
        "timestamp": "2021-03-01T10:00:00Z",
        "trace_id": "t1",
        "ref": None,
        "data": "hi",
        "project_id": PID,
    }
    assert record_to_event({"type": "info", "jcr": jcr}, PID)["message"] == "hi"
    assert record_to_event(jcr, PID)["kind"] == "text"
    assert record_to_event({**jcr, "data": [{"name": "a", "value": 1}]}, PID)["kind"] == "tags"


def test_legacy_records_are_refused_with_their_reason() -> None:
    with pytest.raises(WireFormatError, match="unknown legacy record type 'video'"):
        record_to_event(legacy_batch("video", "x"), PID)
    with pytest.raises(WireFormatError, match="trace_id"):
        record_to_event(legacy_batch("info", "x", trace_id="has space"), PID)
    with pytest.raises(WireFormatError, match="does not match"):
        record_to_event({**legacy_batch("info", "x"), "project_id": "other"}, PID)
    with pytest.raises(WireFormatError, match="finite number"):
        record_to_event(legacy_batch("tags", [{"name": "a", "value": None}]), PID)


@given(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=50),
    st.floats(allow_nan=False, allow_infinity=False),
    st.permutations(range(6)),
)
def test_a_derived_event_id_depends_on_the_project_and_the_record_not_its_key_order(
    message: str, x: float, order: list[int]
) -> None:
    record = legacy_batch("info", f"{message}{x}")
    keys = list(record)
    shuffled = {keys[i]: record[keys[i]] for i in order}
    first = record_to_event(record, PID)["event_id"]
    assert record_to_event(shuffled, PID)["event_id"] == first
    assert uuid.UUID(first).version == 5
    other = record_to_event(legacy_batch("info", f"{message}{x}!"), PID)["event_id"]
    assert other != first
    unnamed = {k: v for k, v in record.items() if k != "project_id"}  # the URL's project decides
    in_staging = record_to_event(unnamed, "staging")["event_id"]
    assert in_staging != record_to_event(unnamed, "production")["event_id"]
    assert in_staging == record_to_event(unnamed, "staging")["event_id"]


def test_a_derived_event_id_is_uuid5_of_the_project_and_the_canonical_record() -> None:
    record = legacy_batch("info", "hello")
    canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
    expected = uuid.uuid5(LEGACY_NAMESPACE, f"{PID}\n{canonical}")
    assert record_to_event(record, PID)["event_id"] == str(expected)


def test_bodies_split_into_records_keeping_indices_of_bad_lines() -> None:
    assert decode_body(b'{"a": 1}', ndjson=False) == [{"a": 1}]
    assert decode_body(b'[{"a": 1}, 2]', ndjson=False) == [{"a": 1}, 2]
    records = decode_body(b'{"a": 1}\n\nnope\n{"b": 2}\n', ndjson=True)
    assert records[0] == {"a": 1} and records[2] == {"b": 2}
    assert isinstance(records[1], UndecodableRecord) and "line 3" in records[1].reason
    assert decode_body(b'{"a": 1}\n{"b": 2}', ndjson=False) == [{"a": 1}, {"b": 2}]
    with pytest.raises(WireFormatError, match="not JSON"):
        decode_body(b"{nope", ndjson=False)
