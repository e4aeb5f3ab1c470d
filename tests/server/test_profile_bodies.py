"""Profile bodies the stores cannot hold alike are a 422 naming why, on SQLite and PostgreSQL alike:
non-standard JSON (NaN, Infinity), NUL characters, integers over 64 bits, nesting past 254 levels."""

from __future__ import annotations

from typing import Any

import orjson
import pytest


def post_profile(server, project, body: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    with server.client(project.admin_key) as client:
        return client.post(
            f"/api/v1/projects/{project.project_id}/profiles",
            content=body,
            headers={"Content-Type": content_type},
        )


def fetch_profile(server, project, ref: str) -> Any:  # type: ignore[no-untyped-def]
    with server.client(project.admin_key) as client:
        response = client.get(f"/api/v1/projects/{project.project_id}/profiles/{ref}")
    assert response.status_code == 200, response.text
    return response.json()


def nested(depth: int) -> bytes:
    return b'{"name": "deep", "version": "1", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"name": "p", "version": "1", "mean": NaN}', "not valid JSON (unexpected character"),
        (b'{"name": "p", "version": "1", "mean": Infinity}', "NaN and Infinity are not JSON"),
        (b'{"name": "p", "version": "1", "mean": 1.0', "unexpected end of data: line 1 column 42 (char 41)"),
        (nested(1100), "depth limit exceeded"),
        (nested(300), "profile deep@1 is nested deeper than the 254 levels that can be stored"),
        (
            b'{"name": "p", "version": "1", "n": 18446744073709551616}',
            "the profile holds the integer 18446744073709551616, outside the 64-bit range",
        ),
        (b'{"name": "p", "version": "1", "n": -9223372036854775809}', "the integer -9223372036854775809"),
        (b'{"name": "p", "version": "1", "n": 1' + b"0" * 300 + b"}", "(301 digits)"),
        (
            b'{"name": "p", "version": "1", "params": {"columns": [{"name": "a\\u0000b"}]}}',
            "profile p@1: params.columns[0].name contains a NUL character (U+0000)",
        ),
        (b'{"name": "p", "version": "1", "k\\u0000": 1}', "the key 'k\\x00' contains a NUL character"),
    ],
    ids=[
        "NaN",
        "Infinity",
        "truncated",
        "nested-1100",
        "nested-300",
        "int-2**64",
        "int-below-i64",
        "int-301-digits",
        "NUL-value",
        "NUL-key",
    ],
)
def test_a_profile_the_stores_cannot_hold_is_a_422_naming_the_problem(
    server, body: bytes, expected: str
) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    response = post_profile(server, project, body)
    assert response.status_code == 422, response.text
    assert expected in response.json()["detail"]
    with server.client(project.admin_key) as client:
        assert client.get(f"/api/v1/projects/{project.project_id}/profiles").json() == []


def test_what_looks_like_the_refused_but_is_not_is_stored_as_sent(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    document = {
        "name": "edge",
        "version": "1",
        "largest": 2**64 - 1,
        "smallest": -(2**63),
        "digits": "123456789012345678901234567890",  # a long digit run inside a string
        "escaped": "\\u0000",  # a backslash and 'u0000', not a NUL
        "deep": orjson.loads(b"[" * 250 + b"]" * 250),
    }
    response = post_profile(server, project, orjson.dumps(document))
    assert response.status_code == 201, response.text
    assert fetch_profile(server, project, "edge@1") == document


def test_a_profile_body_that_is_not_json_by_its_content_type_is_a_415(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    response = post_profile(server, project, b'{"name": "p", "version": "1"}', "application/xml")
    assert response.status_code == 415, response.text
    assert post_profile(server, project, b'{"name": "p", "version": "1"}', "").status_code == 201


def test_a_profile_sent_again_with_numbers_jsonb_rewrites_is_the_same_profile(server: Any) -> None:
    """PostgreSQL's jsonb stores 3.9e21 as a 22-digit integer and -3.12e16 as an integer: a re-send is still 200."""
    project = server.new_project()
    body = (
        '{"name": "numbers@1.0", "big": 3.946816705800255e+21, "neg": -3.1205198480020324e+16, '
        '"n": 12, "f": 1.5, "deep": {"x": [1e300, 0.1]}}'
    )
    with server.client(project.admin_key) as client:
        first = client.post(
            f"/api/v1/projects/{project.project_id}/profiles",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        again = client.post(
            f"/api/v1/projects/{project.project_id}/profiles",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        shown = client.get(f"/api/v1/projects/{project.project_id}/profiles/numbers@1.0")
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert shown.status_code == 200, shown.text
    assert shown.json()["big"] == 3.946816705800255e21 and shown.json()["neg"] == -3.1205198480020324e16
