"""Every sample payload of docs/shipping.md is accepted by a real server, and re-sending it stores nothing twice."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "shipping.md"
_SAMPLE = re.compile(
    r"<!-- sample: (?P<name>[\w-]+) content-type=(?P<ctype>\S+) accepted=(?P<n>\d+) -->\n```[a-z]*\n(?P<body>.*?)\n```",
    re.S,
)
SAMPLES = [(m["name"], m["ctype"], int(m["n"]), m["body"]) for m in _SAMPLE.finditer(DOC.read_text())]


def test_the_page_has_a_sample_for_every_shipper() -> None:
    names = {name for name, *_ in SAMPLES}
    assert {
        "syslog-ng",
        "fluent-bit-json-parsed",
        "fluent-bit-json-raw",
        "vector-json",
        "logstash-json-batch",
    } <= names


@pytest.mark.parametrize(("name", "content_type", "expected", "body"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_a_documented_sample_is_stored_once(
    server, name: str, content_type: str, expected: int, body: str
) -> None:  # type: ignore[no-untyped-def]
    project_id = f"docs-{uuid.uuid4().hex[:10]}"
    with server.api() as api:
        key = api.project_create(name, project_id=project_id).json()["key"]
    payload = body.replace("my-project", project_id).encode()
    with server.client(key) as client:
        url = f"/api/v1/projects/{project_id}/ingest"
        first = client.post(url, content=payload, headers={"Content-Type": content_type})
        again = client.post(url, content=payload, headers={"Content-Type": content_type})
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": expected, "duplicates": 0, "conflicts": [], "rejected": []}
    assert again.json() == {"accepted": 0, "duplicates": expected, "conflicts": [], "rejected": []}
