"""The one parser of typed times: every form the trace list, dashboards and mute form accept, one error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from raymon.server.services.errors import InvalidInputError
from raymon.server.services.time_text import as_time, parse_time

TEN_UTC = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T10:00Z",
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:00:00+00:00",
        "2026-12-01T11:00:00+01:00",
        "2026-12-01T11:00:00 01:00",  # an unencoded "+" in a URL arrives as a space
        "2026-12-01 10:00",
        "  2026-12-01T10:00  ",
        "2026-12-01T05:00-05:00",
    ],
)
def test_every_accepted_form_is_the_same_instant_in_utc(text: str) -> None:
    moment = parse_time("begin", text)
    assert moment == TEN_UTC and moment is not None and moment.utcoffset() == timedelta(0)


def test_a_naive_time_is_read_in_the_given_zone() -> None:
    assert parse_time("until", "2026-12-01T12:00", timedelta(minutes=120)) == TEN_UTC
    assert parse_time("until", "2026-12-01T12:00+00:00", timedelta(minutes=120)) == TEN_UTC + timedelta(
        hours=2
    )


@pytest.mark.parametrize("text", [None, "", "   "])
def test_blank_is_no_time(text: str | None) -> None:
    assert parse_time("end", text) is None


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "10:00", "2026-12-01T25:00Z", "x" * 500])
def test_anything_else_is_an_error_naming_the_parameter(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_time("begin", text)
    message = str(caught.value)
    assert message.startswith(f"begin: {text[:60]!r} is not a time") and "2026-12-01T10:00Z" in message
    assert len(message) < 200  # a pasted essay is not echoed whole


def test_service_times_read_back() -> None:
    assert as_time("2026-12-01T10:00:00Z") == TEN_UTC
    assert as_time("2026-12-01T10:00:00") == TEN_UTC  # the store's times are UTC
    assert as_time(datetime(2026, 12, 1, 11, tzinfo=UTC) - timedelta(hours=1)) == TEN_UTC
    assert as_time(None) is None and as_time("") is None
