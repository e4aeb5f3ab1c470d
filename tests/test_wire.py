"""The wire format: builders, the server's entry check, and the JSON Schema agree."""

from __future__ import annotations

import copy
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

import raymon.types as rt
from raymon import WireFormatError
from raymon.wire import object_event, tags_event, text_event, validate_event


def good_events() -> list[dict]:
    return [
        text_event("proj", "trace-1", "info", "hello"),
        tags_event("proj", "trace-1", [{"name": "a", "value": 1.5, "type": "metric", "group": None}]),
        object_event("proj", "trace-1", "input", rt.Native({"x": 1}).to_jcr()),
    ]


@pytest.mark.parametrize("event", good_events(), ids=["text", "tags", "object"])
def test_built_events_pass_the_server_check_and_the_schema(event, event_validator):
    event_validator.validate(event)
    assert validate_event(event) == event


def test_timestamps_in_other_offsets_or_z_are_normalised_to_utc():
    event = text_event("proj", "t", "info", "x")
    event["ts"] = "2026-01-02T03:04:05+02:00"
    assert validate_event(event)["ts"] == "2026-01-02T01:04:05.000000+00:00"
    event["ts"] = "2026-01-02T03:04:05Z"
    assert validate_event(event)["ts"] == "2026-01-02T03:04:05.000000+00:00"


BAD = [
    ("v", 2, "v must be 1"),
    ("event_id", "not-a-uuid", "event_id"),
    ("project_id", "", "project_id"),
    ("project_id", "..", "must not start with a dot"),
    ("project_id", ".hidden", "must not start with a dot"),
    ("trace_id", "a b", "trace_id"),
    ("ts", "yesterday", "ts"),
    ("ts", "2026-01-02T03:04:05", "time zone"),
    ("kind", "metric", "kind"),
    ("level", "loud", "level"),
    ("message", 5, "message"),
    ("message", "a\x00b", "NUL"),
    ("extra", 1, "unknown fields"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD, ids=[b[0] + "-" + str(b[1]) for b in BAD])
def test_bad_events_are_refused_naming_the_field_and_the_schema_agrees(
    field, value, message, event_validator
):
    event = text_event("proj", "t", "info", "x")
    event[field] = value
    with pytest.raises(WireFormatError, match=message):
        validate_event(event)
    assert not event_validator.is_valid(event)


def test_bad_tags_and_objects_are_refused(event_validator):
    tags = tags_event("proj", "t", [{"name": "a", "value": 1, "type": "x", "group": None}])
    tags["tags"][0]["value"] = float("nan")
    with pytest.raises(WireFormatError, match="finite"):
        validate_event(tags)
    tags["tags"][0]["value"] = "a\x00b"
    with pytest.raises(WireFormatError, match="NUL"):
        validate_event(tags)
    assert not event_validator.is_valid(tags)
    with pytest.raises(WireFormatError, match="NUL"):
        text_event("proj", "t", "info", "a\x00b")
    tags["tags"] = []
    with pytest.raises(WireFormatError, match="non-empty"):
        validate_event(tags)
    assert not event_validator.is_valid(tags)
    obj = object_event("proj", "t", "ref", {"type": "x", "params": {}})
    obj["data"] = {"no": "type"}
    with pytest.raises(WireFormatError, match="jcr"):
        validate_event(obj)
    assert not event_validator.is_valid(obj)
    with pytest.raises(WireFormatError, match="ref"):
        object_event("proj", "t", "bad;ref", {"type": "x", "params": {}})
    obj["data"] = {"type": "raymon.types.Na\x00tive", "params": {"data": "a\x00b"}}
    with pytest.raises(WireFormatError, match="data.type contains a NUL"):
        validate_event(obj)
    assert not event_validator.is_valid(obj)
    obj["data"]["type"] = "raymon.types.Native"  # a NUL inside params is JSON text: kept
    assert validate_event(obj)["data"] == obj["data"] and event_validator.is_valid(obj)


def test_validation_does_not_change_the_input():
    event = good_events()[1]
    before = copy.deepcopy(event)
    validate_event(event)
    assert event == before


@given(
    trace_id=st.from_regex(r"[A-Za-z0-9_\-.:@]{1,128}", fullmatch=True),
    message=st.text(st.characters(exclude_characters="\x00"), max_size=200),  # NUL: refused, see BAD
    level=st.sampled_from(["debug", "info", "warning", "error"]),
)
def test_any_text_event_the_client_builds_is_accepted(trace_id, message, level, event_validator):
    event = text_event("proj", trace_id, level, message)
    event_validator.validate(event)
    assert validate_event(event)["message"] == message
    assert uuid.UUID(event["event_id"]).version == 4
